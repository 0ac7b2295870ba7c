"""Delivering the outbox over SMTP, exactly once per message as far as SMTP allows.

A pass (``send_due``) repeats three steps until nothing is due:

1. Claim a batch in one short write transaction: due messages (pending and
   ``next_attempt_at`` reached, or ``sending`` with an expired lease) are
   selected ``FOR UPDATE SKIP LOCKED`` on PostgreSQL and MariaDB (several
   workers split the queue, none waits for another), marked ``sending`` with a
   lease, and their attempt counted. On SQLite the claim runs under
   ``BEGIN IMMEDIATE``, so claims are serialised; run one worker there.
2. Send the batch over one SMTP connection (Flask-Mail, with a socket timeout),
   outside any transaction.
3. Record each outcome in its own tiny transaction right after the server
   answered, before the next message is sent: sent; a 4xx reply, a timeout or a
   dropped connection (the rest of the batch is then given back) means retry
   later with exponential back-off; a 5xx reply means failed at once (a refused
   recipient fails only that message); after ``MAIL_MAX_ATTEMPTS`` attempts the
   message is failed and shown to staff.

``work`` repeats passes until told to stop: the loop of ``flask outbox work`` and of
the worker thread ``make run`` starts (``app.devserver``).

The only window for a duplicate is a crash (or lost database) between the SMTP
server accepting a message and the ``sent`` commit that follows it at once: the
lease then expires and the message is sent again. A worker never starts a
message whose lease could run out while it is being sent.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import smtplib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_mail import BadHeaderError, Connection, email_dispatched, sanitize_address
from sqlalchemy.engine import Connection as DBConnection
from sqlalchemy.exc import DBAPIError

from ..audit import entries as audit
from ..core import clock
from ..core.database import (
    SINGLE_STATEMENT_OPTION,
    BusyError,
    is_retryable,
    write_transaction,
    writer_turn,
)
from ..core.errors import NotFound
from ..core.extensions import db
from ..models import OutboxMessage, OutboxStatus
from . import message as mime

log = logging.getLogger(__name__)

# Each SMTP exchange for one message (MAIL, RCPT, DATA, end of data) may take up to
# MAIL_TIMEOUT; a message is only started while this many timeouts fit in the lease.
_TIMEOUTS_PER_MESSAGE = 4


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    retrying: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.failed + self.retrying

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.sent + other.sent, self.failed + other.failed, self.retrying + other.retrying
        )


@dataclass(frozen=True)
class Claimed:
    """What a worker needs to send one message, read while claiming it."""

    id: int
    attempts: int
    recipient: str
    sender: str
    message_id: str
    #: The finished message, stored at queue time; None for a row queued without it.
    wire: bytes | None = None
    #: What a row without its finished message is built from (read only for such rows:
    #: the texts and the calendar files are most of a row, and a row with its bytes
    #: does not need them).
    parts: mime.MessageParts | None = None


class _Connection(Connection):
    """Flask-Mail's connection with a socket timeout (Flask-Mail sets none)."""

    def __init__(self, mail, timeout: float) -> None:
        super().__init__(mail)
        self.timeout = timeout

    def configure_host(self) -> smtplib.SMTP:
        mail = self.mail
        smtp_class = smtplib.SMTP_SSL if mail.use_ssl else smtplib.SMTP
        host = smtp_class(mail.server, mail.port, timeout=self.timeout)
        host.set_debuglevel(int(mail.debug))
        if mail.use_tls:
            host.starttls()
        if mail.username and mail.password:
            host.login(mail.username, mail.password)
        return host

    def send(self, message: mime.StoredMessage, envelope_from: str | None = None) -> None:
        """Flask-Mail's ``send`` for a message finished when it was queued: the same
        checks, envelope, signal and ``MAIL_MAX_EMAILS``, without parsing and encoding a
        plain address or the sender's again for every message (a large share of a
        delivery's own CPU)."""
        if message.has_bad_headers():
            raise BadHeaderError
        if self.host is not None:
            self.host.sendmail(
                _envelope_address(envelope_from or message.sender),
                [_envelope_address(recipient) for recipient in message.send_to],
                message.as_bytes(),
                message.mail_options,
                message.rcpt_options,
            )
        email_dispatched.send(current_app._get_current_object(), message=message)
        self.num_emails += 1
        if self.num_emails == self.mail.max_emails:  # MAIL_MAX_EMAILS: a fresh connection
            self.num_emails = 0
            if self.host:
                self.host.quit()
                self.host = self.configure_host()

    def __exit__(self, *exc_info) -> None:
        if self.host is None:
            return
        try:
            self.host.quit()
        except (smtplib.SMTPException, OSError):
            self.host.close()


def _envelope_address(address: str) -> str:
    """The address as Flask-Mail puts it in the envelope (``sanitize_address``): a plain
    address is that already."""
    return address if mime.is_plain_address(address) else _sanitized(address)


@functools.lru_cache(maxsize=64)
def _sanitized(address: str) -> str:
    # The sender and reply-to addresses with a name: a few, on every message.
    return sanitize_address(address)


# --- settings -----------------------------------------------------------------


def _timeout() -> float:
    return float(current_app.config["MAIL_TIMEOUT"])


def _lease() -> timedelta:
    # Never shorter than the time one message may legitimately take.
    seconds = max(
        float(current_app.config["MAIL_LEASE_SECONDS"]),
        (_TIMEOUTS_PER_MESSAGE + 1) * _timeout(),
    )
    return timedelta(seconds=seconds)


def backoff(attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: base, 2 x base, 4 x base, ..."""
    base = float(current_app.config["MAIL_RETRY_BASE_SECONDS"])
    return timedelta(seconds=base * 2 ** max(attempts - 1, 0))


# --- claiming and recording -----------------------------------------------------


_CLAIM_COLUMNS = (
    OutboxMessage.id,
    OutboxMessage.status,
    OutboxMessage.recipient,
    OutboxMessage.sender,
    OutboxMessage.message_id,
    OutboxMessage.attempts,
    OutboxMessage.wire,
)
_PART_NAMES = tuple(field.name for field in dataclasses.fields(mime.MessageParts))
_PARTS = sa.select(OutboxMessage.id, *(getattr(OutboxMessage, name) for name in _PART_NAMES))


def _due_query(status: OutboxStatus, now: datetime, limit: int):
    """Due messages of one status, oldest first, skipping rows other workers hold.

    One status per query (not ``IN``), so MariaDB walks the (status, next_attempt_at)
    index in order and locks only the rows it returns instead of every row it sorts.
    """
    return (
        sa.select(*_CLAIM_COLUMNS)
        .where(OutboxMessage.status == status, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def claim(limit: int) -> tuple[list[Claimed], datetime]:
    """Lease up to ``limit`` due messages to this worker. Returns them and the lease end.

    A claimed message's ``next_attempt_at`` is set to the lease end, so a message
    whose worker died becomes due again when its lease expires.
    """
    max_attempts = int(current_app.config["MAIL_MAX_ATTEMPTS"])

    def work() -> tuple[list[Claimed], datetime]:
        now = clock.now()
        leased_until = now + _lease()
        # Messages whose worker died (lease expired) first, then those waiting.
        rows = list(db.session.execute(_due_query(OutboxStatus.SENDING, now, limit)))
        if len(rows) < limit:
            rows += db.session.execute(_due_query(OutboxStatus.PENDING, now, limit - len(rows)))
        # A worker died mid-send on the last allowed attempt: give up on the message.
        dead = [r.id for r in rows if r.status == OutboxStatus.SENDING and r.attempts >= max_attempts]
        if dead:
            db.session.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.id.in_(dead))
                .values(
                    status=OutboxStatus.FAILED,
                    leased_until=None,
                    last_error="The worker stopped while sending (its lease expired).",
                )
            )
        live = [r for r in rows if r.id not in dead]
        if live:
            db.session.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.id.in_([r.id for r in live]))
                .values(
                    status=OutboxStatus.SENDING,
                    attempts=OutboxMessage.attempts + 1,
                    leased_until=leased_until,
                    next_attempt_at=leased_until,
                )
            )
        parts = _parts_of([r.id for r in live if r.wire is None])
        claimed = [
            Claimed(
                id=r.id,
                attempts=r.attempts + 1,
                recipient=r.recipient,
                sender=r.sender,
                message_id=r.message_id,
                wire=r.wire,
                parts=parts.get(r.id),
            )
            for r in live
        ]
        return claimed, leased_until

    return write_transaction(work)


def _parts_of(ids: list[int]) -> dict[int, mime.MessageParts]:
    """The parts of rows queued without their finished message, to build it from."""
    if not ids:
        return {}
    parts = {}
    for row in db.session.execute(_PARTS.where(OutboxMessage.id.in_(ids))):
        values = {name: getattr(row, name) for name in _PART_NAMES}
        values["attachments"] = list(values["attachments"] or [])
        parts[row.id] = mime.MessageParts(**values)
    return parts


# The database connection a batch records its outcomes on (set by ``deliver``): one
# connection for the batch instead of a pool checkout and reset per message.
_batch_connection: ContextVar[DBConnection | None] = ContextVar("kvarn_batch_connection", default=None)


@contextmanager
def _outcome_connection() -> Iterator[DBConnection]:
    """The connection a batch records its outcomes on, each a one-row UPDATE.

    Every outcome is committed by itself as its statement completes (autocommit: one
    round trip, no BEGIN and COMMIT around it; on SQLite ``SINGLE_STATEMENT_OPTION``).
    On PostgreSQL it is also visible to every other worker at once without waiting for
    the WAL flush to disk: only a crash of the database server itself in the next
    fraction of a second could lose a mark (and the message would then go again), never
    a seat or a queued message.
    """
    with db.engine.connect() as connection:
        name = connection.dialect.name
        if name == "sqlite":
            connection.execution_options(**{SINGLE_STATEMENT_OPTION: True})
            yield connection
            return
        connection.execution_options(isolation_level="AUTOCOMMIT")
        if name == "postgresql":
            with connection.begin():
                connection.exec_driver_sql("SET synchronous_commit = off")
        try:
            yield connection
        finally:
            if name == "postgresql":
                try:
                    connection.exec_driver_sql("RESET synchronous_commit")
                except DBAPIError:
                    connection.invalidate()  # never pass it on to the pool with the setting off


def _execute(statement, parameters: dict | None = None) -> None:
    """One statement in its own short transaction, committed at once (retried on locks).

    A single-row write needs no read under a lock, so it bypasses the session,
    which costs several times as much per message.
    """
    attempts = int(current_app.config["WRITE_RETRIES"])
    for attempt in range(1, attempts + 1):
        try:
            held = _batch_connection.get()
            with writer_turn():
                if held is not None:
                    with held.begin():
                        held.execute(statement, parameters or {})
                else:
                    with db.engine.begin() as connection:
                        connection.execute(statement, parameters or {})
            return
        except DBAPIError as exc:
            if attempt == attempts or not is_retryable(exc):
                raise
            time.sleep(0.01 * 2**attempt)


def _update(message_id: int, **values) -> None:
    _execute(sa.update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values))


# Built once, so SQLAlchemy's compiled-statement cache serves every "sent".
_MARK_SENT = (
    sa.update(OutboxMessage)
    .where(OutboxMessage.id == sa.bindparam("b_id"))
    .values(
        status=OutboxStatus.SENT,
        sent_at=sa.bindparam("b_sent_at", type_=OutboxMessage.__table__.c.sent_at.type),
        leased_until=None,
        last_error=None,
        wire=None,  # sent: the parts stay readable, the stored bytes are not needed again
    )
)


def _mark_sent(message: Claimed) -> None:
    """The commit that closes the window for a duplicate: run right after the server's OK."""
    _execute(_MARK_SENT, {"b_id": message.id, "b_sent_at": clock.now()})


def _mark_unsuccessful(message: Claimed, error: str, permanent: bool) -> str:
    """Failed for good, or pending again after a back-off. Returns "failed"/"retrying"."""
    error = error[:2000]
    if permanent or message.attempts >= int(current_app.config["MAIL_MAX_ATTEMPTS"]):
        _update(message.id, status=OutboxStatus.FAILED, leased_until=None, last_error=error)
        log.warning("mail %s to %s failed: %s", message.id, message.recipient, error)
        return "failed"
    _update(
        message.id,
        status=OutboxStatus.PENDING,
        leased_until=None,
        next_attempt_at=clock.now() + backoff(message.attempts),
        last_error=error,
    )
    log.info("mail %s to %s will be retried: %s", message.id, message.recipient, error)
    return "retrying"


def _release(messages: list[Claimed]) -> None:
    """Give back claimed messages this worker did not try to send (attempt not counted)."""
    if not messages:
        return
    now = clock.now()

    def work() -> None:
        for message in messages:
            db.session.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.id == message.id)
                .values(
                    status=OutboxStatus.PENDING,
                    attempts=message.attempts - 1,
                    leased_until=None,
                    next_attempt_at=now,
                )
            )

    write_transaction(work)


# --- sending ------------------------------------------------------------------


def _outgoing(message: Claimed) -> mime.StoredMessage:
    """The message to send: its stored bytes, or (a row without them) built now."""
    wire = message.wire if message.wire is not None else mime.wire_bytes(message.parts)
    return mime.StoredMessage(message.recipient, message.sender, wire, message.message_id)


def _smtp_code(exc: Exception) -> int | None:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _reply in exc.recipients.values()]
        return max(codes) if codes else None
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code
    return None


def _describe(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{address}: {code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
            for address, (code, reply) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        return f"{exc.smtp_code} {text}"
    return f"{type(exc).__name__}: {exc}"


def _tally(report: DeliveryReport, outcome: str) -> None:
    setattr(report, outcome, getattr(report, outcome) + 1)


def _connection_lost(
    report: DeliveryReport, connection: _Connection, batch: list[Claimed], index: int, error: str
) -> None:
    """This message waits for a retry; the rest of the batch is claimed afresh."""
    _tally(report, _mark_unsuccessful(batch[index], error, permanent=False))
    _release(batch[index + 1 :])
    if connection.host is not None:
        connection.host.close()
        connection.host = None


def deliver(
    batch: list[Claimed],
    leased_until: datetime,
    progress: Callable[[DeliveryReport], None] | None = None,
) -> DeliveryReport:
    """Send a claimed batch over one SMTP connection and record every outcome."""
    report = DeliveryReport()
    if not batch:
        return report
    mail_state = current_app.extensions["mail"]
    last_start = leased_until - timedelta(seconds=_TIMEOUTS_PER_MESSAGE * _timeout())
    try:
        connection = _Connection(mail_state, _timeout()).__enter__()
    except (smtplib.SMTPException, OSError) as exc:
        error = f"Could not connect to {mail_state.server}:{mail_state.port}: {_describe(exc)}"
        for message in batch:
            _tally(report, _mark_unsuccessful(message, error, permanent=False))
        if progress:
            progress(report)
        return report

    with connection, _outcome_connection() as db_connection:
        token = _batch_connection.set(db_connection)
        try:
            _send_batch(connection, batch, last_start, report, progress)
        finally:
            _batch_connection.reset(token)
    if progress:
        progress(report)
    return report


def _send_batch(
    connection: _Connection,
    batch: list[Claimed],
    last_start: datetime,
    report: DeliveryReport,
    progress: Callable[[DeliveryReport], None] | None,
) -> None:
    for index, message in enumerate(batch):
        if clock.now() >= last_start:
            _release(batch[index:])  # the lease is nearly over: let a fresh claim take them
            return
        try:
            mail_message = _outgoing(message)
        except (BadHeaderError, ValueError, TypeError, KeyError) as exc:
            _tally(report, _mark_unsuccessful(message, f"Bad message: {exc}", permanent=True))
            continue
        try:
            connection.send(mail_message)
        except smtplib.SMTPServerDisconnected as exc:
            _connection_lost(report, connection, batch, index, _describe(exc))
            return
        except smtplib.SMTPSenderRefused as exc:
            # About our sender, not this message (a setting to fix): wait and retry.
            _tally(report, _mark_unsuccessful(message, _describe(exc), permanent=False))
        except smtplib.SMTPException as exc:
            code = _smtp_code(exc)
            if code == 421:  # the server is closing the connection
                _connection_lost(report, connection, batch, index, _describe(exc))
                return
            permanent = code is not None and 500 <= code < 600
            _tally(report, _mark_unsuccessful(message, _describe(exc), permanent))
        except OSError as exc:  # timeout, reset: smtplib's errors are OSErrors too
            _connection_lost(report, connection, batch, index, _describe(exc))
            return
        except BadHeaderError as exc:
            _tally(report, _mark_unsuccessful(message, f"Bad header: {exc}", permanent=True))
        else:
            _mark_sent(message)  # at once: this commit closes the window for a duplicate
            report.sent += 1
        finally:
            if progress:
                progress(report)


def send_due(
    limit: int | None = None, progress: Callable[[DeliveryReport], None] | None = None
) -> DeliveryReport:
    """Deliver everything that is due, batch by batch, until nothing is (or ``limit``).

    Used by ``flask outbox send`` (one pass, for cron) and ``work``.
    ``progress`` is called with the running totals after each message.
    """
    batch_size = max(1, int(current_app.config["MAIL_BATCH_SIZE"]))
    total = DeliveryReport()
    while limit is None or total.total < limit:
        size = batch_size if limit is None else min(batch_size, limit - total.total)
        batch, leased_until = claim(size)
        if not batch:
            break

        def running(batch_report: DeliveryReport, done: DeliveryReport = total) -> None:
            if progress:
                progress(done + batch_report)

        total = total + deliver(batch, leased_until, running if progress else None)
    return total


def work(
    should_stop: Callable[[], bool],
    interval: float = 2.0,
    on_report: Callable[[DeliveryReport], None] | None = None,
) -> None:
    """Keep delivering mail as it is queued until ``should_stop()`` is true.

    Runs ``send_due`` passes; after a pass that found nothing it waits ``interval``
    seconds (looking at ``should_stop`` every 0.2 s) before the next. A database
    error (restarted, busy) is logged and the loop goes on. ``on_report`` gets every
    pass that delivered something. Needs an app context; the session is removed
    after each pass. ``flask outbox work`` and ``app.devserver`` both run this.
    """
    step = min(0.2, interval)
    while not should_stop():
        try:
            report = send_due()
        except (DBAPIError, BusyError) as exc:  # the database restarted or is busy: wait, go on
            db.session.rollback()
            log.warning("outbox worker: database error, retrying: %s", exc)
            report = DeliveryReport()
        finally:
            db.session.remove()
        if report.total:
            if on_report:
                on_report(report)
            continue
        waited = 0.0
        while not should_stop() and waited < interval:
            time.sleep(step)
            waited += step


# --- staff actions and views ----------------------------------------------------


def retry(message_id: int, user_id: int | None) -> None:
    """Put a failed message back in the queue with its attempts reset.

    Raises ``NotFound`` when there is no such message; a message that has
    not failed is left as it is.
    """

    def work() -> None:
        message = db.session.execute(
            sa.select(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if message is None:
            raise NotFound()
        if message.status != OutboxStatus.FAILED:
            return
        previous_error = message.last_error
        message.status = OutboxStatus.PENDING
        message.attempts = 0
        message.next_attempt_at = clock.now()
        message.leased_until = None
        if user_id is not None:
            audit.record(
                user_id,
                "outbox.retry",
                message,
                {"recipient": message.recipient, "kind": message.kind, "error": previous_error},
            )

    write_transaction(work)


def failed_messages(event_id: int | None = None, limit: int = 200) -> list[OutboxMessage]:
    """Failed messages, newest first (for staff pages), optionally for one event."""
    query = (
        sa.select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.FAILED)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
    )
    if event_id is not None:
        query = query.where(OutboxMessage.event_id == event_id)
    return list(db.session.scalars(query))


def status_counts(event_id: int | None = None) -> dict[str, int]:
    """How many messages are in each status (all four keys always present)."""
    query = sa.select(OutboxMessage.status, sa.func.count(OutboxMessage.id)).group_by(
        OutboxMessage.status
    )
    if event_id is not None:
        query = query.where(OutboxMessage.event_id == event_id)
    counts = {status.value: 0 for status in OutboxStatus}
    for status, count in db.session.execute(query):
        counts[OutboxStatus(status).value] = count
    return counts
