"""`flask outbox ...` and `flask reminders ...`: delivering mail and queueing reminders."""

from __future__ import annotations

import logging
import signal
import time

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy.exc import DBAPIError

from . import delivery, reminders
from .database import BusyError
from .extensions import db
from .models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

outbox_cli = AppGroup("outbox", help="Deliver queued mail.")
reminders_cli = AppGroup("reminders", help="Queue reminders to people with a seat.")


def _summary(report: delivery.DeliveryReport) -> str:
    return f"Sent {report.sent}, will retry {report.retrying}, failed {report.failed}."


def _due_count() -> int:
    from . import clock

    return db.session.scalar(
        sa.select(sa.func.count(OutboxMessage.id)).where(
            OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
            OutboxMessage.next_attempt_at <= clock.now(),
        )
    )


@outbox_cli.command("send")
@click.option("--limit", type=int, default=None, help="Deliver at most this many messages.")
def send_command(limit: int | None) -> None:
    """Deliver every message that is due, in one pass (for cron), then stop."""
    report = delivery.send_due(limit=limit)
    click.echo(_summary(report))


@outbox_cli.command("work")
@click.option(
    "--interval", type=float, default=2.0, show_default=True,
    help="Seconds to wait when nothing is due before looking again.",
)
def work_command(interval: float) -> None:
    """Keep delivering mail as it is queued (for a service manager). Stops on SIGTERM/Ctrl+C."""
    stopping = False

    def stop(_signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo("Outbox worker started; stop with Ctrl+C or SIGTERM.")
    while not stopping:
        try:
            report = delivery.send_due()
        except (DBAPIError, BusyError) as exc:  # the database restarted or is busy: wait, go on
            db.session.rollback()
            log.warning("outbox worker: database error, retrying: %s", exc)
            report = delivery.DeliveryReport()
        finally:
            db.session.remove()
        if report.total:
            click.echo(_summary(report))
            continue
        waited = 0.0
        while not stopping and waited < interval:
            time.sleep(min(0.2, interval))
            waited += 0.2
    click.echo("Outbox worker stopped.")


@outbox_cli.command("status")
def status_command() -> None:
    """Count messages per status and list the failed ones."""
    counts = delivery.status_counts()
    click.echo(", ".join(f"{status}: {count}" for status, count in counts.items()))
    for message in delivery.failed_messages(limit=50):
        error = (message.last_error or "").splitlines()[0:1]
        click.echo(
            f"  #{message.id} {message.kind} to {message.recipient} "
            f"({message.attempts} attempts): {error[0] if error else ''}"
        )


@outbox_cli.command("retry")
@click.argument("message_ids", type=int, nargs=-1, required=True)
def retry_command(message_ids: tuple[int, ...]) -> None:
    """Put failed messages back in the queue with their attempts reset."""
    for message_id in message_ids:
        try:
            delivery.retry(message_id, None)
        except LookupError:
            raise click.ClickException(f"There is no message {message_id}.") from None
    click.echo(f"{len(message_ids)} message(s) queued again.")


@reminders_cli.command("send")
@click.argument("event_id", type=int)
@click.option(
    "--label", default="manual", show_default=True,
    help="Names the round: the same label never reaches a person twice; a new one sends again.",
)
@click.option(
    "--deliver/--no-deliver", default=True, show_default=True,
    help="Deliver now with a progress bar, or leave the messages to the worker.",
)
def reminders_send_command(event_id: int, label: str, deliver: bool) -> None:
    """Queue one reminder per confirmed registration of EVENT_ID, then deliver them."""
    from .seats import NotFound

    try:
        queued = reminders.queue_reminders(event_id, None, label)
    except NotFound:
        raise click.ClickException(f"There is no event {event_id}.") from None
    click.echo(f"Queued {queued} reminder(s) for event {event_id}.")
    if not deliver or queued == 0:
        return
    due = _due_count()
    with click.progressbar(length=due, label="Delivering", show_pos=True) as bar:
        done = 0

        def progress(report: delivery.DeliveryReport) -> None:
            nonlocal done
            step = min(report.total, due) - done
            if step > 0:
                bar.update(step)
                done += step

        report = delivery.send_due(limit=due, progress=progress)
    click.echo(_summary(report))


@reminders_cli.command("send-due")
def reminders_send_due_command() -> None:
    """Queue the scheduled reminders that are due (for cron, e.g. every 15 minutes)."""
    queued = reminders.send_due()
    total = sum(queued.values())
    if total:
        for event_id, count in queued.items():
            if count:
                click.echo(f"Event {event_id}: queued {count} reminder(s).")
    click.echo(f"Queued {total} scheduled reminder(s).")


@reminders_cli.command("preview")
@click.argument("event_id", type=int)
@click.option("--locale", default="sv", show_default=True, type=click.Choice(["sv", "en"]))
def reminders_preview_command(event_id: int, locale: str) -> None:
    """Print the reminder of EVENT_ID, addressed to a made-up person."""
    from .seats import NotFound

    try:
        subject, text, _html = reminders.preview(event_id, locale)
    except NotFound:
        raise click.ClickException(f"There is no event {event_id}.") from None
    click.echo(f"Subject: {subject}\n\n{text}")


def init_app(app: Flask) -> None:
    app.cli.add_command(outbox_cli)
    app.cli.add_command(reminders_cli)
