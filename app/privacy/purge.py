"""Retention: once an event is ``RETENTION_MONTHS`` in the past, archive it, then forget.

The rules this module owns (``flask privacy purge``, from cron):

- An event is due when it was made public, has not been purged (``Event.purged_at``), and
  its last session ended more than ``RETENTION_MONTHS`` calendar months ago (an event
  without sessions: its last change).
- Each due event is purged in ONE write transaction under its lock: the archive record is
  built from what the database holds and written to disk first (``archive``); if that
  fails, the transaction rolls back and nothing of that event is purged (the run goes on
  with the next event and reports the failure). Then every registration and team sign-up
  of the event is anonymised (``registrations.seats.anonymise_registration``/
  ``anonymise_team``: statuses, organisations, check-ins, teams stay, so every figure
  does), its mail is forgotten (``forgetting``), the audit entries about that mail lose the
  address, and ``purged_at`` is set. Audited as ``event.archive`` (files and checksums)
  and ``event.purge`` (counts, the PDF's name and checksum).
- Evaluation answers are never touched (they point at no registration); subscriptions are
  not either (they are their own consent, ``subscriptions.subscribing``).
- Old mail: the contents of sent messages go after ``OUTBOX_KEEP_DAYS``
  (``forgetting.clear_old_contents``), audited as ``outbox.purge`` when any did.
- Running again changes nothing: a purged event is never due again, and its archive record
  is not written a second time.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from ..audit import entries as audit
from ..core import clock
from ..core.database import write_transaction
from ..core.extensions import db
from ..models import (
    Event,
    EventSession,
    EventStatus,
    OutboxMessage,
    OutboxStatus,
    Registration,
    Team,
)
from ..registrations import seats
from ..registrations.locking import lock_event
from . import archive, forgetting

log = logging.getLogger("kvarn")


def months_before(moment: datetime, months: int) -> datetime:
    """The same time ``months`` calendar months earlier (the 31st becomes the month's last day)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def cutoff(now: datetime | None = None) -> datetime:
    """Events that ended before this are due."""
    return months_before(now or clock.now(), int(current_app.config["RETENTION_MONTHS"]))


def due_events(now: datetime | None = None) -> list[int]:
    """The ids of the events due for purging, oldest first."""
    ends = (
        sa.select(EventSession.event_id, sa.func.max(EventSession.ends_at).label("ends_at"))
        .group_by(EventSession.event_id)
        .subquery()
    )
    ended = sa.type_coerce(sa.func.coalesce(ends.c.ends_at, Event.updated_at), Event.updated_at.type)
    return list(
        db.session.scalars(
            sa.select(Event.id)
            .outerjoin(ends, ends.c.event_id == Event.id)
            .where(
                Event.purged_at.is_(None),
                Event.status != EventStatus.DRAFT,
                ended < cutoff(now),
            )
            .order_by(ended, Event.id)
        )
    )


@dataclass(frozen=True)
class PurgedEvent:
    event_id: int
    title: str
    registrations: int
    teams: int
    messages: int
    audit_entries: int
    written: archive.Written | None  # None on a dry run


@dataclass
class PurgeReport:
    dry_run: bool
    events: list[PurgedEvent] = field(default_factory=list)
    #: (event id, why) of events whose archive record could not be written: not purged.
    failures: list[tuple[int, str]] = field(default_factory=list)
    #: Sent messages whose contents were deleted (or would be, on a dry run).
    old_messages: int = 0


def _event_mail(event_id: int) -> sa.ColumnElement[bool]:
    """Every message filed under the event (its registrations', its teams' and its
    organisers'), and any filed only under one of its registrations."""
    registration_ids = sa.select(Registration.id).where(Registration.event_id == event_id)
    return sa.or_(
        OutboxMessage.event_id == event_id, OutboxMessage.registration_id.in_(registration_ids)
    )


def _counts(event_id: int) -> tuple[int, int, int]:
    registrations = db.session.scalar(
        sa.select(sa.func.count(Registration.id)).where(Registration.event_id == event_id)
    )
    teams = db.session.scalar(sa.select(sa.func.count(Team.id)).where(Team.event_id == event_id))
    messages = db.session.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(_event_mail(event_id)))
    return int(registrations or 0), int(teams or 0), int(messages or 0)


def purge_event(event_id: int, now: datetime | None = None) -> PurgedEvent | None:
    """Archive, then anonymise one event, in one transaction (None: purged already).
    ``archive.ArchiveError`` when the record cannot be written: nothing is purged."""
    now = now or clock.now()

    def work() -> PurgedEvent | None:
        event = lock_event(event_id)
        if event.purged_at is not None:
            return None
        written = archive.write(archive.build(event, now))  # first: on failure, nothing goes
        audit.record(
            None,
            "event.archive",
            event,
            {"files": {**written.files, written.checksums: written.checksums_sha256}},
        )
        registrations = list(
            db.session.scalars(
                sa.select(Registration)
                .where(Registration.event_id == event.id)
                .execution_options(populate_existing=True)
            )
        )
        for registration in registrations:
            seats.anonymise_registration(registration)
        teams = list(db.session.scalars(sa.select(Team).where(Team.event_id == event.id)))
        for team in teams:
            seats.anonymise_team(team)
        forgotten = forgetting.forget_messages(_event_mail(event.id))
        scrubbed = forgetting.scrub_message_entries(forgotten.message_ids)
        event.purged_at = now
        details = {
            "registrations": len(registrations),
            "teams": len(teams),
            "messages": forgotten.total,
            "audit_entries": scrubbed,
            "archive": written.pdf,
            "sha256": written.files[written.pdf],
        }
        audit.record(None, "event.purge", event, details)
        return PurgedEvent(
            event.id, event.title, len(registrations), len(teams), forgotten.total, scrubbed, written
        )

    return write_transaction(work)


def clear_old_mail(now: datetime | None = None) -> int:
    """Delete the contents of old sent mail (one transaction, audited when any went)."""

    def work() -> int:
        cleared = forgetting.clear_old_contents(now)
        if cleared:
            audit.record(
                None,
                "outbox.purge",
                None,
                {"messages": cleared, "older_than_days": int(current_app.config["OUTBOX_KEEP_DAYS"])},
            )
        return cleared

    return write_transaction(work)


def _old_mail_count(now: datetime) -> int:
    days = float(current_app.config["OUTBOX_KEEP_DAYS"])
    return int(
        db.session.scalar(
            sa.select(sa.func.count(OutboxMessage.id)).where(
                OutboxMessage.status == OutboxStatus.SENT,
                sa.or_(
                    sa.and_(
                        OutboxMessage.sent_at < now - timedelta(days=days),
                        sa.or_(OutboxMessage.body_text != "", OutboxMessage.body_html != ""),
                    ),
                    sa.and_(
                        OutboxMessage.kind == forgetting.ERASURE_RECEIPT, OutboxMessage.recipient != ""
                    ),
                ),
            )
        )
        or 0
    )


def run(dry_run: bool = False, now: datetime | None = None) -> PurgeReport:
    """Purge every due event, each in its own transaction, then clear old mail. A dry run
    only says what would go and writes nothing (no file either)."""
    now = now or clock.now()
    report = PurgeReport(dry_run)
    for event_id in due_events(now):
        if dry_run:
            event = db.session.get(Event, event_id)
            registrations, teams, messages = _counts(event_id)
            report.events.append(PurgedEvent(event_id, event.title, registrations, teams, messages, 0, None))
            continue
        try:
            purged = purge_event(event_id, now)
        except archive.ArchiveError as error:
            log.error("event %s: the archive record could not be written, nothing purged: %s", event_id, error)
            report.failures.append((event_id, str(error)))
            continue
        if purged is not None:
            report.events.append(purged)
    report.old_messages = _old_mail_count(now) if dry_run else clear_old_mail(now)
    return report
