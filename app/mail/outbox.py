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
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parseaddr

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import force_locale

from ..core import clock
from ..core.extensions import db
from ..models import OutboxMessage, OutboxStatus
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
    headers: dict[str, str] | None = None,
    rendered: tuple[str, str, str] | None = None,
) -> bool:
    """Store one message unless one with the same dedupe key exists. Returns True if queued.

    ``key_checked``: the caller has made sure no message has this key yet.
    ``attachments``: dicts of ``filename``, ``content_type`` and ``data``, text (a calendar
    file) or bytes (a PDF; kept as base64 in the row, ``mail.message.stored_attachment``).
    ``rendered``: subject, text and HTML the caller already rendered from ``context``
    (``mail.stencil``), stored as they are.
    ``headers``: extra headers (one ASCII line each, e.g. ``List-Unsubscribe``); they are
    part of the finished bytes stored now, not of the row's columns; one a message may not
    carry is a programming error (``ValueError``), never a message queued without it.
    """
    mime.check_headers(headers)
    if not key_checked and already_queued(dedupe_key):
        return False
    subject, text, html = rendered or render(kind, locale, context)
    message = OutboxMessage(
        dedupe_key=dedupe_key,
        kind=kind,
        recipient=recipient,
        sender=current_app.config["MAIL_DEFAULT_SENDER"],
        reply_to=reply_to,
        subject=subject,
        body_text=text,
        body_html=html,
        attachments=[mime.stored_attachment(a) for a in attachments or []],
        message_id=new_message_id(),
        locale=locale,
        created_at=clock.now(),  # also the Date header
        event_id=event_id,
        registration_id=registration_id,
    )
    message.wire = _finished(message, headers)
    db.session.add(message)
    return True


def discard(dedupe_key_prefix: str) -> int:
    """Delete every message whose dedupe key starts with ``dedupe_key_prefix``, whatever
    its status (a person's data is erased with them). Returns how many. A message a worker
    is sending at this moment may still go out once; its "sent" mark then finds no row."""
    if not dedupe_key_prefix:
        raise ValueError("a prefix is needed")
    result = db.session.execute(
        sa.delete(OutboxMessage)
        .where(OutboxMessage.dedupe_key.startswith(dedupe_key_prefix, autoescape=True))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def _finished(message: OutboxMessage, headers: dict[str, str] | None = None) -> bytes | None:
    """The message's bytes, or None if it cannot be built: it is queued all the same (the
    change that caused it must not fail for its mail), and the worker marks it failed."""
    try:
        return mime.wire_bytes(message, headers)
    except (ValueError, TypeError, KeyError):
        log.exception("outbox message %s could not be built", message.dedupe_key)
        return None


@dataclass(frozen=True)
class Rendered:
    """A message whose subject, text and HTML the caller has rendered (``mail.stencil``)."""

    kind: str
    recipient: str
    locale: str
    dedupe_key: str
    subject: str
    text: str
    html: str
    reply_to: str | None = None
    event_id: int | None = None
    registration_id: int | None = None


def enqueue_rendered(messages: Iterable[Rendered], chunk: int = 200) -> int:
    """Store many rendered messages, one INSERT per ``chunk`` of them; returns how many.

    For a round to thousands of people in one transaction: no ORM object per message,
    and only a chunk of finished bytes in memory at a time. The caller has made sure that
    none of the dedupe keys exists yet (it decides under a lock); a duplicate would break
    the unique key and roll the whole transaction back, never queue a message twice.
    """
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    now = clock.now()  # also the Date header
    rows: list[dict] = []
    stored = 0
    for message in messages:
        parts = mime.MessageParts(
            recipient=message.recipient,
            sender=sender,
            reply_to=message.reply_to,
            subject=message.subject,
            body_text=message.text,
            body_html=message.html,
            attachments=[],
            message_id=new_message_id(),
            locale=message.locale,
            created_at=now,
        )
        try:
            wire = mime.wire_bytes(parts)
        except (ValueError, TypeError, KeyError):
            log.exception("outbox message %s could not be built", message.dedupe_key)
            wire = None  # queued all the same; the worker marks it failed
        rows.append(
            {
                "dedupe_key": message.dedupe_key,
                "kind": message.kind,
                "recipient": message.recipient,
                "sender": sender,
                "reply_to": message.reply_to,
                "subject": message.subject,
                "body_text": message.text,
                "body_html": message.html,
                "attachments": [],
                "message_id": parts.message_id,
                "locale": message.locale,
                "wire": wire,
                "event_id": message.event_id,
                "registration_id": message.registration_id,
                "status": OutboxStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
        if len(rows) >= chunk:
            db.session.execute(sa.insert(OutboxMessage), rows)
            stored += len(rows)
            rows = []
    if rows:
        db.session.execute(sa.insert(OutboxMessage), rows)
        stored += len(rows)
    return stored
