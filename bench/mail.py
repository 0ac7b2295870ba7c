"""Outbox delivery throughput: Kvarn's worker against plain smtplib, same messages, same sink.

    .venv/bin/python bench/mail.py [--count 5000] [--database URL]

Queues COUNT real confirmation mails (text, HTML and .ics) in a fresh database
(SQLite in a temporary folder unless --database names an empty PostgreSQL or
MariaDB database, whose tables are dropped), starts an aiosmtpd sink in its own
process, then times:

1. Kvarn: ``delivery.send_due()`` delivering every queued message (claim in
   batches, one SMTP connection per batch, one commit per message sent).
2. Plain smtplib: the same messages (the bytes Kvarn stored when it queued
   them), sent with ``sendmail`` over one connection, no database at all.

It prints both rates and their ratio (goal: Kvarn >= 0.5 of plain smtplib).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import smtplib
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run_sink(port: int, count, ready, stop) -> None:
    """An aiosmtpd server in its own process that only counts what it accepts."""
    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, server, session, envelope):
            with count.get_lock():
                count.value += 1
            return "250 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(count, target: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while count.value < target and time.monotonic() < deadline:
        time.sleep(0.01)


def queue_confirmations(n: int) -> None:
    """n registrations with a seat and their confirmation mail, as the seats module queues it."""
    from datetime import timedelta

    from app.core import clock
    from app.core.database import write_transaction
    from app.core.extensions import db
    from app.models import (
        Event,
        EventKind,
        EventSession,
        EventStatus,
        Organisation,
        Registration,
        RegistrationStatus,
    )
    from app.registrations import notices

    def setup() -> int:
        org = Organisation(name="Alingsås kommun")
        start = clock.now() + timedelta(days=20)
        event = Event(
            kind=EventKind.COURSE,
            title="Föräldraskapsstöd i praktiken",
            description="Fyra dagar om föräldraskapsstöd.",
            what_to_bring="Anteckningsblock",
            capacity=n,
            status=EventStatus.OPEN,
            contact_email="kursledare@kommun.example",
        )
        for day in range(2):
            event.sessions.append(
                EventSession(
                    starts_at=start + timedelta(days=day),
                    ends_at=start + timedelta(days=day, hours=7),
                    venue="Alingsås kulturhus, Sal Fors",
                )
            )
        db.session.add_all([org, event])
        db.session.flush()
        return event.id, org.id

    event_id, org_id = write_transaction(setup)
    chunk = 500
    for offset in range(0, n, chunk):

        def work(offset: int = offset) -> None:
            now = clock.now()
            people = [
                Registration(
                    event_id=event_id,
                    name=f"Deltagare {i}",
                    email=f"deltagare{i}@example.org",
                    active_email=f"deltagare{i}@example.org",
                    organisation_id=org_id,
                    locale="sv" if i % 3 else "en",
                    status=RegistrationStatus.CONFIRMED,
                    created_at=now,
                    status_changed_at=now,
                )
                for i in range(offset, min(offset + chunk, n))
            ]
            db.session.add_all(people)
            db.session.flush()
            for person in people:
                notices.registration_created(person)

        write_transaction(work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--database", default=None, help="an empty PostgreSQL/MariaDB URL")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="kvarn-bench-mail-"))
    os.environ["KVARN_INSTANCE_PATH"] = str(workdir)
    url = args.database or f"sqlite:///{workdir / 'bench.sqlite3'}"
    port = free_port()

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app import create_app
    from app.core.extensions import db
    from app.mail import delivery
    from app.models import OutboxMessage, OutboxStatus

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": port,
            "MAIL_SUPPRESS_SEND": False,
            "MAIL_DEFAULT_SENDER": "Kvarn <noreply@kvarn.example>",
        }
    )
    ctx = multiprocessing.get_context("spawn")
    count, ready, stop = ctx.Value("i", 0), ctx.Event(), ctx.Event()
    sink = ctx.Process(target=run_sink, args=(port, count, ready, stop), daemon=True)
    sink.start()
    ready.wait(30)

    with app.app_context():
        if args.database:
            with db.engine.begin() as conn:
                sa.MetaData().reflect(conn)
                db.metadata.drop_all(conn)
                conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade()
        started = time.perf_counter()
        queue_confirmations(args.count)
        print(f"queued {args.count} confirmation mails in {time.perf_counter() - started:.1f} s "
              f"({db.engine.dialect.name}, batch size {app.config['MAIL_BATCH_SIZE']})")

        # The same messages, the very bytes Kvarn stored when queueing them, for smtplib.
        rendered = [
            (recipient, wire)
            for recipient, wire in db.session.execute(
                sa.select(OutboxMessage.recipient, OutboxMessage.wire).order_by(OutboxMessage.id)
            )
        ]
        assert all(wire for _to, wire in rendered), "every queued message has its bytes"
        db.session.remove()  # start the timed run with an empty session, as a worker does
        size = sum(len(data) for _to, data in rendered) / len(rendered)

        # Kvarn first, then smtplib, so a warm sink favours the baseline if anything.
        count.value = 0
        started = time.perf_counter()
        report = delivery.send_due()
        kvarn_seconds = time.perf_counter() - started
        wait_for(count, args.count)
        delivered = count.value
        db.session.rollback()
        sent_rows = db.session.scalar(
            sa.select(sa.func.count(OutboxMessage.id)).where(
                OutboxMessage.status == OutboxStatus.SENT
            )
        )

        count.value = 0
        started = time.perf_counter()
        smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
        for recipient, data in rendered:
            smtp.sendmail("noreply@kvarn.example", [recipient], data)
        smtp.quit()
        plain_seconds = time.perf_counter() - started
        wait_for(count, args.count)

    stop.set()
    sink.join(10)
    kvarn_rate = args.count / kvarn_seconds
    plain_rate = args.count / plain_seconds
    print(f"average message size: {size / 1024:.1f} KiB (text + HTML + .ics)")
    print(f"kvarn outbox:   {kvarn_rate:8.0f} messages/s  ({report.sent} sent, sink got "
          f"{delivered}, {sent_rows} marked sent, {kvarn_seconds:.2f} s)")
    print(f"plain smtplib:  {plain_rate:8.0f} messages/s  ({plain_seconds:.2f} s, one connection)")
    print(f"ratio kvarn / smtplib: {kvarn_rate / plain_rate:.2f} (goal >= 0.5)")
    if delivered != args.count or report.sent != args.count or sent_rows != args.count:
        print("ERROR: not every message was delivered exactly once", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
