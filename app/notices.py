"""What each change tells whom. Called inside the seats module's transaction.

Each notice becomes one outbox message with a dedupe key that names the change,
so the same notice can never be queued twice.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from . import clock, outbox
from .extensions import db
from .models import SEATED, Event, OutboxMessage, Registration, Role, User


def _key(kind: str, registration: Registration, *extra) -> str:
    parts = [kind, str(registration.id), *(str(e) for e in extra)]
    return ":".join(parts)


def registration_created(registration: Registration, position: int | None = None) -> None:
    """The first mail of a registration made in this transaction (``position``: its place
    on the waitlist, known to the caller)."""
    kind = {
        "confirmed": "confirmation",
        "waitlisted": "waitlisted",
        "interested": "interest_received",
    }[registration.status.value]
    # The key names a registration made in this transaction: nothing can have it yet.
    outbox.enqueue_for_registration(
        kind, registration, _key(kind, registration), position=position, new_key=True
    )


def already_registered(registration: Registration) -> None:
    # One reminder of the link per hour at most, however often the form is sent.
    hour = clock.now().strftime("%Y%m%d%H")
    outbox.enqueue_for_registration(
        "already_registered", registration, _key("already", registration, hour)
    )


def promoted(registration: Registration) -> None:
    outbox.enqueue_for_registration(
        "promoted", registration, _key("promoted", registration, registration.status_changed_at.timestamp())
    )


def _had_calendar(registration: Registration) -> bool:
    """Was this person ever sent a calendar entry (so there is one to cancel)?"""
    return (
        db.session.scalar(
            sa.select(OutboxMessage.id)
            .where(
                OutboxMessage.registration_id == registration.id,
                OutboxMessage.kind.in_(["confirmation", "promoted"]),
            )
            .limit(1)
        )
        is not None
    )


def registration_cancelled(registration: Registration) -> None:
    outbox.enqueue_for_registration(
        "cancelled",
        registration,
        _key("cancelled", registration),
        calendar="CANCEL" if _had_calendar(registration) else None,
    )


def event_cancelled(registration: Registration, message: str) -> None:
    outbox.enqueue_for_registration(
        "event_cancelled",
        registration,
        _key("event_cancelled", registration),
        calendar="CANCEL" if _had_calendar(registration) else None,
        message=message,
    )


def lecture_confirmed(registration: Registration) -> None:
    kind = "confirmation" if registration.status.value == "confirmed" else "waitlisted"
    outbox.enqueue_for_registration(kind, registration, _key(kind, registration, "gauged"))


def event_changed(registration: Registration, changes: list) -> None:
    """Tell one affected person (confirmed, waitlisted or interested) what changed.

    The caller raises ``event.ics_sequence`` first when time or venue changed, so
    the attached calendar file replaces the old entry. ``changes`` lists what
    changed, each item either a ready sentence (str) or a dict rendered in the
    recipient's language: ``{"what": "time", "session": 1, "old": (start, end),
    "new": (start, end)}``, ``{"what": "venue", "session": 1, "old": str | None,
    "new": str | None}`` or ``{"what": "title", "old": str, "new": str}``
    ("session" is the 1-based session number, or None for a one-session event).
    Only people with a seat get the updated calendar file.
    """
    event = registration.event
    digest = hashlib.sha256(repr(changes).encode()).hexdigest()[:12]
    outbox.enqueue_for_registration(
        "event_changed",
        registration,
        _key("changed", registration, event.ics_sequence, digest),
        calendar="REQUEST" if registration.status in SEATED else None,
        changes=changes,
    )


def reminder_key(registration: Registration, label: str) -> str:
    return _key("reminder", registration, label)


def reminder(registration: Registration, label: str) -> bool:
    """Queue a reminder; ``label`` names the round (e.g. "scheduled" or a timestamp)."""
    return outbox.enqueue_for_registration(
        "reminder", registration, reminder_key(registration, label)
    )


def _to_address(kind: str, address: str, event: Event, dedupe_key: str, **extra) -> bool:
    context = {
        "user": None,
        "event": event,
        "sessions": list(event.sessions),
        "event_url": outbox.event_url(event),
        "contact_email": None,
        **extra,
    }
    return outbox.enqueue(
        kind=kind,
        recipient=address,
        locale=event.language or "sv",
        dedupe_key=dedupe_key,
        context=context,
        event=event,
    )


def _organiser_address(event: Event) -> str | None:
    if event.organiser is not None and event.organiser.active:
        return event.organiser.email
    return event.contact_email


def threshold_reached(event: Event) -> None:
    """The organiser is always told; active coordinators too if the event says so."""
    address = _organiser_address(event)
    if address:
        _to_address(
            "threshold_reached", address, event, f"threshold:{event.id}:organiser"
        )
    if not event.notify_coordinators_on_threshold:
        return
    coordinators = db.session.scalars(
        sa.select(User).where(User.role == Role.COORDINATOR, User.active.is_(True))
    )
    for user in coordinators:
        if user.email != address:
            outbox.enqueue_for_staff(
                "threshold_reached", user, event, f"threshold:{event.id}:{user.id}"
            )


def interest_deadline_passed(event: Event, total: int, by_organisation: list[tuple[str, int]]) -> bool:
    """One mail to the organiser with the figures when the deadline passes undecided."""
    address = _organiser_address(event)
    if not address:
        return False
    return _to_address(
        "interest_deadline",
        address,
        event,
        f"deadline:{event.id}",
        total=total,
        by_organisation=by_organisation,
    )
