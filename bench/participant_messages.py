"""How long does queueing one round of mail to 5,000 people take (one request's work)?

    .venv/bin/python bench/participant_messages.py [--count 5000] [--database URL]

Seeds COUNT people with a seat (every third in English) on a two-session course in a
fresh database (SQLite in a temporary folder unless --database names an *empty*
PostgreSQL or MariaDB database, whose tables are dropped), then times the services the
organiser's pages call, each one write transaction:

1. ``reminders.send_reminder``: the reminder with the organiser's own text;
2. ``messages.send_message``: a free-text message to everyone with a seat;
3. the same message form sent again (a double click): finds its round, queues nothing;
4. for comparison, the same reminder rendered per person (``notices.reminder``, which
   renders three templates per mail through ``outbox.enqueue``), in one transaction.

Each round is rendered once per language (``mail.stencil``) and stored with one INSERT
per chunk (``mail.outbox.enqueue_rendered``); what is left per person is filling in the
name and link and building the finished RFC 5322 bytes. Prints the seconds and the rate,
and exits 1 unless every person got each mail exactly once.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.course import add_course  # noqa: E402


def seed(n: int) -> int:

    from app.core import clock
    from app.core.database import write_transaction
    from app.core.extensions import db
    from app.models import (
        Registration,
        RegistrationStatus,
    )

    def work() -> int:
        event, org = add_course(n)
        now = clock.now()
        db.session.add_all(
            Registration(
                event_id=event.id,
                name=f"Deltagare {i}",
                email=f"deltagare{i}@example.org",
                active_email=f"deltagare{i}@example.org",
                organisation_id=org.id,
                locale="en" if i % 3 == 0 else "sv",
                status=RegistrationStatus.CONFIRMED,
                created_at=now,
                status_changed_at=now,
            )
            for i in range(n)
        )
        return event.id

    return write_transaction(work)


def per_person(event_id: int):
    """The reminder queued the way every other notice is: rendered per person."""
    import sqlalchemy as sa

    from app.core.database import write_transaction
    from app.core.extensions import db
    from app.models import Registration
    from app.registrations import messages, notices
    from app.registrations.locking import lock_event

    def work():
        lock_event(event_id)
        people = db.session.scalars(sa.select(Registration).where(Registration.event_id == event_id))
        queued = sum(notices.reminder(person, "per-person") for person in people)
        return messages.Sent(0, "per-person", queued)

    return write_transaction(work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--database", default=None, help="an empty PostgreSQL/MariaDB URL")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="kvarn-bench-messages-"))
    os.environ["KVARN_INSTANCE_PATH"] = str(workdir)
    url = args.database or f"sqlite:///{workdir / 'bench.sqlite3'}"

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app import create_app
    from app.core.extensions import db
    from app.models import OutboxMessage
    from app.registrations import messages, reminders

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "MAIL_DEFAULT_SENDER": "Kvarn <noreply@kvarn.example>"})
    with app.app_context():
        if args.database:
            with db.engine.begin() as conn:
                sa.MetaData().reflect(conn)
                db.metadata.drop_all(conn)
                conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade()
        event_id = seed(args.count)
        db.session.remove()
        note = "Parkera bakom huset.\nIngång från gården, dörr B."
        draft = messages.Draft(messages.SEATED, "Om parkeringen", note)
        timings = []
        for what, run in (
            ("reminder with own text", lambda: reminders.send_reminder(event_id, None, "1" * 32, note)),
            ("free-text message", lambda: messages.send_message(event_id, None, "2" * 32, draft)),
            ("the message form again", lambda: messages.send_message(event_id, None, "2" * 32, draft)),
            ("reminder, per person", lambda: per_person(event_id)),
        ):
            started = time.perf_counter()
            sent = run()
            seconds = time.perf_counter() - started
            db.session.remove()
            timings.append((what, sent.queued if not sent.again else 0, seconds))
        for what, queued, seconds in timings:
            rate = f"{queued / seconds:7.0f} mails/s" if queued else " " * 14
            print(f"{what:24} {queued:6d} queued in {seconds:6.2f} s  {rate}  ({db.engine.dialect.name})")
        counts = dict(
            db.session.execute(
                sa.select(OutboxMessage.kind, sa.func.count(sa.distinct(OutboxMessage.recipient)))
                .group_by(OutboxMessage.kind)
            ).all()
        )
        total = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
        unbuilt = db.session.scalar(
            sa.select(sa.func.count()).select_from(OutboxMessage).where(OutboxMessage.wire.is_(None))
        )
    ok = counts == {"reminder": args.count, "participant_message": args.count} and total == 3 * args.count
    print(f"{total} mails in the outbox, {unbuilt} without finished bytes: {'ok' if ok and not unbuilt else 'WRONG'}")
    sys.exit(0 if ok and not unbuilt else 1)


if __name__ == "__main__":
    main()
