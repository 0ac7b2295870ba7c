"""What is removed from the outbox and the audit log when personal data goes.

The rules this module owns:

- A message that concerned erased data and was never sent (pending, being sent or
  failed) is deleted: it would carry the data out later. A sent one keeps only its
  metadata (kind, subject, event, times, status): recipient, text, HTML, stored bytes,
  attachments and last error are removed.
- Any sent message loses its text, HTML, bytes and attachments ``OUTBOX_KEEP_DAYS`` after
  it was sent (``clear_old_contents``); who it went to stays until its event is purged.
  A receipt of an erasure loses its recipient too, as soon as it has been sent.
- Audit entries keep who did what when, never the erased data: an "email sent again"
  entry about a forgotten message loses the address and the error text (which may quote
  it); an audit-log download filtered by an erased address loses that filter value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from ..core import clock
from ..core.extensions import db
from ..models import AuditEntry, OutboxMessage, OutboxStatus

#: The kind of the receipt mailed after an erasure (``privacy.notices``).
ERASURE_RECEIPT = "erasure_done"
_CHUNK = 500

_FORGOTTEN_CONTENTS = {
    "body_text": "",
    "body_html": "",
    "wire": None,
    "attachments": [],
    "last_error": None,
}


@dataclass(frozen=True)
class Forgotten:
    #: Unsent messages deleted, and sent ones that lost recipient and contents.
    deleted: int
    cleared: int
    #: The ids of both (audit entries about them are scrubbed with ``scrub_message_entries``).
    message_ids: tuple[int, ...]

    @property
    def total(self) -> int:
        return self.deleted + self.cleared


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def forget_messages(where: sa.ColumnElement[bool]) -> Forgotten:
    """Delete the unsent messages that ``where`` selects and strip the sent ones."""
    rows = db.session.execute(sa.select(OutboxMessage.id, OutboxMessage.status).where(where)).all()
    unsent = [row.id for row in rows if row.status != OutboxStatus.SENT]
    sent = [row.id for row in rows if row.status == OutboxStatus.SENT]
    for ids in _chunks(unsent):
        db.session.execute(
            sa.delete(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
    for ids in _chunks(sent):
        db.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(recipient="", **_FORGOTTEN_CONTENTS)
            .execution_options(synchronize_session=False)
        )
    return Forgotten(len(unsent), len(sent), tuple(unsent + sent))


def clear_old_contents(now: datetime | None = None, days: float | None = None) -> int:
    """Strip the contents of messages sent more than ``days`` (``OUTBOX_KEEP_DAYS``) ago,
    and the recipient of every sent erasure receipt. Returns how many rows changed; a
    second run changes none."""
    now = now or clock.now()
    days = float(current_app.config["OUTBOX_KEEP_DAYS"] if days is None else days)
    sent = OutboxMessage.status == OutboxStatus.SENT
    receipts = db.session.execute(
        sa.update(OutboxMessage)
        .where(sent, OutboxMessage.kind == ERASURE_RECEIPT, OutboxMessage.recipient != "")
        .values(recipient="", **_FORGOTTEN_CONTENTS)
        .execution_options(synchronize_session=False)
    ).rowcount
    old = db.session.execute(
        sa.update(OutboxMessage)
        .where(
            sent,
            OutboxMessage.sent_at < now - timedelta(days=days),
            sa.or_(
                OutboxMessage.body_text != "",
                OutboxMessage.body_html != "",
                OutboxMessage.wire.is_not(None),
            ),
        )
        .values(**_FORGOTTEN_CONTENTS)
        .execution_options(synchronize_session=False)
    ).rowcount
    return int(receipts or 0) + int(old or 0)


def _scrub(entry: AuditEntry, change) -> bool:
    details = dict(entry.details or {})
    changed = change(details)
    if changed:
        entry.details = details  # a new dict: the JSON column sees the change
    return changed


def scrub_message_entries(message_ids: Iterable[int]) -> int:
    """Remove the address and error text from audit entries about these messages."""

    def change(details: dict) -> bool:
        if details.get("recipient") is None and details.get("error") is None:
            return False
        details["recipient"] = None
        details["error"] = None
        return True

    scrubbed = 0
    for ids in _chunks(sorted(set(message_ids))):
        for entry in db.session.scalars(
            sa.select(AuditEntry).where(
                AuditEntry.object_type == "outboxmessage", AuditEntry.object_id.in_(ids)
            )
        ):
            scrubbed += _scrub(entry, change)
    return scrubbed


def scrub_participant_filters(address: str) -> int:
    """Remove ``address`` from audit-log downloads that were filtered by it."""

    def change(details: dict) -> bool:
        filters = dict(details.get("filters") or {})
        if filters.get("participant") != address:
            return False
        filters["participant"] = None
        details["filters"] = filters
        return True

    scrubbed = 0
    for entry in db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.action == "export", AuditEntry.details["list"].as_string() == "audit_log"
        )
    ):
        scrubbed += _scrub(entry, change)
    return scrubbed
