"""What each change tells whom. Called inside the seats module's transaction.

Each notice becomes one outbox message with a dedupe key that names the change,
so the same notice can never be queued twice.
"""

from __future__ import annotations

import sqlalchemy as sa

from . import clock, outbox
from .extensions import db
from .models import Event, Registration, Role, User


def _key(kind: str, registration: Registration, *extra) -> str:
    parts = [kind, str(registration.id), *(str(e) for e in extra)]
    return ":".join(parts)


def registration_created(registration: Registration) -> None:
    kind = {
        "confirmed": "confirmation",
        "waitlisted": "waitlisted",
        "interested": "interest_received",
    }[registration.status.value]
    outbox.enqueue_for_registration(kind, registration, _key(kind, registration))


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


def registration_cancelled(registration: Registration) -> None:
    outbox.enqueue_for_registration("cancelled", registration, _key("cancelled", registration))


def event_cancelled(registration: Registration, message: str) -> None:
    outbox.enqueue_for_registration(
        "event_cancelled", registration, _key("event_cancelled", registration), message=message
    )


def lecture_confirmed(registration: Registration) -> None:
    kind = "confirmation" if registration.status.value == "confirmed" else "waitlisted"
    outbox.enqueue_for_registration(kind, registration, _key(kind, registration, "gauged"))


def event_changed(registration: Registration, changes: list[str]) -> None:
    event = registration.event
    outbox.enqueue_for_registration(
        "event_changed",
        registration,
        _key("changed", registration, event.ics_sequence),
        changes=changes,
    )


def reminder(registration: Registration, label: str) -> bool:
    """Queue a reminder; ``label`` names the round (e.g. "scheduled" or a timestamp)."""
    return outbox.enqueue_for_registration(
        "reminder", registration, _key("reminder", registration, label)
    )


def threshold_reached(event: Event) -> None:
    if not event.notify_coordinators_on_threshold:
        return
    coordinators = db.session.scalars(
        sa.select(User).where(User.role == Role.COORDINATOR, User.active.is_(True))
    )
    for user in coordinators:
        outbox.enqueue_for_staff(
            "threshold_reached", user, event, f"threshold:{event.id}:{user.id}"
        )
