"""Creating and editing events: the event's own fields and sessions, in one transaction.

Never touches a registration's status directly: a capacity change goes through
``registrations.seats.change_capacity`` inside the edit's own transaction (which also
promotes into new seats), so an edit refused at any step leaves everything as it was.

Changing time or venue tells everyone affected (confirmed, waitlisted and
interested) and raises ``ics_sequence`` so calendars replace the old entry.
Because that mails people, ``update_event`` refuses to do it unless the caller
says the organiser has seen who will be told (``notify_confirmed``); without it
it raises ``NeedsConfirmation`` carrying the list, and nothing is saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..audit import entries as audit
from ..core.database import write_transaction
from ..core.errors import Refused
from ..core.extensions import db
from ..core.i18n import in_language
from ..models import Event, EventKind, EventSession, EventStatus, Registration, RegistrationStatus
from ..registrations import notices, seats
from ..registrations.locking import lock_event
from ..registrations.statuses import AFFECTED
from .schedule import (
    SessionData,
    same_minutes,
    schedule_changes,
    sorted_sessions,
    whole_minute,
    with_title,
)

S = RegistrationStatus

# Plain fields copied from EventData to Event (capacity and sessions are handled apart).
FIELDS = (
    "kind",
    "title",
    "description",
    "what_to_bring",
    "language",
    "waitlist_enabled",
    "registration_opens_at",
    "registration_closes_at",
    "contact_email",
    "interest_threshold",
    "interest_deadline",
    "notify_coordinators_on_threshold",
    "organising_organisation_id",
    "audience",
    "fee_sek",
)


@dataclass(frozen=True)
class EventData:
    kind: EventKind
    title: str
    sessions: tuple[SessionData, ...]
    capacity: int
    description: str = ""
    what_to_bring: str = ""
    language: str = "sv"
    waitlist_enabled: bool = True
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    contact_email: str | None = None
    interest_threshold: int | None = None
    interest_deadline: datetime | None = None
    notify_coordinators_on_threshold: bool = True
    organising_organisation_id: int | None = None
    audience: str = ""
    fee_sek: int | None = None  # None or 0: free of charge


@dataclass(frozen=True)
class ChangePlan:
    """What an edit of time or venue would tell, and to whom."""

    #: As given to ``notices.event_changed``; ``describe(plan.changes)`` for display.
    changes: list
    people: list[Registration] = field(default_factory=list)

    def count(self, *statuses: S) -> int:
        return sum(1 for r in self.people if r.status in statuses)


class NeedsConfirmation(Exception):
    def __init__(self, plan: ChangePlan):
        super().__init__("confirmation needed")
        self.plan = plan


@dataclass(frozen=True)
class UpdateResult:
    event: Event
    notified: int
    promoted: list[Registration]


# --- helpers ------------------------------------------------------------------


def _check(data: EventData) -> None:
    """Rules a form cannot express field by field."""
    if not data.title.strip():
        raise Refused(_l("Give the event a title."), field="title")
    if not data.sessions:
        raise Refused(_l("An event needs at least one session."), field="sessions")
    for s in data.sessions:
        if s.ends_at <= s.starts_at:
            raise Refused(_l("Every session must end after it starts."), field="sessions")
    if data.capacity < 0:
        raise Refused(_l("Capacity cannot be negative."), field="capacity")
    opens, closes = data.registration_opens_at, data.registration_closes_at
    if opens and closes and closes <= opens:
        raise Refused(
            _l("Registration must close after it opens."), field="registration_closes_at"
        )
    if data.interest_threshold is not None and data.interest_threshold < 1:
        raise Refused(_l("The threshold must be at least 1."), field="interest_threshold")


def _check_editable(event: Event) -> None:
    if event.status == EventStatus.CANCELLED:
        raise Refused(_l("A cancelled event can no longer be changed."))
    if event.phase() == EventStatus.FINISHED:
        raise Refused(_l("This event is over and can no longer be changed."))


def affected_registrations(event_id: int) -> list[Registration]:
    """Everyone a change of time or venue concerns, in registration order."""
    return list(
        db.session.scalars(
            sa.select(Registration)
            .where(Registration.event_id == event_id, Registration.status.in_(AFFECTED))
            .order_by(Registration.created_at, Registration.id)
            .execution_options(populate_existing=True)
        )
    )


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + "…"
    return value.value if hasattr(value, "value") else value


def _sessions_json(sessions: list[SessionData]) -> list[dict]:
    return [
        {
            "starts_at": s.starts_at.isoformat(),
            "ends_at": s.ends_at.isoformat(),
            "venue": s.venue,
            "address": s.address,
        }
        for s in sessions
    ]


def _apply_sessions(event: Event, sessions: list[SessionData]) -> None:
    """Update sessions in place (ids stay stable), add new ones, drop the surplus."""
    existing = sorted(event.sessions, key=lambda s: (s.starts_at, s.ends_at))
    kept: list[EventSession] = []
    for index, data in enumerate(sessions):
        if index < len(existing):
            row = existing[index]
            row.starts_at, row.ends_at = data.starts_at, data.ends_at
            row.venue, row.address = data.venue, data.address
        else:
            row = EventSession(
                starts_at=data.starts_at, ends_at=data.ends_at, venue=data.venue, address=data.address
            )
        kept.append(row)
    event.sessions = kept


# --- services -----------------------------------------------------------------


def create_event(data: EventData, user_id: int) -> Event:
    """A new event, as a draft nobody else sees yet."""
    _check(data)

    def work() -> Event:
        event = Event(
            status=EventStatus.DRAFT,
            capacity=data.capacity,
            organiser_id=user_id,
            **{name: getattr(data, name) for name in FIELDS},
        )
        _apply_sessions(event, sorted_sessions(data.sessions))
        db.session.add(event)
        db.session.flush()
        audit.record(
            user_id,
            "event.create",
            event,
            {"title": event.title, "kind": event.kind.value, "capacity": event.capacity},
        )
        return event

    return write_transaction(work)


def _plan(event: Event, data: EventData) -> ChangePlan:
    changes = with_title(
        schedule_changes(sorted_sessions(event.sessions), sorted_sessions(data.sessions)),
        event.title,
        data.title,
    )
    if not changes or event.status == EventStatus.DRAFT:
        return ChangePlan(changes)
    return ChangePlan(changes, affected_registrations(event.id))


def update_event(
    event_id: int, data: EventData, user_id: int, *, notify_confirmed: bool = False
) -> UpdateResult:
    """Save an edit in one write transaction under the event lock.

    Capacity first (``seats.change_capacity``: refused below the seats taken, promotes at
    once), then the fields and sessions; a change of time or venue bumps ``ics_sequence``
    and queues "event changed" for everyone affected. A refusal at any step, including
    ``NeedsConfirmation``, rolls the whole edit back.
    """
    _check(data)

    def work() -> UpdateResult:
        event = lock_event(event_id)
        _check_editable(event)
        plan = _plan(event, data)
        promoted: list[Registration] = []
        if data.capacity != event.capacity:
            promoted = seats.change_capacity(event, data.capacity, user_id)
        old_sessions = sorted_sessions(event.sessions)
        new_sessions = sorted_sessions(data.sessions)
        changed = {
            name: {"from": _plain(getattr(event, name)), "to": _plain(getattr(data, name))}
            for name in FIELDS
            if whole_minute(getattr(event, name)) != whole_minute(getattr(data, name))
        }
        for name in changed:
            setattr(event, name, getattr(data, name))
        if plan.people and not notify_confirmed:
            raise NeedsConfirmation(plan)
        schedule_changed = [(same_minutes(s), s.place) for s in old_sessions] != [
            (same_minutes(s), s.place) for s in new_sessions
        ]
        notified = 0
        if schedule_changed:
            _apply_sessions(event, new_sessions)
            event.ics_sequence += 1
            db.session.flush()
            if event.status != EventStatus.DRAFT:
                old_title = changed.get("title", {}).get("from", event.title)
                notified = _tell_everyone(event, old_title, old_sessions, new_sessions)
        if changed or schedule_changed:
            details: dict = {"fields": changed}
            if schedule_changed:
                details["sessions"] = {
                    "from": _sessions_json(old_sessions),
                    "to": _sessions_json(new_sessions),
                }
                details["ics_sequence"] = event.ics_sequence
                details["notified"] = notified
            audit.record(user_id, "event.update", event, details)
        return UpdateResult(event, notified, promoted)

    return write_transaction(work)


def _tell_everyone(
    event: Event, old_title: str, old: list[SessionData], new: list[SessionData]
) -> int:
    by_locale: dict[str, list] = {}
    people = affected_registrations(event.id)
    for registration in people:
        if registration.locale not in by_locale:
            with in_language(registration.locale):
                by_locale[registration.locale] = with_title(
                    schedule_changes(old, new), old_title, event.title
                )
        notices.event_changed(registration, by_locale[registration.locale])
    return len(people)
