"""Reminders: on demand from the organiser (with their own text, if any), and scheduled
before the first session.

A reminder goes to every registration with a seat (confirmed, or checked in at an
earlier session) and never to the waitlisted, interested or cancelled. Every round is
a ``MessageRound`` (``registrations.messages``) whose label names it in the dedupe keys
(``reminder:<registration>:<label>``), so triggering the same round twice, sending the
same form twice, or running ``send-due`` every minute, queues each person's reminder
once. A second round from the page within a day of the last one is refused unless the
organiser confirms it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from ..audit import entries as audit
from ..core import clock
from ..core.database import write_transaction
from ..core.errors import NotFound, Refused
from ..core.extensions import db
from ..core.i18n import format_moment
from ..core.text import multi_line
from ..models import Event, EventSession, MessageRound
from . import messages
from .locking import lock_event
from .statuses import SEAT_GIVING_EVENTS

#: Who gets a reminder: people who hold a seat and have not been marked absent.
REMINDED = messages.AUDIENCES[messages.SEATED]
SCHEDULED = "scheduled"
#: A reminder round sent from the page within this time of the last one needs confirming.
REPEAT_WINDOW = timedelta(hours=24)
NOTE_MAX = messages.NOTE_MAX


def _label(label: str) -> str:
    """Labels go into a 200-character dedupe key: long ones are shortened to a hash."""
    label = label.strip() or "manual"
    if len(label) > 60 or ":" in label:
        return "h" + hashlib.sha256(label.encode()).hexdigest()[:24]
    return label


def form_label(key: str) -> str:
    """The label of the round a reminder form (with its one-time ``key``) sends."""
    return f"manual-{key[:16]}"


def clean_note(note: str | None) -> str:
    """The organiser's own text as it is sent: control characters gone, breaks kept."""
    note = multi_line(note or "")
    if len(note) > NOTE_MAX:
        raise Refused(_l("Use at most %(max)d characters.", max=NOTE_MAX), field="note")
    return note


def _context(note: str) -> dict:
    return messages.text_context(note)


def _queue(event_id: int, user_id: int | None, label: str, joined_before=None) -> int:
    """Queue the round ``label`` to everyone with a seat who does not have it yet (the
    command line and the scheduled round: the same label tops a round up)."""
    label = _label(label)

    def work() -> int:
        event = lock_event(event_id)
        people = messages.recipients(event.id, messages.SEATED, changed_before=joined_before)
        round_ = messages.find_round(event.id, messages.REMINDER, label)
        count = 0
        if people:
            is_new = round_ is None
            if is_new:
                round_ = messages.new_round(event, messages.REMINDER, messages.SEATED, label, user_id)
            count = messages.queue_round(event, round_, people, **_context(round_.body))
            if is_new and count == 0:  # everyone had it already (mail from before rounds)
                db.session.delete(round_)
                round_ = None
        if user_id is not None:
            details = {"label": label, "queued": count}
            if round_ is not None:
                details["round"] = round_.id
            audit.record(user_id, "event.reminders", event, details)
        return count

    return write_transaction(work)


def queue_reminders(event_id: int, user_id: int | None, label: str = "manual") -> int:
    """Queue one reminder per person with a seat of an event, in one transaction.

    Returns how many were queued now; people who already have this round's
    reminder are not counted. Raises ``NotFound`` for an unknown event.
    """
    return _queue(event_id, user_id, label)


def recent_round(event_id: int, now: datetime | None = None) -> MessageRound | None:
    """The last reminder round that reached someone within ``REPEAT_WINDOW``, if any."""
    now = now or clock.now()
    return messages.latest_round_since(event_id, messages.REMINDER, now - REPEAT_WINDOW)


def send_reminder(
    event_id: int, user_id: int | None, key: str, note: str = "", confirm_repeat: bool = False
) -> messages.Sent:
    """The reminder page's round: everyone with a seat, with the organiser's own text.

    ``key`` is the form's one-time key: the same form sent again finds its round and
    queues nothing (``Sent.again``). If a reminder round reached people within the last
    24 hours, this one is refused unless ``confirm_repeat``. Refused too when nobody has
    a seat. Writes the audit entry "event.reminders".
    """
    note = clean_note(note)
    label = form_label(key)

    def work() -> messages.Sent:
        event = lock_event(event_id)
        earlier = messages.find_round(event.id, messages.REMINDER, label)
        if earlier is not None:
            return messages.Sent(earlier.id, label, earlier.queued, again=True)
        recent = recent_round(event.id)
        if recent is not None and not confirm_repeat:
            raise Refused(
                _l(
                    "A reminder already went out %(when)s. Tick the box to send another one.",
                    when=format_moment(recent.created_at),
                ),
                field="confirm_repeat",
                code="repeat",
            )
        people = messages.recipients(event.id, messages.SEATED)
        if not people:
            raise Refused(_l("Nobody has a seat yet: there is nobody to remind."))
        round_ = messages.new_round(
            event, messages.REMINDER, messages.SEATED, label, user_id, body=note
        )
        queued = messages.queue_round(event, round_, people, **_context(note))
        audit.record(
            user_id,
            "event.reminders",
            event,
            {
                "round": round_.id,
                "label": label,
                "queued": queued,
                "own_text": bool(note),
                "repeat": recent is not None,
            },
        )
        return messages.Sent(round_.id, label, queued)

    return write_transaction(work)


def reminder_progress(event_id: int, label: str = "manual") -> dict[str, int]:
    """How this round's reminders are doing: counts per outbox status."""
    found = messages.progress(event_id, messages.REMINDER, [_label(label)])[_label(label)]
    return {"pending": found.pending, "sending": found.sending, "sent": found.sent, "failed": found.failed}


def preview(event_id: int, locale: str = "sv", note: str = "") -> tuple[str, str, str]:
    """Subject, text and HTML of the reminder, addressed to a made-up person.

    Never a real registration: the mail carries its owner's secret manage link,
    which staff must not see. The same stencil as the real round. Queues nothing.
    """
    note = clean_note(note)
    event = db.session.get(Event, event_id)
    if event is None:
        raise NotFound()
    return messages.sample(event, messages.REMINDER, messages.SEATED, locale, **_context(note))


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
