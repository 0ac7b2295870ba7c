"""Queueing mail in the outbox, inside the transaction that caused it.

A message is rendered completely when it is queued (subject, text and HTML in
the recipient's language, calendar attachment, Message-ID, and from those the
finished MIME bytes, ``app.mime``), so delivery is a plain copy of stored bytes
and every retry sends exactly the same message.
Delivery lives in ``app.delivery``; this module only renders and stores.
"""

from __future__ import annotations

import logging
import re
import uuid
from email.utils import parseaddr

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_mail import BadHeaderError

from . import clock, ics, mime
from .extensions import db
from .i18n import format_span
from .models import Event, OutboxMessage, Registration, User

log = logging.getLogger(__name__)

#: Kinds whose mail carries a calendar file by default, and with which METHOD.
ICS_METHOD = {
    "confirmation": "REQUEST",
    "promoted": "REQUEST",
    "event_changed": "REQUEST",
    "cancelled": "CANCEL",
    "event_cancelled": "CANCEL",
}

_DEFAULT = object()


def manage_url(registration: Registration) -> str:
    return f"{current_app.config['BASE_URL'].rstrip('/')}/r/{registration.manage_token}"


def event_url(event: Event) -> str:
    return f"{current_app.config['BASE_URL'].rstrip('/')}/events/{event.id}"


def new_message_id() -> str:
    address = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]
    domain = address.rsplit("@", 1)[-1] or "kvarn.invalid"
    return f"<{uuid.uuid4().hex}@{domain}>"


def reply_to_for(event: Event | None) -> str | None:
    """Replies go to the organiser: the event's contact address, else the organiser's."""
    if event is None:
        return None
    if event.contact_email:
        return event.contact_email
    return event.organiser.email if event.organiser is not None else None


_BY_DEDUPE_KEY = sa.select(OutboxMessage.id).where(
    OutboxMessage.dedupe_key == sa.bindparam("dedupe_key")
)


def already_queued(dedupe_key: str) -> bool:
    return db.session.scalar(_BY_DEDUPE_KEY, {"dedupe_key": dedupe_key}) is not None


def describe_change(change) -> str:
    """One line about what changed, in the current (forced) locale.

    ``change`` is a ready sentence or a dict (see ``notices.event_changed``).
    """
    if isinstance(change, str):
        return change
    what = change.get("what")
    session = change.get("session")
    old, new = change.get("old"), change.get("new")
    if what == "time":
        old_text = format_span(*old) if old else _("not set")
        new_text = format_span(*new) if new else _("not set")
        if session:
            return _(
                "Session %(number)d: the time is now %(new)s (was %(old)s).",
                number=session, new=new_text, old=old_text,
            )
        return _("The time is now %(new)s (was %(old)s).", new=new_text, old=old_text)
    if what == "venue":
        old_text = old or _("venue to be decided")
        new_text = new or _("venue to be decided")
        if session:
            return _(
                "Session %(number)d: the venue is now %(new)s (was %(old)s).",
                number=session, new=new_text, old=old_text,
            )
        return _("The venue is now %(new)s (was %(old)s).", new=new_text, old=old_text)
    if what == "title":
        return _("The event is now called %(new)s (was %(old)s).", new=new, old=old)
    return str(change.get("text", ""))


def _tidy_text(text: str) -> str:
    """Trailing spaces off, at most one blank line in a row (templates stay readable)."""
    lines = [line if line == "-- " else line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def render(kind: str, locale: str, context: dict) -> tuple[str, str, str]:
    """Subject, text and HTML of one message, from the same data, in ``locale``."""
    context = {"describe_change": describe_change, **context}
    with force_locale(locale):
        subject = render_template(f"email/{kind}.subject.txt", **context)
        text = render_template(f"email/{kind}.txt", **context)
        html = render_template(f"email/{kind}.html", **context)
    # One line, no stray whitespace: a subject must never carry a header break.
    return " ".join(subject.split()), _tidy_text(text), html


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
    key_checked: bool = False,
) -> bool:
    """Store one message unless one with the same dedupe key exists. Returns True if queued.

    ``key_checked``: the caller has made sure no message has this key yet.
    """
    if not key_checked and already_queued(dedupe_key):
        return False
    subject, text, html = render(kind, locale, context)
    message = OutboxMessage(
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
        created_at=clock.now(),  # also the Date header
        event_id=event.id if event is not None else None,
        registration_id=registration.id if registration is not None else None,
    )
    message.wire = _finished(message)
    db.session.add(message)
    return True


def _finished(message: OutboxMessage) -> bytes | None:
    """The message's bytes, or None if it cannot be built: it is queued all the same (the
    change that caused it must not fail for its mail), and the worker marks it failed."""
    try:
        return mime.wire_bytes(message)
    except (BadHeaderError, ValueError, TypeError, KeyError):
        log.exception("outbox message %s could not be built", message.dedupe_key)
        return None


def calendar_attachment(registration: Registration, method: str) -> dict:
    return {
        "filename": "cancel.ics" if method == "CANCEL" else "invite.ics",
        "content_type": f"text/calendar; method={method}; charset=utf-8",
        "data": ics.calendar_bytes(registration, method).decode("utf-8"),
    }


def registration_context(
    registration: Registration, calendar: str | None = None, position=_DEFAULT, **extra
) -> dict:
    """The data every registration mail is rendered from (text and HTML alike).

    ``position`` is the waitlist place when the caller knows it; else it is looked up.
    """
    from .seats import waitlist_position  # late import: seats imports this module's callers

    event = registration.event
    if position is _DEFAULT:
        position = waitlist_position(registration)
    return {
        "registration": registration,
        "event": event,
        "sessions": list(event.sessions),
        "manage_url": manage_url(registration),
        "event_url": event_url(event),
        "position": position,
        "contact_email": reply_to_for(event),
        "calendar": calendar,
        **extra,
    }


def enqueue_for_registration(
    kind: str,
    registration: Registration,
    dedupe_key: str,
    calendar=_DEFAULT,
    new_key: bool = False,
    **extra,
) -> bool:
    """Queue ``kind`` for one registration in its language.

    ``calendar`` is the .ics METHOD to attach ("REQUEST", "CANCEL") or None for
    no calendar file; by default it follows ``ICS_METHOD``. ``new_key`` says the
    caller knows no message can have this key yet (it names a registration made in
    this transaction), which spares the look-up.
    """
    if not new_key and already_queued(dedupe_key):
        return False
    method = ICS_METHOD.get(kind) if calendar is _DEFAULT else calendar
    attachments = [calendar_attachment(registration, method)] if method else []
    event = registration.event
    return enqueue(
        kind=kind,
        recipient=registration.email,
        locale=registration.locale,
        dedupe_key=dedupe_key,
        context=registration_context(registration, calendar=method, **extra),
        reply_to=reply_to_for(event),
        attachments=attachments,
        event=event,
        registration=registration,
        key_checked=True,
    )


def enqueue_for_staff(kind: str, user: User, event: Event, dedupe_key: str, **extra) -> bool:
    context = {
        "user": user,
        "event": event,
        "sessions": list(event.sessions),
        "event_url": event_url(event),
        "contact_email": None,
        **extra,
    }
    return enqueue(
        kind=kind,
        recipient=user.email,
        locale="sv",
        dedupe_key=dedupe_key,
        context=context,
        event=event,
    )
