"""Organisers' event service: create, edit, publish, gauge, close and reopen events.

This module edits events and their sessions; it never touches a registration's
status (that is ``app.seats``, which also owns capacity changes, confirming a
gauged event and cancelling one). Every function runs one write transaction
that locks the event row, writes the change, queues any mail and records the
audit entry together.

Changing time or venue tells everyone affected (confirmed, waitlisted and
interested) and raises ``ics_sequence`` so calendars replace the old entry.
Because that mails people, ``update_event`` refuses to do it unless the caller
says the organiser has seen who will be told (``notify_confirmed``); without it
it raises ``NeedsConfirmation`` carrying the list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from . import audit, clock, notices, outbox, seats
from .database import write_transaction
from .extensions import db
from .i18n import format_moment, format_span
from .models import Event, EventKind, EventSession, EventStatus, Registration, RegistrationStatus

S = RegistrationStatus
#: Who is told when time or venue changes: everyone with an active registration.
AFFECTED = (S.CONFIRMED, S.ATTENDED, S.NO_SHOW, S.WAITLISTED, S.INTERESTED)

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
)


class EventError(seats.SeatsError):
    """A refused edit, with a message for the organiser and the form field it concerns."""


@dataclass(frozen=True)
class SessionData:
    starts_at: datetime
    ends_at: datetime
    venue: str | None  # None: to be decided


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
        raise EventError(_l("Give the event a title."), field="title")
    if not data.sessions:
        raise EventError(_l("An event needs at least one session."), field="sessions")
    for s in data.sessions:
        if s.ends_at <= s.starts_at:
            raise EventError(_l("Every session must end after it starts."), field="sessions")
    if data.capacity < 0:
        raise EventError(_l("Capacity cannot be negative."), field="capacity")
    opens, closes = data.registration_opens_at, data.registration_closes_at
    if opens and closes and closes <= opens:
        raise EventError(
            _l("Registration must close after it opens."), field="registration_closes_at"
        )
    if data.interest_threshold is not None and data.interest_threshold < 1:
        raise EventError(_l("The threshold must be at least 1."), field="interest_threshold")


def _check_editable(event: Event) -> None:
    if event.status == EventStatus.CANCELLED:
        raise EventError(_l("A cancelled event can no longer be changed."))
    if event.phase() == EventStatus.FINISHED:
        raise EventError(_l("This event is over and can no longer be changed."))


def _sorted(sessions) -> list[SessionData]:
    return sorted(
        (SessionData(s.starts_at, s.ends_at, s.venue or None) for s in sessions),
        key=lambda s: (s.starts_at, s.ends_at),
    )


def _minute(value):
    """Forms work in whole minutes; stored times may carry seconds (made in code)."""
    if isinstance(value, datetime):
        return value.replace(second=0, microsecond=0)
    return value


def _when(s: SessionData) -> tuple:
    return (_minute(s.starts_at), _minute(s.ends_at))


def _venue(venue: str | None) -> str:
    return venue or _("venue to be decided")


def schedule_changes(old: list[SessionData], new: list[SessionData]) -> list:
    """What changed in time and venue, for ``notices.event_changed``.

    Sessions whose time is unchanged are matched first, the rest in order; a time or
    venue change is a dict the mail renders in each recipient's language, an added
    or dropped session a sentence in the current locale.
    """
    pairs: list[tuple[int, int]] = []
    old_left, new_left = list(range(len(old))), list(range(len(new)))
    for i in list(old_left):
        match = next((j for j in new_left if _when(new[j]) == _when(old[i])), None)
        if match is not None:
            pairs.append((i, match))
            old_left.remove(i)
            new_left.remove(match)
    pairs += list(zip(old_left, new_left, strict=False))
    added = new_left[len(old_left):]
    dropped = old_left[len(new_left):]
    single = len(old) == 1 and len(new) == 1

    changes: list = []
    for i, j in sorted(pairs, key=lambda p: p[1]):
        before, after = old[i], new[j]
        session = None if single else j + 1
        if _when(before) != _when(after):
            changes.append(
                {
                    "what": "time",
                    "session": session,
                    "old": (before.starts_at, before.ends_at),
                    "new": (after.starts_at, after.ends_at),
                }
            )
        if before.venue != after.venue:
            changes.append(
                {"what": "venue", "session": session, "old": before.venue, "new": after.venue}
            )
    for j in added:
        s = new[j]
        changes.append(
            _(
                "New session %(number)d: %(when)s, %(venue)s.",
                number=j + 1,
                when=format_span(s.starts_at, s.ends_at),
                venue=_venue(s.venue),
            )
        )
    for i in dropped:
        s = old[i]
        changes.append(
            _(
                "The session %(when)s, %(venue)s, is cancelled.",
                when=format_span(s.starts_at, s.ends_at),
                venue=_venue(s.venue),
            )
        )
    return changes


def describe(changes: list) -> list[str]:
    """The changes as sentences in the current locale (for the organiser's confirm page)."""
    return [outbox.describe_change(change) for change in changes]


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
        {"starts_at": s.starts_at.isoformat(), "ends_at": s.ends_at.isoformat(), "venue": s.venue}
        for s in sessions
    ]


def _apply_sessions(event: Event, sessions: list[SessionData]) -> None:
    """Update sessions in place (ids stay stable), add new ones, drop the surplus."""
    existing = sorted(event.sessions, key=lambda s: (s.starts_at, s.ends_at))
    kept: list[EventSession] = []
    for index, data in enumerate(sessions):
        if index < len(existing):
            row = existing[index]
            row.starts_at, row.ends_at, row.venue = data.starts_at, data.ends_at, data.venue
        else:
            row = EventSession(starts_at=data.starts_at, ends_at=data.ends_at, venue=data.venue)
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
        _apply_sessions(event, _sorted(data.sessions))
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


def plan_update(event_id: int, data: EventData) -> ChangePlan:
    """Read-only: the time/venue changes an edit would announce and who would be told."""
    event = db.session.get(Event, event_id)
    if event is None:
        raise seats.NotFound(_l("There is no such event."))
    changes = _with_title(
        schedule_changes(_sorted(event.sessions), _sorted(data.sessions)), event.title, data.title
    )
    if not changes or event.status == EventStatus.DRAFT:
        return ChangePlan(changes)
    return ChangePlan(changes, affected_registrations(event.id))


def update_event(
    event_id: int, data: EventData, user_id: int, *, notify_confirmed: bool = False
) -> UpdateResult:
    """Save an edit. Capacity goes through ``seats.set_capacity`` (refused below the seats
    taken, promotes at once); a change of time or venue bumps ``ics_sequence`` and queues
    "event changed" for everyone affected, in the same transaction as the edit.
    """
    _check(data)
    current = db.session.get(Event, event_id)
    if current is None:
        raise seats.NotFound(_l("There is no such event."))
    _check_editable(current)
    plan = plan_update(event_id, data)
    if plan.people and not notify_confirmed:
        raise NeedsConfirmation(plan)

    # Capacity first, in its own transaction: if it is refused nothing else is saved.
    promoted: list[Registration] = []
    if data.capacity != current.capacity:
        try:
            promoted = seats.set_capacity(event_id, data.capacity, user_id)
        except seats.NotFound:
            raise
        except seats.SeatsError as error:
            raise EventError(error.message, field=error.field or "capacity") from error

    def work() -> UpdateResult:
        event = seats.lock_event(event_id)
        _check_editable(event)
        old_sessions = _sorted(event.sessions)
        new_sessions = _sorted(data.sessions)
        changed = {
            name: {"from": _plain(getattr(event, name)), "to": _plain(getattr(data, name))}
            for name in FIELDS
            if _minute(getattr(event, name)) != _minute(getattr(data, name))
        }
        for name in changed:
            setattr(event, name, getattr(data, name))
        schedule_changed = [(_when(s), s.venue) for s in old_sessions] != [
            (_when(s), s.venue) for s in new_sessions
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


def _with_title(changes: list, old_title: str, new_title: str) -> list:
    """A new title is worth telling only along with a change of time or venue."""
    if changes and old_title != new_title:
        return [*changes, {"what": "title", "old": old_title, "new": new_title}]
    return changes


def _tell_everyone(
    event: Event, old_title: str, old: list[SessionData], new: list[SessionData]
) -> int:
    by_locale: dict[str, list] = {}
    people = affected_registrations(event.id)
    for registration in people:
        if registration.locale not in by_locale:
            with force_locale(registration.locale):
                by_locale[registration.locale] = _with_title(
                    schedule_changes(old, new), old_title, event.title
                )
        notices.event_changed(registration, by_locale[registration.locale])
    return len(people)


def _transition(event_id: int, user_id: int, action: str, check, target: EventStatus) -> Event:
    def work() -> Event:
        event = seats.lock_event(event_id)
        details = check(event) or {}
        previous = event.status
        event.status = target
        audit.record(user_id, action, event, {"from": previous.value, **details})
        return event

    return write_transaction(work)


def _check_publishable(event: Event) -> None:
    if event.status != EventStatus.DRAFT:
        raise EventError(_l("Only a draft can be published."))
    if not event.sessions:
        raise EventError(_l("Add at least one session before publishing."))
    if event.ends_at <= clock.now():
        raise EventError(_l("The event has already taken place; change its dates first."))
    if event.capacity < 1:
        raise EventError(_l("Set a capacity of at least 1 before publishing."))


def publish(event_id: int, user_id: int) -> Event:
    """Draft → open: the event is listed and takes sign-ups (from its opening time)."""
    return _transition(event_id, user_id, "event.publish", _check_publishable, EventStatus.OPEN)


def publish_gauging(event_id: int, user_id: int) -> Event:
    """Draft → gauging: the event is listed and people register interest."""

    def check(event: Event) -> dict:
        _check_publishable(event)
        if not event.interest_threshold:
            raise EventError(_l("Set an interest threshold before gauging interest."))
        if not event.interest_deadline or event.interest_deadline <= clock.now():
            raise EventError(_l("Set an interest deadline in the future before gauging interest."))
        if event.interest_deadline >= event.starts_at:
            raise EventError(_l("The interest deadline must come before the event starts."))
        return {
            "interest_threshold": event.interest_threshold,
            "interest_deadline": event.interest_deadline.isoformat(),
        }

    return _transition(event_id, user_id, "event.gauge", check, EventStatus.GAUGING)


def close(event_id: int, user_id: int) -> Event:
    """Open → closed: no more sign-ups; cancellations still pass seats on to the waitlist."""

    def check(event: Event) -> None:
        if event.phase() != EventStatus.OPEN:
            raise EventError(_l("Only an open event can be closed."))

    return _transition(event_id, user_id, "event.close", check, EventStatus.CLOSED)


def reopen(event_id: int, user_id: int) -> Event:
    """Closed → open again, if the registration window has not passed."""

    def check(event: Event) -> None:
        if event.status != EventStatus.CLOSED or event.phase() == EventStatus.FINISHED:
            raise EventError(_l("Only a closed event can be reopened."))
        closes = event.registration_closes_at
        if closes and closes <= clock.now():
            raise EventError(
                _l(
                    "Registration closed %(when)s. Move the closing time forward first.",
                    when=format_moment(closes),
                )
            )

    return _transition(event_id, user_id, "event.reopen", check, EventStatus.OPEN)
