"""Queueing mail in the outbox, inside the transaction that caused it.

Delivery lives in ``app.delivery``; this module only renders and stores.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import force_locale

from . import ics
from .extensions import db
from .models import Event, OutboxMessage, Registration, User

# Kinds whose mail carries a calendar file, and with which METHOD.
ICS_METHOD = {
    "confirmation": "REQUEST",
    "promoted": "REQUEST",
    "event_changed": "REQUEST",
    "cancelled": "CANCEL",
    "event_cancelled": "CANCEL",
}


def manage_url(registration: Registration) -> str:
    return f"{current_app.config['BASE_URL'].rstrip('/')}/r/{registration.manage_token}"


def event_url(event: Event) -> str:
    return f"{current_app.config['BASE_URL'].rstrip('/')}/events/{event.id}"


def new_message_id() -> str:
    domain = current_app.config["MAIL_DEFAULT_SENDER"].rsplit("@", 1)[-1].rstrip(">")
    return f"<{uuid.uuid4().hex}@{domain}>"


def _already_queued(dedupe_key: str) -> bool:
    return (
        db.session.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key))
        is not None
    )


def _render(kind: str, locale: str, context: dict) -> tuple[str, str, str]:
    with force_locale(locale):
        subject = render_template(f"email/{kind}.subject.txt", **context).strip()
        text = render_template(f"email/{kind}.txt", **context)
        html = render_template(f"email/{kind}.html", **context)
    return subject, text, html


def enqueue(
    *,
    kind: str,
    recipient: str,
    locale: str,
    dedupe_key: str,
    context: dict,
    reply_to: str | None = None,
    attachments: list[dict] | None = None,
    event: Event | None = None,
    registration: Registration | None = None,
) -> bool:
    """Store one message unless one with the same dedupe key exists. Returns True if queued."""
    if _already_queued(dedupe_key):
        return False
    subject, text, html = _render(kind, locale, context)
    db.session.add(
        OutboxMessage(
            dedupe_key=dedupe_key,
            kind=kind,
            recipient=recipient,
            sender=current_app.config["MAIL_DEFAULT_SENDER"],
            reply_to=reply_to,
            subject=subject,
            body_text=text,
            body_html=html,
            attachments=attachments or [],
            message_id=new_message_id(),
            locale=locale,
            event_id=event.id if event is not None else None,
            registration_id=registration.id if registration is not None else None,
        )
    )
    return True


def enqueue_for_registration(
    kind: str, registration: Registration, dedupe_key: str, **extra
) -> bool:
    from .seats import waitlist_position  # late import: seats imports this module's callers

    event = registration.event
    attachments = []
    if kind in ICS_METHOD:
        attachments.append(
            {
                "filename": "invite.ics" if ICS_METHOD[kind] != "CANCEL" else "cancel.ics",
                "content_type": f"text/calendar; method={ICS_METHOD[kind]}; charset=utf-8",
                "data": ics.calendar_bytes(registration, ICS_METHOD[kind]).decode("utf-8"),
            }
        )
    context = {
        "registration": registration,
        "event": event,
        "manage_url": manage_url(registration),
        "event_url": event_url(event),
        "position": waitlist_position(registration),
        **extra,
    }
    return enqueue(
        kind=kind,
        recipient=registration.email,
        locale=registration.locale,
        dedupe_key=dedupe_key,
        context=context,
        reply_to=event.contact_email,
        attachments=attachments,
        event=event,
        registration=registration,
    )


def enqueue_for_staff(kind: str, user: User, event: Event, dedupe_key: str, **extra) -> bool:
    context = {"user": user, "event": event, "event_url": event_url(event), **extra}
    return enqueue(
        kind=kind,
        recipient=user.email,
        locale="sv",
        dedupe_key=dedupe_key,
        context=context,
        event=event,
    )
