"""Queueing mail in the outbox, inside the transaction that caused it.

A message is rendered completely when it is queued (subject, text and HTML in
the recipient's language from one set of template data, attachments, Message-ID,
and from those the finished RFC 5322 bytes, ``mail.message``), so delivery is a
plain copy of stored bytes and every retry sends exactly the same message.
Delivery lives in ``mail.delivery``; this module only renders and stores. It knows
no domain: callers pass the template name, its data and the ids to file it under.
"""

from __future__ import annotations

import logging
import re
import uuid
from email.utils import parseaddr

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import force_locale

from ..core import clock
from ..core.extensions import db
from ..models import OutboxMessage
from . import message as mime

log = logging.getLogger(__name__)

def new_message_id() -> str:
    address = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]
    domain = address.rsplit("@", 1)[-1] or "kvarn.invalid"
    return f"<{uuid.uuid4().hex}@{domain}>"


_BY_DEDUPE_KEY = sa.select(OutboxMessage.id).where(
    OutboxMessage.dedupe_key == sa.bindparam("dedupe_key")
)


def already_queued(dedupe_key: str) -> bool:
    return db.session.scalar(_BY_DEDUPE_KEY, {"dedupe_key": dedupe_key}) is not None


def _tidy_text(text: str) -> str:
    """Trailing spaces off, at most one blank line in a row (templates stay readable)."""
    lines = [line if line == "-- " else line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def render(kind: str, locale: str, context: dict) -> tuple[str, str, str]:
    """Subject, text and HTML of one message, from the same data, in ``locale``."""
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
    event_id: int | None = None,
    registration_id: int | None = None,
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
        event_id=event_id,
        registration_id=registration_id,
    )
    message.wire = _finished(message)
    db.session.add(message)
    return True


def _finished(message: OutboxMessage) -> bytes | None:
    """The message's bytes, or None if it cannot be built: it is queued all the same (the
    change that caused it must not fail for its mail), and the worker marks it failed."""
    try:
        return mime.wire_bytes(message)
    except (ValueError, TypeError, KeyError):
        log.exception("outbox message %s could not be built", message.dedupe_key)
        return None
