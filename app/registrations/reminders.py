"""Reminders: on demand from the organiser, and scheduled before the first session.

A reminder goes to every registration with a seat (confirmed, or checked in at an
earlier session) and never to the waitlisted, interested or cancelled. Its dedupe
key names the round (``reminder:<registration>:<label>``), so triggering the same
round twice, or running ``send-due`` every minute, queues each person's reminder once.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from ..audit import entries as audit
from ..core import clock
from ..core.database import write_transaction
from ..core.errors import NotFound
from ..core.extensions import db
from ..mail import outbox
from ..models import (
    Event,
    EventSession,
    OutboxMessage,
    Registration,
    RegistrationStatus,
)
from . import notices
from .locking import lock_event
from .statuses import SEAT_GIVING_EVENTS

S = RegistrationStatus
#: Who gets a reminder: people who hold a seat and have not been marked absent.
REMINDED = (S.CONFIRMED, S.ATTENDED)
SCHEDULED = "scheduled"


def _label(label: str) -> str:
    """Labels go into a 200-character dedupe key: long ones are shortened to a hash."""
    label = label.strip() or "manual"
    if len(label) > 60 or ":" in label:
        return "h" + hashlib.sha256(label.encode()).hexdigest()[:24]
    return label


def _recipients(event_id: int, joined_before: datetime | None = None) -> list[Registration]:
    query = (
        sa.select(Registration)
        .where(Registration.event_id == event_id, Registration.status.in_(list(REMINDED)))
        .order_by(Registration.created_at, Registration.id)
        .execution_options(populate_existing=True)
    )
    if joined_before is not None:
        query = query.where(Registration.status_changed_at <= joined_before)
    return list(db.session.scalars(query))


def _queue(event_id: int, user_id: int | None, label: str, joined_before=None) -> int:
    label = _label(label)

    def work() -> int:
        event = lock_event(event_id)
        queued_keys = set(
            db.session.scalars(
                sa.select(OutboxMessage.dedupe_key).where(
                    OutboxMessage.event_id == event.id, OutboxMessage.kind == "reminder"
                )
            )
        )
        count = 0
        for registration in _recipients(event.id, joined_before):
            if notices.reminder_key(registration, label) in queued_keys:
                continue
            if notices.reminder(registration, label):
                count += 1
        if user_id is not None:
            audit.record(user_id, "event.reminders", event, {"label": label, "queued": count})
        return count

    return write_transaction(work)


def queue_reminders(event_id: int, user_id: int | None, label: str = "manual") -> int:
    """Queue one reminder per confirmed registration of an event, in one transaction.

    Returns how many were queued now; people who already have this round's
    reminder are not counted. Raises ``NotFound`` for an unknown event.
    """
    return _queue(event_id, user_id, label)


def reminder_progress(event_id: int, label: str = "manual") -> dict[str, int]:
    """How this round's reminders are doing: counts per outbox status."""
    suffix = ":" + _label(label)
    rows = db.session.execute(
        sa.select(OutboxMessage.status, OutboxMessage.dedupe_key).where(
            OutboxMessage.event_id == event_id, OutboxMessage.kind == "reminder"
        )
    )
    counts = {"pending": 0, "sending": 0, "sent": 0, "failed": 0}
    for status, key in rows:
        if key.endswith(suffix):
            counts[status.value] += 1
    return counts


def _sample_registration(event: Event, locale: str) -> Registration:
    """A made-up person, never added to the session, for previews."""
    now = clock.now()
    sample = Registration(
        id=0,
        event_id=event.id,
        name="Anna Andersson",
        email="anna.andersson@example.org",
        locale=locale,
        status=S.CONFIRMED,
        created_at=now,
        status_changed_at=now,
        manage_token="example-link",
    )
    sample.event = event
    return sample


def preview(event_id: int, locale: str = "sv") -> tuple[str, str, str]:
    """Subject, text and HTML of the reminder, addressed to a made-up person.

    Never a real registration: the mail carries its owner's secret manage link,
    which staff must not see. Queues nothing.
    """
    event = db.session.get(Event, event_id)
    if event is None:
        raise NotFound()
    with db.session.no_autoflush:
        person = _sample_registration(event, locale)
        context = notices.registration_context(person, calendar_method=None)
        return outbox.render("reminder", locale, context)


def due_events(now: datetime | None = None) -> list[int]:
    """Open or closed events whose first session starts within the reminder lead time."""
    now = now or clock.now()
    lead = timedelta(hours=float(current_app.config["REMINDER_LEAD_HOURS"]))
    first_start = sa.func.min(EventSession.starts_at)
    starting = (
        sa.select(EventSession.event_id)
        .group_by(EventSession.event_id)
        .having(first_start > now, first_start <= now + lead)
    )
    return list(
        db.session.scalars(
            sa.select(Event.id)
            .where(
                Event.id.in_(starting),
                Event.status.in_(SEAT_GIVING_EVENTS),
            )
            .order_by(Event.id)
        )
    )


def send_due(now: datetime | None = None) -> dict[int, int]:
    """Queue the scheduled reminder for every event now inside its lead time.

    Safe to run every minute: each registration gets the scheduled reminder once.
    People who got their seat inside the lead time are left out: their
    confirmation came moments ago and says the same. Returns {event_id: queued}.
    """
    now = now or clock.now()
    lead = timedelta(hours=float(current_app.config["REMINDER_LEAD_HOURS"]))
    result: dict[int, int] = {}
    for event_id in due_events(now):
        event = db.session.get(Event, event_id)
        starts_at = event.starts_at if event is not None else None
        if starts_at is None:
            continue
        result[event_id] = _queue(event_id, None, SCHEDULED, joined_before=starts_at - lead)
    return result
