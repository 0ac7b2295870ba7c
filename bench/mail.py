"""Mail at scale: queueing a reminder round to 5,000 people in one staff request, and
delivering mail with Kvarn's worker against plain smtplib, same messages, same sink.

    .venv/bin/python bench/mail.py [--count 5000] [--database URL | --postgres URL]
                                   [--no-round]

Queues COUNT real confirmation mails (text, HTML and .ics) in a fresh database
(SQLite in a temporary folder; --database names an empty PostgreSQL or MariaDB
database, whose tables are dropped; --postgres a PostgreSQL server on which a
temporary database ``kvarn_bench_*`` is made and dropped after, and whose backends'
CPU time is then measured too), starts an aiosmtpd sink in its own process, then:

1. Confirmations: times Kvarn's ``delivery.send_due()`` delivering every queued
   message (claim in batches, one SMTP connection per batch, one commit per message
   sent), and plain smtplib sending the same messages (the bytes Kvarn stored when it
   queued them) with ``sendmail`` over one connection, no database at all, once before
   and once after Kvarn's run (the load of a shared machine drifts: Kvarn is compared
   with the average of the two). Also this process's CPU time per message for both.
2. The reminder round, through the real staff request: Kvarn under gunicorn (one sync
   worker, gunicorn's default 30 s worker timeout, CSRF on), an organiser logs in with
   the log-in form, opens the event's reminder page and sends the form; the POST is timed
   end to end (from sending it to its 303 answer), with the worker's CPU time. Every
   one of the COUNT people with a seat must then have exactly one reminder queued.
3. The round's delivery: the same race as 1 for the COUNT reminders.

It prints both rates and their ratio for each (goal: Kvarn >= 0.5 of plain smtplib over
one connection) and the round's time, and exits 1 unless every message arrived exactly
once and the round was queued in one answered request. --no-round skips 2 and 3.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import re
import smtplib
import sys
import tempfile
import time
import urllib.parse
from contextlib import nullcontext
from dataclasses import dataclass
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.course import add_course  # noqa: E402
from bench.rush import Deadline, Meter, postgres_database, serving  # noqa: E402

SENDER = "Kvarn <noreply@kvarn.example>"
ORGANISER = "organiser@bench.example"
PASSWORD = "bench-password-123"
#: gunicorn's own default: a request that takes longer has its worker killed.
GUNICORN_TIMEOUT = 30


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


def queue_confirmations(n: int) -> int:
    """n registrations with a seat and their confirmation mail, as the seats module queues
    it. Returns the event's id."""

    from app.core import clock
    from app.core.database import write_transaction
    from app.core.extensions import db
    from app.models import (
        Registration,
        RegistrationStatus,
    )
    from app.registrations import notices

    def setup() -> tuple[int, int]:
        event, org = add_course(n, description="Fyra dagar om föräldraskapsstöd.")
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
    return event_id


# --- delivery: Kvarn's worker against smtplib ---------------------------------------------


@dataclass
class Race:
    kind: str
    count: int
    size: float  # average bytes
    kvarn_seconds: float
    plain_seconds: tuple[float, float]  # before and after Kvarn's run
    kvarn_cpu: float  # this process's CPU seconds (the worker, and SQLite's work)
    kvarn_db_cpu: float | None  # the PostgreSQL backends' (--postgres), else None
    plain_cpu: float  # the same, for the two smtplib runs together
    sent: int  # as the worker reported
    delivered: int  # as the sink counted, for Kvarn's run
    marked: int  # rows marked sent
    plain_delivered: tuple[int, int]

    @property
    def kvarn_rate(self) -> float:
        return self.count / self.kvarn_seconds

    @property
    def plain_rate(self) -> float:
        """Over the average time of the run before and the run after Kvarn's."""
        return self.count / (sum(self.plain_seconds) / 2)

    @property
    def ratio(self) -> float:
        return self.kvarn_rate / self.plain_rate

    @property
    def exact(self) -> bool:
        n = self.count
        return (self.sent == self.delivered == self.marked == n
                and self.plain_delivered == (n, n))

    def lines(self, what: str) -> list[str]:
        before, after = self.plain_seconds
        kvarn_ms = self.kvarn_cpu / self.count * 1000
        plain_ms = self.plain_cpu / 2 / self.count * 1000
        db_ms = ""
        kvarn_all_ms = kvarn_ms
        if self.kvarn_db_cpu is not None:
            db_ms = f" + {self.kvarn_db_cpu / self.count * 1000:.2f} ms PostgreSQL's"
            kvarn_all_ms += self.kvarn_db_cpu / self.count * 1000
        return [
            f"{what}: {self.count} mails of {self.size / 1024:.1f} KiB on average",
            f"  kvarn outbox:   {self.kvarn_rate:8.0f} messages/s  ({self.sent} sent, sink got "
            f"{self.delivered}, {self.marked} marked sent, {self.kvarn_seconds:.2f} s, "
            f"{kvarn_ms:.2f} ms CPU a message{db_ms})",
            f"  plain smtplib:  {self.plain_rate:8.0f} messages/s  (one connection, "
            f"{before:.2f} s before and {after:.2f} s after Kvarn's run, sink got "
            f"{self.plain_delivered[0]} and {self.plain_delivered[1]}, "
            f"{plain_ms:.2f} ms CPU a message)",
            f"  ratio kvarn / smtplib over one connection: {self.ratio:.2f} "
            f"(goal >= 0.5: {'met' if self.ratio >= 0.5 else 'MISSED'}); CPU a message "
            f"kvarn / smtplib: {kvarn_all_ms / plain_ms:.1f} (the sink's CPU not counted)",
        ]


def race(kind: str, port: int, count, backends=None) -> Race:
    """Deliver every pending mail of ``kind`` with Kvarn's worker, then send the very same
    bytes with smtplib over one connection. Only mail of ``kind`` may be pending."""
    import sqlalchemy as sa

    from app.core.extensions import db
    from app.mail import delivery
    from app.models import OutboxMessage, OutboxStatus

    pending = OutboxMessage.status == OutboxStatus.PENDING
    others = db.session.scalar(
        sa.select(sa.func.count()).select_from(OutboxMessage).where(pending, OutboxMessage.kind != kind)
    )
    if others:
        raise RuntimeError(f"{others} other mails are pending: the race would not be fair")
    rendered = [
        (recipient, wire)
        for recipient, wire in db.session.execute(
            sa.select(OutboxMessage.recipient, OutboxMessage.wire)
            .where(pending, OutboxMessage.kind == kind)
            .order_by(OutboxMessage.id)
        )
    ]
    if not rendered or not all(wire for _to, wire in rendered):
        raise RuntimeError(f"no {kind} mail pending, or one without its finished bytes")
    n = len(rendered)
    db.session.remove()  # start the timed run with an empty session, as a worker does

    def plain() -> tuple[float, float, int]:
        count.value = 0
        cpu, started = time.process_time(), time.perf_counter()
        smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
        for recipient, data in rendered:
            smtp.sendmail("noreply@kvarn.example", [recipient], data)
        smtp.quit()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        wait_for(count, n)
        return seconds, cpu, count.value

    # smtplib before and after Kvarn's run: the machine's load drifts (it is shared), and
    # the average of the two is what Kvarn is compared with.
    plain_before = plain()
    count.value = 0
    with backends.measuring() if backends else nullcontext(Meter()) as meter:
        cpu, started = time.process_time(), time.perf_counter()
        report = delivery.send_due()
        kvarn_seconds, kvarn_cpu = time.perf_counter() - started, time.process_time() - cpu
    wait_for(count, n)
    delivered = count.value
    db.session.rollback()
    marked = db.session.scalar(
        sa.select(sa.func.count(OutboxMessage.id)).where(
            OutboxMessage.kind == kind, OutboxMessage.status == OutboxStatus.SENT
        )
    )
    db.session.remove()
    plain_after = plain()
    return Race(
        kind, n, sum(len(data) for _to, data in rendered) / n, kvarn_seconds,
        (plain_before[0], plain_after[0]), kvarn_cpu, meter.seconds,
        plain_before[1] + plain_after[1],
        report.sent, delivered, marked, (plain_before[2], plain_after[2]),
    )


# --- the reminder round through the staff pages ------------------------------------------


class FormFields(HTMLParser):
    """The fields of the page's POST form whose action is ``action``: hidden and text
    inputs, text areas and selects (their selected option, else the first)."""

    def __init__(self, action: str):
        super().__init__()
        self.action = action
        self.fields: dict[str, str] = {}
        self.found = False
        self._inside = False
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._inside = (a.get("method", "").lower() == "post"
                            and urllib.parse.urlsplit(a.get("action", "")).path == self.action)
            self.found = self.found or self._inside
        elif not self._inside:
            return
        elif tag == "input" and a.get("name") and a.get("type", "text") not in ("checkbox", "submit"):
            self.fields[a["name"]] = a.get("value") or ""
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self.fields[a["name"]] = ""
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
        elif tag == "option" and self._select:
            if "selected" in a or self._select not in self.fields:
                self.fields[self._select] = a.get("value") or ""

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


class Browser:
    """A browser enough for a log-in and a form: cookies kept, redirects not followed."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, fields: dict | None = None,
                timeout: float = GUNICORN_TIMEOUT + 30) -> tuple[int, dict, str]:
        headers = {}
        body = None
        if fields is not None:
            body = urllib.parse.urlencode(fields).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body, headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
            return response.status, dict(response.headers), text
        finally:
            conn.close()

    def form(self, page: str, action: str) -> dict[str, str]:
        status, _headers, text = self.request("GET", page)
        if status != 200:
            raise RuntimeError(f"GET {page} answered {status}")
        parser = FormFields(action)
        parser.feed(text)
        if not parser.found:
            raise RuntimeError(f"no form posting to {action} on {page}")
        return parser.fields


@dataclass
class Round:
    seconds: float  # the POST, end to end
    status: int
    location: str
    worker_cpu: float | None
    queued: int  # reminders in the outbox afterwards
    people: int  # distinct recipients among them


def reminder_round(url: str, workdir: Path, event_id: int, n: int) -> Round:
    """An organiser sends the reminder form of the event with ``n`` seated people."""
    import sqlalchemy as sa

    from app.accounts.users import create_user
    from app.core.extensions import db
    from app.models import OutboxMessage, Role

    create_user(ORGANISER, Role.ORGANISER, PASSWORD, name="Bench Organiser")
    db.session.remove()
    db.engine.dispose()  # no connection of ours open while the server writes
    env = {
        **os.environ,
        "KVARN_INSTANCE_PATH": str(workdir),
        "KVARN_SECRET_KEY": "bench-only",
        "KVARN_SQLALCHEMY_DATABASE_URI": url,
        "KVARN_MAIL_DEFAULT_SENDER": SENDER,
        "PYTHONPATH": str(ROOT),
    }
    log = workdir / "gunicorn.log"
    with serving("app:create_app()", env, 1, log, "/login", Deadline(120),
                 timeout=GUNICORN_TIMEOUT) as server:
        browser = Browser(server.port)
        login = browser.form("/login", "/login")
        status, headers, _text = browser.request(
            "POST", "/login", {**login, "email": ORGANISER, "password": PASSWORD}
        )
        if status not in (302, 303):
            raise RuntimeError(f"the organiser's log-in answered {status}")
        page = f"/staff/events/{event_id}/reminder"
        fields = browser.form(page, page)
        if not re.fullmatch(r"[0-9a-f]{32}", fields.get("key", "")):
            raise RuntimeError(f"the reminder form has no one-time key: {fields}")
        fields["note"] = "Parkera bakom huset.\nIngång från gården, dörr B."
        before = server.cpu_seconds()
        started = time.perf_counter()
        status, headers, text = browser.request("POST", page, fields)
        seconds = time.perf_counter() - started
        after = server.cpu_seconds()
        alive = server.proc.poll() is None and "WORKER TIMEOUT" not in log.read_text()
    if not alive:
        raise RuntimeError(f"gunicorn's worker timed out; its log:\n{log.read_text()[-3000:]}")
    queued, people = db.session.execute(
        sa.select(sa.func.count(), sa.func.count(sa.distinct(OutboxMessage.recipient))).where(
            OutboxMessage.kind == "reminder"
        )
    ).one()
    db.session.remove()
    cpu = after - before if before is not None and after is not None else None
    return Round(seconds, status, headers.get("Location", ""), cpu, queued, people)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--database", default=None, help="an empty PostgreSQL/MariaDB URL")
    where.add_argument("--postgres", default=None, metavar="URL",
                       help="a PostgreSQL server URL: a temporary database is made and dropped")
    parser.add_argument("--no-round", action="store_true",
                        help="only the confirmations: no reminder round through the pages")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kvarn-bench-mail-") as workdir:
        if args.postgres:
            with postgres_database(args.postgres, 0) as database:
                ok = bench(args, Path(workdir), database.url, database.backends, empty=False)
        else:
            url = args.database or f"sqlite:///{Path(workdir) / 'bench.sqlite3'}"
            ok = bench(args, Path(workdir), url, None, empty=bool(args.database))
    if not ok:
        print("ERROR: not every message was delivered exactly once", file=sys.stderr)
        sys.exit(1)


def bench(args, workdir: Path, url: str, backends, empty: bool) -> bool:
    """Everything on the database at ``url``; True when every message went exactly once.
    ``empty``: drop the database's tables first."""
    os.environ["KVARN_INSTANCE_PATH"] = str(workdir)
    port = free_port()

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app import create_app
    from app.core.extensions import db

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": port,
            "MAIL_SUPPRESS_SEND": False,
            "MAIL_DEFAULT_SENDER": SENDER,
        }
    )
    ctx = multiprocessing.get_context("spawn")
    count, ready, stop = ctx.Value("i", 0), ctx.Event(), ctx.Event()
    sink = ctx.Process(target=run_sink, args=(port, count, ready, stop), daemon=True)
    sink.start()
    ready.wait(30)

    lines: list[str] = []
    ok = True
    try:
        with app.app_context():
            if empty:
                with db.engine.begin() as conn:
                    sa.MetaData().reflect(conn)
                    db.metadata.drop_all(conn)
                    conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
            upgrade()
            started = time.perf_counter()
            event_id = queue_confirmations(args.count)
            lines.append(
                f"queued {args.count} confirmation mails in {time.perf_counter() - started:.1f} s "
                f"({db.engine.dialect.name}, batch size {app.config['MAIL_BATCH_SIZE']})"
            )
            confirmations = race("confirmation", port, count, backends)
            lines += confirmations.lines("confirmations (text + HTML + .ics)")
            ok = confirmations.exact
            if not args.no_round:
                sent = reminder_round(url, workdir, event_id, args.count)
                cpu = f"{sent.worker_cpu:.2f} s" if sent.worker_cpu is not None else "unknown"
                rate = sent.queued / sent.seconds if sent.seconds else float("nan")
                lines.append(
                    f"reminder round to {args.count} people, one POST to the reminder page by a "
                    f"logged-in organiser (gunicorn, 1 worker, {GUNICORN_TIMEOUT} s timeout): "
                    f"{sent.seconds:.2f} s end to end, answered {sent.status}, "
                    f"{sent.queued} queued ({rate:.0f} mails/s), worker CPU {cpu}"
                )
                round_ok = (sent.status == 303 and "label=" in sent.location
                            and sent.queued == sent.people == args.count)
                if not round_ok:
                    lines.append(f"  ERROR: the round was not queued in one answered request "
                                 f"({sent.status} {sent.location!r}, {sent.queued} reminders "
                                 f"to {sent.people} people)")
                ok = ok and round_ok
                if sent.queued:
                    reminders = race("reminder", port, count, backends)
                    lines += reminders.lines("the reminder round (text + HTML)")
                    ok = ok and reminders.exact
            db.session.remove()
            db.engine.dispose()  # before a temporary database is dropped
    finally:
        stop.set()
        sink.join(10)
    print("\n".join(lines))
    return ok


if __name__ == "__main__":
    main()
