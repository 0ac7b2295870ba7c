"""Queueing mail in the outbox, inside the transaction that caused it.

A message is rendered completely when it is queued (subject, text and HTML in
the recipient's language from one set of template data, attachments, Message-ID,
and from those the finished RFC 5322 bytes, ``mail.message``), so delivery is a
plain copy of stored bytes and every retry sends exactly the same message.
Delivery lives in ``mail.delivery``; this module only renders and stores. It knows
no domain: callers pass the template name, its data and the ids to file it under.
"""

from __future__ import annotations

import functools
import logging
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parseaddr

import sqlalchemy as sa
from flask import current_app, render_template

from ..core import clock
from ..core.extensions import db
from ..core.i18n import in_language
from ..models import OutboxMessage, OutboxStatus
from . import message as mime

log = logging.getLogger(__name__)

def new_message_id() -> str:
    return f"<{uuid.uuid4().hex}@{_domain_of(current_app.config['MAIL_DEFAULT_SENDER'])}>"


@functools.lru_cache(maxsize=16)
def _domain_of(sender: str) -> str:
    return parseaddr(sender)[1].rsplit("@", 1)[-1] or "kvarn.invalid"


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
    with in_language(locale):
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
    parts = _parts(
        recipient, reply_to, subject, text, html, locale, clock.now(),
        attachments=[mime.stored_attachment(a) for a in attachments or []],
    )
    # A Core INSERT, not an entity for the unit of work: the message is finished and never
    # changes here. What the transaction has pending is written first (the row may name a
    # registration made in it).
    db.session.flush()
    db.session.connection().execute(
        _INSERT, _row(parts, _finished(parts, dedupe_key, headers), dedupe_key, kind, event_id, registration_id)
    )
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


def _finished(
    parts: mime.MessageParts, dedupe_key: str, headers: dict[str, str] | None = None
) -> bytes | None:
    """The message's bytes, or None if it cannot be built: it is queued all the same (the
    change that caused it must not fail for its mail), and the worker marks it failed."""
    try:
        return mime.wire_bytes(parts, headers)
    except (ValueError, TypeError, KeyError):
        log.exception("outbox message %s could not be built", dedupe_key)
        return None


def _parts(recipient, reply_to, subject, text, html, locale, now, attachments=()) -> mime.MessageParts:
    return mime.MessageParts(
        recipient=recipient,
        sender=current_app.config["MAIL_DEFAULT_SENDER"],
        reply_to=reply_to,
        subject=subject,
        body_text=text,
        body_html=html,
        attachments=list(attachments),
        message_id=new_message_id(),
        locale=locale,
        created_at=now,  # also the Date header
    )


def _row(
    parts: mime.MessageParts,
    wire: bytes | None,
    dedupe_key: str,
    kind: str,
    event_id: int | None,
    registration_id: int | None,
) -> dict:
    """The outbox row of a finished message, pending from now."""
    return {
        "dedupe_key": dedupe_key,
        "kind": kind,
        "recipient": parts.recipient,
        "sender": parts.sender,
        "reply_to": parts.reply_to,
        "subject": parts.subject,
        "body_text": parts.body_text,
        "body_html": parts.body_html,
        "attachments": parts.attachments,
        "message_id": parts.message_id,
        "locale": parts.locale,
        "wire": wire,
        "event_id": event_id,
        "registration_id": registration_id,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": parts.created_at,
        "created_at": parts.created_at,
    }


_INSERT = sa.insert(OutboxMessage.__table__)


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
    now = clock.now()  # also the Date header
    rows: list[dict] = []
    stored = 0
    for message in messages:
        parts = _parts(
            message.recipient, message.reply_to, message.subject, message.text, message.html,
            message.locale, now,
        )
        wire = _finished(parts, message.dedupe_key)  # None: queued all the same, marked failed
        rows.append(
            _row(parts, wire, message.dedupe_key, message.kind, message.event_id, message.registration_id)
        )
        if len(rows) >= chunk:
            db.session.execute(sa.insert(OutboxMessage), rows)
            stored += len(rows)
            rows = []
    if rows:
        db.session.execute(sa.insert(OutboxMessage), rows)
        stored += len(rows)
    return stored
