"""Flask commands, grouped: ``flask outbox`` (deliver mail), ``flask reminders``,
``flask seats check``, ``flask gauging``, ``flask subscriptions``, ``flask evaluations``,
``flask privacy purge``, ``flask create-user`` and ``flask demo``. The command line speaks
English; pages and mail use each person's language.
"""

from __future__ import annotations

import signal
import sys

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup

from .accounts.users import create_user
from .core import clock
from .core.errors import NotFound, Refused
from .core.extensions import db
from .core.i18n import in_language
from .devtools.demo import NotEmpty, ServerDatabase, load_demo
from .evaluations import invitations as evaluation_invitations
from .events.gauging import notify_passed_deadlines
from .mail import delivery
from .models import Event, OutboxMessage, OutboxStatus, Role
from .privacy import purge as privacy_purge
from .registrations import reminders
from .registrations.invariants import rule_violations
from .subscriptions import digests, subscribing

outbox_cli = AppGroup("outbox", help="Deliver queued mail.")
reminders_cli = AppGroup("reminders", help="Queue reminders to people with a seat.")
gauging_cli = AppGroup("gauging", help="Lectures that gauge interest before they are confirmed.")
seats_cli = AppGroup("seats", help="Check the seat rules against the database.")
subscriptions_cli = AppGroup("subscriptions", help="Subscriptions to new events: digests, purge.")
privacy_cli = AppGroup("privacy", help="Retention: archive records, then anonymise; old mail.")
evaluations_cli = AppGroup(
    "evaluations", help="After the course: thank-you mails with the evaluation and certificate."
)


def _summary(report: delivery.DeliveryReport) -> str:
    return f"Sent {report.sent}, will retry {report.retrying}, failed {report.failed}."


def _due_count() -> int:
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
    delivery.work(lambda: stopping, interval, lambda report: click.echo(_summary(report)))
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
        except NotFound:
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
    try:
        subject, text, _html = reminders.preview(event_id, locale)
    except NotFound:
        raise click.ClickException(f"There is no event {event_id}.") from None
    click.echo(f"Subject: {subject}\n\n{text}")


# --- seats, gauging, users, demo -------------------------------------------------------


@seats_cli.command("check")
@click.argument("event_ids", type=int, nargs=-1)
def seats_check_command(event_ids: tuple[int, ...]) -> None:
    """Check the rules that never break for EVENT_IDS (default: every event); exit 1 on any."""
    ids = list(event_ids) or list(db.session.scalars(sa.select(Event.id).order_by(Event.id)))
    broken = 0
    for event_id in ids:
        if db.session.get(Event, event_id) is None:
            raise click.ClickException(f"There is no event {event_id}.")
        for problem in rule_violations(event_id):
            broken += 1
            click.echo(f"event {event_id}: {problem}")
    click.echo(f"Checked {len(ids)} event(s): {broken} broken rule(s).")
    if broken:
        sys.exit(1)


@gauging_cli.command("notify-deadlines")
def notify_deadlines_command() -> None:
    """Mail organisers whose interest deadline passed undecided (once each; for cron)."""
    click.echo(f"Organisers told: {notify_passed_deadlines()}")


@click.command("create-user")
@click.argument("email")
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in Role]),
    help="admin, organiser or coordinator.",
)
@click.option("--organisation", default=None, help="The coordinator's organisation (its exact name).")
@click.option("--name", default="", help="Display name (default: the part of the email before @).")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of a prompt.",
)
def create_user_command(
    email: str, role: str, organisation: str | None, name: str, password_stdin: bool
) -> None:
    """Create a staff user. The password is asked for (twice) unless --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(email, role, password, name=name, organisation_name=organisation)
    except Refused as error:
        with in_language("en"):  # the command line speaks English, like the rest of `flask`
            message = str(error.message)
        raise click.ClickException(message) from error
    where = f" ({user.organisation.name})" if user.organisation else ""
    click.echo(f"Created {user.role.value} {user.email}{where}.")


@click.command("demo")
@click.option(
    "--allow-server-database", is_flag=True,
    help="Load the demo into a PostgreSQL or MariaDB database too (never in production).",
)
def demo_command(allow_server_database: bool) -> None:
    """Load the demo data once into an empty database (does nothing if it is already there)."""
    try:
        loaded = load_demo(allow_server_database=allow_server_database)
    except ServerDatabase as error:
        raise click.ClickException(
            f"{error} is a server database; the demo goes there only with --allow-server-database."
        ) from None
    except NotEmpty as error:
        raise click.ClickException(
            f"The database already holds data ({error} is not empty); the demo only goes into "
            "an empty database."
        ) from None
    if loaded:
        click.echo("Demo data loaded.")
    else:
        click.echo("Demo data already present; nothing changed.")


# --- subscriptions ----------------------------------------------------------------------


@subscriptions_cli.command("send-digests")
def subscriptions_send_digests_command() -> None:
    """Queue the digests of new events that are due (cron, daily: weekly subscribers get
    theirs on the first run of each week). Safe to repeat: nobody gets an event twice."""
    run = digests.send_digests()
    click.echo(
        f"Covered {run.covered} subscriber(s): queued {run.digests} digest(s) "
        f"with {run.events} event(s)."
    )


@subscriptions_cli.command("purge")
@click.option(
    "--days", type=float, default=None,
    help="Delete subscriptions not confirmed within this many days (default: the setting).",
)
def subscriptions_purge_command(days: float | None) -> None:
    """Delete unconfirmed subscriptions that are too old, and the delivery records of
    events that are over (cron, daily)."""
    purged = subscribing.purge(days=days)
    click.echo(
        f"Deleted {purged.unconfirmed} unconfirmed subscription(s) and "
        f"{purged.delivery_records} delivery record(s) of past events."
    )


# --- evaluations ----------------------------------------------------------------------


@evaluations_cli.command("send-due")
def evaluations_send_due_command() -> None:
    """Queue the thank-you mails (evaluation link, certificate) of events whose last
    session has ended, and the one reminder to whoever has not answered (cron, e.g.
    hourly). Safe to repeat: nobody gets either mail twice."""
    run = evaluation_invitations.send_due()
    for event_id, done in run.per_event.items():
        click.echo(
            f"Event {event_id}: {done.thanked} thank-you mail(s), {done.certificates} with a "
            f"certificate; {done.reminded} reminder(s)."
        )
    click.echo(
        f"Looked at {run.events} event(s): queued {run.thanked} thank-you mail(s) "
        f"({run.certificates} with a certificate) and {run.reminded} reminder(s)."
    )


# --- privacy: retention and archiving ------------------------------------------------


@privacy_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Only say what would be archived and removed.")
def privacy_purge_command(dry_run: bool) -> None:
    """Archive and anonymise the events that ended RETENTION_MONTHS ago, and delete the
    contents of mail sent OUTBOX_KEEP_DAYS ago (cron, daily). Each event's archive record
    (CSV, PDF/A, SHA-256) is written to ARCHIVE_FOLDER first; an event whose record cannot
    be written is left as it is, and the command exits with 1. Safe to repeat."""
    report = privacy_purge.run(dry_run=dry_run)
    verb = "Would purge" if dry_run else "Purged"
    for done in report.events:
        archived = ""
        if done.written is not None:
            archived = f"; archived {done.written.pdf} (sha256 {done.written.files[done.written.pdf]})"
        click.echo(
            f"{verb} event {done.event_id} \"{done.title}\": {done.registrations} registration(s), "
            f"{done.teams} team(s), {done.messages} message(s){archived}."
        )
    for event_id, why in report.failures:
        click.echo(f"Event {event_id} NOT purged: its archive record could not be written: {why}", err=True)
    mail = "would lose" if dry_run else "lost"
    click.echo(
        f"{verb} {len(report.events)} event(s); {report.old_messages} sent message(s) {mail} "
        f"their contents."
    )
    if report.failures:
        sys.exit(1)


def init_app(app: Flask) -> None:
    for command in (
        outbox_cli, reminders_cli, seats_cli, gauging_cli, subscriptions_cli, evaluations_cli,
        privacy_cli,
        create_user_command, demo_command,
    ):
        app.cli.add_command(command)
