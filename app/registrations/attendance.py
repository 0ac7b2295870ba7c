"""Who attended which session: read from the per-session check-ins (``SessionAttendance``).

The rule this module owns, "attended" by the check-in rule: a person attended a session
when they were checked in at it; **an event where nobody was ever checked in** (the
organiser did not use check-in) counts everyone with a seat (confirmed or attended; not
"did not attend") as attending every session. Certificates and evaluations read the share
of sessions a person attended from here (``attendance_share``); the check-in page and the
printed list read who is checked in at a session and which session is today's.

Nothing here writes: checking in is a status matter (``seats.set_attendance``,
``seats.add_walk_in``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from ..core import clock
from ..core.extensions import db
from ..models import Event, EventSession, Registration, RegistrationStatus, SessionAttendance

S = RegistrationStatus

#: Seated statuses that count as present at every session of an event without check-in.
PRESENT_WITHOUT_CHECK_IN = (S.CONFIRMED, S.ATTENDED)


def event_had_check_in(event_id: int) -> bool:
    """Whether anyone was ever checked in at any session of the event."""
    return bool(_events_with_check_in([event_id]))


def _events_with_check_in(event_ids: Iterable[int]) -> set[int]:
    event_ids = list(set(event_ids))
    if not event_ids:
        return set()
    return set(
        db.session.scalars(
            sa.select(EventSession.event_id)
            .where(
                EventSession.event_id.in_(event_ids),
                sa.exists().where(SessionAttendance.session_id == EventSession.id),
            )
            .distinct()
        )
    )


def _session_counts(event_ids: Iterable[int]) -> dict[int, int]:
    event_ids = list(set(event_ids))
    if not event_ids:
        return {}
    rows = db.session.execute(
        sa.select(EventSession.event_id, sa.func.count(EventSession.id))
        .where(EventSession.event_id.in_(event_ids))
        .group_by(EventSession.event_id)
    )
    return {event_id: int(n) for event_id, n in rows}


def _attended_with_sessions(registration_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """{registration id: (sessions attended by the check-in rule, sessions of its event)},
    in four statements whatever the number of registrations."""
    ids = sorted(set(registration_ids))
    if not ids:
        return {}
    registrations = db.session.execute(
        sa.select(Registration.id, Registration.event_id, Registration.status).where(
            Registration.id.in_(ids)
        )
    ).all()
    event_ids = {row.event_id for row in registrations}
    sessions = _session_counts(event_ids)
    checked = _events_with_check_in(event_ids)
    rows = dict(
        db.session.execute(
            sa.select(SessionAttendance.registration_id, sa.func.count())
            .where(SessionAttendance.registration_id.in_(ids))
            .group_by(SessionAttendance.registration_id)
        ).all()
    )
    result: dict[int, tuple[int, int]] = {}
    for registration_id, event_id, status in registrations:
        total = sessions.get(event_id, 0)
        if event_id in checked:
            attended = int(rows.get(registration_id, 0))
        else:
            attended = total if status in PRESENT_WITHOUT_CHECK_IN else 0
        result[registration_id] = (min(attended, total), total)
    return result


def attended_sessions(registration_ids: Iterable[int]) -> dict[int, int]:
    """{registration id: how many sessions they attended}, by the check-in rule (an event
    without any check-in: every session for everyone with a seat). Unknown ids are left
    out."""
    return {rid: attended for rid, (attended, _) in _attended_with_sessions(registration_ids).items()}


def attendance_shares(registration_ids: Iterable[int]) -> dict[int, float]:
    """{registration id: the share of its event's sessions attended, 0.0 to 1.0}, for
    many registrations at once (an event without sessions: 0.0)."""
    return {
        rid: (attended / total if total else 0.0)
        for rid, (attended, total) in _attended_with_sessions(registration_ids).items()
    }


def attendance_share(registration: Registration) -> float:
    """The share of its event's sessions this registration attended (0.0 to 1.0), by the
    check-in rule; 1.0 is every session."""
    return attendance_shares([registration.id]).get(registration.id, 0.0)


# --- for the check-in page and the printed list ---------------------------------------


def checked_in_at_session(session_id: int) -> dict[int, datetime]:
    """{registration id: when checked in} for everyone checked in at the session."""
    return dict(
        db.session.execute(
            sa.select(SessionAttendance.registration_id, SessionAttendance.checked_in_at).where(
                SessionAttendance.session_id == session_id
            )
        ).all()
    )


def count_at_session(session_id: int) -> int:
    """How many people with a seat are checked in at the session."""
    return int(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(SessionAttendance)
            .join(Registration, Registration.id == SessionAttendance.registration_id)
            .where(SessionAttendance.session_id == session_id, Registration.status == S.ATTENDED)
        )
        or 0
    )


def sessions_checked_in(registration_id: int) -> set[int]:
    """The ids of the sessions this registration was checked in at."""
    return set(
        db.session.scalars(
            sa.select(SessionAttendance.session_id).where(
                SessionAttendance.registration_id == registration_id
            )
        )
    )


def default_session(event: Event, at: datetime | None = None) -> EventSession | None:
    """The session the check-in page opens on: today's (Stockholm time; of several today,
    the first not yet over), else the next one to come, else the last one held."""
    sessions = sorted(event.sessions, key=lambda s: (s.starts_at, s.id))
    if not sessions:
        return None
    at = at or clock.now()
    today = clock.local(at).date()
    todays = [s for s in sessions if clock.local(s.starts_at).date() == today]
    if todays:
        return next((s for s in todays if s.ends_at > at), todays[-1])
    return next((s for s in sessions if s.starts_at > at), sessions[-1])


def session_of(event: Event, session_id: int | None) -> EventSession | None:
    """The event's session with this id (None when it is not one of the event's)."""
    return next((s for s in event.sessions if s.id == session_id), None)


def held_today(session: EventSession, at: datetime | None = None) -> bool:
    """Whether the session starts today, Stockholm time."""
    return clock.local(session.starts_at).date() == clock.local(at or clock.now()).date()
