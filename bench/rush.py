"""The morning rush: many people sign up for one event at once, through real HTTP.

    .venv/bin/python bench/rush.py [--signups 600] [--clients 16] [--workers 2]
                                   [--capacity 150] [--postgres URL] [--no-sqlite]
                                   [--repeat 1]

For SQLite (a temporary file) and, when --postgres or KVARN_TEST_POSTGRES_URL gives a
server, for PostgreSQL (a temporary database ``kvarn_bench_*`` created on that server and
dropped after):

1. migrates the database with ``flask db upgrade`` and creates an organisation, two
   rushed events with fewer seats than sign-ups (one for Kvarn, one for the same-work
   baseline) and a roomy warm-up event;
2. starts Kvarn under gunicorn (``app:create_app()``, --workers sync workers, bound to
   127.0.0.1, CSRF and rate limits off) and fires the sign-ups (POST
   /events/<id>/register) from --clients threads of this process, after a warm-up;
3. starts the same-work baseline (bench/baseline_app.py ``create_samework_app``: the
   lock, the counts, the earlier registration, the registration row and an outbox row
   holding a copy of one of Kvarn's own mails, with the raw driver) under the same gunicorn
   settings, on the same tables, and fires the same load at it;
4. does the same for the bare INSERT baseline (``create_app``: one raw INSERT a request),
   kept as a second reference line;
5. prints, for the three, sign-ups per second, p50 and p99 latency and the server CPU time
   per sign-up: the gunicorn workers' (from /proc) and, on PostgreSQL, the server's
   backends serving the bench database (from /proc; on SQLite the database works inside
   the app's processes); the ratios Kvarn/same-work for CPU and throughput; and checks the
   final counts and the rules (app/registrations/invariants.py) of both rushed events.

Goals (issue #15): Kvarn's CPU per sign-up <= 2.0 x the same-work baseline's; p99 < 100 ms
at 16 clients and 2 workers on SQLite (the defaults); no rule broken. The exit status is 1
when a rule is broken or a request failed (the goals are reported, not enforced: they
depend on the machine). --repeat runs everything N times, each on fresh databases, and
ends with the median run's ratios. Every server is stopped and every temporary file and
database removed, also on Ctrl-C; --timeout bounds the whole run.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"  # traffic never leaves this machine
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class Deadline:
    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        return self.at - time.monotonic()

    def check(self, what: str) -> None:
        if self.left() <= 0:
            raise TimeoutError(f"the bench ran out of time ({what})")


@dataclass
class Load:
    """What one burst of sign-ups did."""

    statuses: dict[int, int]
    latencies: list[float]  # seconds, successful requests only
    seconds: float
    app_cpu: float | None = None  # CPU seconds the server's workers used meanwhile
    db_cpu: float | None = None  # CPU seconds of the database server's backends (PostgreSQL)

    def per_request_ms(self, seconds: float | None) -> float:
        if seconds is None or not self.ok:
            return float("nan")
        return seconds / self.ok * 1000

    @property
    def app_ms(self) -> float:
        return self.per_request_ms(self.app_cpu)

    @property
    def db_ms(self) -> float:
        return self.per_request_ms(self.db_cpu)

    @property
    def total_ms(self) -> float:
        if self.app_cpu is None:
            return float("nan")
        return self.per_request_ms(self.app_cpu + (self.db_cpu or 0.0))

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, q: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1]


def proc_cpu_seconds(pid: int | str) -> float | None:
    """User + system CPU seconds a process has used (Linux /proc), None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


# --- servers ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# A gunicorn config file whose hook leaves one file per worker that has loaded the app,
# so the measurement starts only when every worker is up (a booting worker eats CPU).
HOOKS = """
import os
def post_worker_init(worker):
    open(os.path.join({booted!r}, str(worker.pid)), "w").close()
"""


class Gunicorn:
    """One gunicorn master in its own process group, stopped (and reaped) on exit."""

    def __init__(self, target: str, env: dict, workers: int, log: Path, timeout: int = 60):
        self.port = free_port()
        self.log = log
        self.workers = workers
        self.booted = log.with_suffix(".booted")
        self.booted.mkdir()
        config = log.with_suffix(".conf.py")
        config.write_text(HOOKS.format(booted=str(self.booted)))
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn",
                "--config", str(config),
                "--workers", str(workers),
                "--bind", f"{HOST}:{self.port}",
                "--timeout", str(timeout),
                "--graceful-timeout", "5",
                "--log-level", "warning",
                target,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
            start_new_session=True,
        )

    def wait_ready(self, path: str, deadline: Deadline, limit: float = 30) -> None:
        until = time.monotonic() + min(limit, max(deadline.left(), 0))
        while time.monotonic() < until:
            if self.proc.poll() is not None:
                break
            if len(list(self.booted.iterdir())) >= self.workers:
                try:
                    conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                    conn.request("GET", path)
                    if conn.getresponse().status == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not start; its log:\n{self.log.read_text()[-3000:]}")

    def cpu_seconds(self) -> float | None:
        """User and system CPU used so far by the workers (Linux /proc), None elsewhere."""
        total = 0.0
        for entry in self.booted.iterdir():
            seconds = proc_cpu_seconds(entry.name)
            if seconds is None:
                return None
            total += seconds
        return total

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the master stops its workers
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group started for it
                self.proc.wait(5)


@contextmanager
def serving(target: str, env: dict, workers: int, log: Path, ready_path: str, deadline,
            timeout: int = 60):
    server = Gunicorn(target, env, workers, log, timeout)
    try:
        server.wait_ready(ready_path, deadline)
        yield server
    finally:
        server.stop()


@dataclass
class Meter:
    seconds: float | None = None


class PostgresBackends:
    """CPU time of the PostgreSQL server processes serving one database, from /proc.

    Counts the client backends connected to the bench database (``pg_stat_activity``,
    polled every 0.1 s from a connection to the server's maintenance database, so the
    poller's own backend is not among them): their user + system time at the end minus at
    the start (a backend that connects meanwhile counts from zero). The server's shared
    processes (WAL writer, checkpointer, autovacuum) are left out: the server is shared
    with other work. Needs the server on this machine; None otherwise.
    """

    QUERY = (
        "SELECT pid FROM pg_stat_activity "
        "WHERE datname = %s AND backend_type = 'client backend'"
    )

    def __init__(self, server_dsn: str, database: str):
        self.server_dsn = server_dsn
        self.database = database

    def _sample(self, conn) -> dict[int, float]:
        seconds = {}
        for (pid,) in conn.execute(self.QUERY, (self.database,)).fetchall():
            used = proc_cpu_seconds(pid)
            if used is not None:  # None: it ended between the query and the read
                seconds[pid] = used
        return seconds

    @staticmethod
    def _server_is_here(conn) -> bool:
        """Whether the server's processes are this machine's (the poller's own backend)."""
        (pid,) = conn.execute("SELECT pg_backend_pid()").fetchone()
        try:
            return Path(f"/proc/{pid}/comm").read_text().strip().startswith("postgres")
        except OSError:
            return False

    @contextmanager
    def measuring(self):
        """Around a burst; yields a ``Meter`` whose ``seconds`` are set at the end."""
        import psycopg

        meter = Meter()

        with psycopg.connect(self.server_dsn, autocommit=True) as conn:
            here = self._server_is_here(conn)
            start = self._sample(conn)
            latest = dict(start)
            stop = threading.Event()

            def poll() -> None:
                while not stop.wait(0.1):
                    latest.update(self._sample(conn))

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            try:
                yield meter
            finally:
                stop.set()
                poller.join(5)
                latest.update(self._sample(conn))
        if here:
            meter.seconds = sum(used - start.get(pid, 0.0) for pid, used in latest.items())


# --- load ---------------------------------------------------------------------------


def form(n: int, org_id: int, tag: str) -> bytes:
    return urllib.parse.urlencode(
        {
            "name": f"Person {n}",
            "email": f"{tag}{n}@bench.example",
            "organisation": org_id,
            "work_team": "Team Syd",
            "needs": "Vegetarian",
            "submission_key": uuid.uuid4().hex,
        }
    ).encode()


def fire(port: int, event_id: int, org_id: int, count: int, clients: int, tag: str,
         deadline: Deadline) -> Load:
    """``count`` sign-ups from ``clients`` threads, each waiting for its answer."""
    path = f"/events/{event_id}/register"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    numbers = itertools.count()
    lock = threading.Lock()
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    start = threading.Barrier(clients + 1)

    def client() -> None:
        start.wait()
        while deadline.left() > 0:
            n = next(numbers)
            if n >= count:
                return
            body = form(n, org_id, tag)
            began = time.perf_counter()
            try:
                conn = http.client.HTTPConnection(HOST, port, timeout=30)
                conn.request("POST", path, body, headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                conn.close()
            except (OSError, http.client.HTTPException):
                status = 0  # no answer: counted as a failed request
            took = time.perf_counter() - began
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == 303:
                    latencies.append(took)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join(max(deadline.left(), 0) + 35)
    seconds = time.perf_counter() - began
    deadline.check("sign-ups")
    return Load(statuses, latencies, seconds)


def measured(server: Gunicorn, event_id: int, org_id: int, tag: str, args,
             database: PostgresBackends | None, deadline: Deadline) -> Load:
    """The measured burst, with the CPU time the server's workers (and the database's
    backends) spent on it."""
    with database.measuring() if database else nullcontext(Meter()) as meter:
        before = server.cpu_seconds()
        load = fire(server.port, event_id, org_id, args.signups, args.clients, tag, deadline)
        after = server.cpu_seconds()
    if before is not None and after is not None:
        load.app_cpu = after - before
    load.db_cpu = meter.seconds
    return load


# --- databases ----------------------------------------------------------------------


@dataclass
class Database:
    url: str
    backends: PostgresBackends | None = None  # None: the database works inside the app


@contextmanager
def sqlite_database(tmp: Path, run: int):
    yield Database(f"sqlite:///{tmp / f'kvarn-bench-{run}.sqlite3'}")


@contextmanager
def postgres_database(server_url: str, run: int):
    """A fresh database on the server, dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    name = f"kvarn_bench_{os.getpid()}_{run}_{uuid.uuid4().hex[:6]}"
    dsn = url.set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Database(url.set(database=name).render_as_string(False), PostgresBackends(dsn, name))
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(url: str, env: dict) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flask", "db", "upgrade"],
        cwd=ROOT,
        env={**env, "FLASK_APP": "app", "KVARN_SQLALCHEMY_DATABASE_URI": url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode:
        raise RuntimeError(f"flask db upgrade failed:\n{done.stderr[-3000:]}")


@dataclass(frozen=True)
class Seeded:
    org_id: int
    kvarn_event: int  # rushed through Kvarn
    samework_event: int  # rushed through the same-work baseline
    warm_event: int  # roomy, for the warm-ups


def seed(url: str, capacity: int) -> Seeded:
    """An organisation, the two rushed events and a roomy warm-up event."""
    from app import create_app
    from app.core import clock
    from app.core.database import write_transaction
    from app.core.extensions import db
    from app.models import Event, EventKind, EventSession, EventStatus, Organisation

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():

        def work():
            org = Organisation(name="Bench kommun")
            db.session.add(org)
            made = []
            for title, seats in (
                ("Rusningen", capacity),
                ("Rusningen, samma arbete", capacity),
                ("Uppvärmning", 100_000),
            ):
                start = clock.now() + timedelta(days=14)
                event = Event(
                    kind=EventKind.COURSE,
                    title=title,
                    status=EventStatus.OPEN,
                    capacity=seats,
                    contact_email="bench@kommun.test",
                )
                event.sessions.append(
                    EventSession(starts_at=start, ends_at=start + timedelta(hours=3), venue="Sal 1")
                )
                db.session.add(event)
                made.append(event)
            db.session.flush()
            return Seeded(org.id, *(event.id for event in made))

        seeded = write_transaction(work)
        db.session.remove()
        db.engine.dispose()
    return seeded


def check(url: str, event_id: int, capacity: int, signed_up: int, who: str) -> list[str]:
    """The final counts, the rules of docs/architecture.md and one first mail per
    registration, from the database."""
    import sqlalchemy as sa

    from app import create_app
    from app.core.extensions import db
    from app.models import OutboxMessage, Registration, RegistrationStatus
    from app.registrations.invariants import rule_violations

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        rows = dict(
            db.session.execute(
                sa.select(Registration.status, sa.func.count())
                .where(Registration.event_id == event_id)
                .group_by(Registration.status)
            ).all()
        )
        mails = dict(
            db.session.execute(
                sa.select(OutboxMessage.kind, sa.func.count())
                .join(Registration, Registration.id == OutboxMessage.registration_id)
                .where(Registration.event_id == event_id)
                .group_by(OutboxMessage.kind)
            ).all()
        )
        problems = [f"{who}: {problem}" for problem in rule_violations(event_id)]
        problems += [f"{who}: {problem}" for problem in mail_problems(event_id)]
        db.session.remove()
        db.engine.dispose()
    confirmed = rows.get(RegistrationStatus.CONFIRMED, 0)
    waitlisted = rows.get(RegistrationStatus.WAITLISTED, 0)
    want_confirmed = min(capacity, signed_up)
    if (confirmed, waitlisted) != (want_confirmed, signed_up - want_confirmed):
        problems.append(
            f"{who}: {confirmed} confirmed and {waitlisted} waitlisted, expected "
            f"{want_confirmed} and {signed_up - want_confirmed}"
        )
    if mails != {k: n for k, n in (("confirmation", confirmed), ("waitlisted", waitlisted)) if n}:
        problems.append(f"{who}: mails {mails} for {confirmed} seats and {waitlisted} waiting")
    return problems


def mail_problems(event_id: int) -> list[str]:
    """Each registration's mail is its own finished message: to its address, with its
    personal link and a Message-ID no other mail has (checks the same-work baseline's
    string formatting as much as Kvarn's mail)."""
    import sqlalchemy as sa

    from app.core.extensions import db
    from app.models import OutboxMessage, Registration

    rows = db.session.execute(
        sa.select(Registration.email, Registration.manage_token, OutboxMessage.recipient,
                  OutboxMessage.message_id, OutboxMessage.wire)
        .join(Registration, Registration.id == OutboxMessage.registration_id)
        .where(Registration.event_id == event_id)
    ).all()
    wrong = sum(
        1
        for email, token, recipient, message_id, wire in rows
        if recipient != email
        or wire is None
        or token.encode() not in wire
        or f"Message-ID: {message_id}".encode() not in wire
        or f"To: {email}".encode() not in wire
    )
    problems = [f"{wrong} of {len(rows)} mails not addressed to their person"] if wrong else []
    if len({row.message_id for row in rows}) != len(rows):
        problems.append("two mails share a Message-ID")
    return problems


def mail_sizes(url: str, event_ids: dict[str, int]) -> str:
    """The average size of the finished confirmation per rushed event, in bytes."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            sizes = {
                who: conn.execute(
                    sa.text(
                        "SELECT avg(length(wire)) FROM outbox_message "
                        "WHERE event_id = :e AND kind = 'confirmation'"
                    ),
                    {"e": event_id},
                ).scalar()
                for who, event_id in event_ids.items()
            }
    finally:
        engine.dispose()
    return ", ".join(f"{who} {float(size or 0):.0f} B" for who, size in sizes.items())


# --- one backend ----------------------------------------------------------------------


@dataclass
class Result:
    name: str
    kvarn: Load
    samework: Load
    bare: Load
    problems: list[str] = field(default_factory=list)
    failed: dict[str, dict[int, int]] = field(default_factory=dict)
    sizes: str = ""

    @property
    def cpu_ratio(self) -> float:
        return _ratio(self.kvarn.total_ms, self.samework.total_ms)

    @property
    def rate_ratio(self) -> float:
        return _ratio(self.kvarn.rate, self.samework.rate)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.failed


def _ratio(a: float, b: float) -> float:
    return a / b if b and b == b else float("nan")


def run_backend(name: str, database, args, tmp: Path, run: int, deadline: Deadline) -> Result:
    from bench import baseline_app

    env = {
        **os.environ,
        "KVARN_INSTANCE_PATH": str(tmp / "instance"),
        "KVARN_SECRET_KEY": "bench-only",
        "KVARN_WTF_CSRF_ENABLED": "false",
        "KVARN_RATELIMIT_ENABLED": "false",
        "PYTHONPATH": str(ROOT),
    }
    os.environ["KVARN_INSTANCE_PATH"] = env["KVARN_INSTANCE_PATH"]
    logs = tmp / f"{name}-{run}"
    logs.mkdir()
    with database as db:
        url = db.url
        migrate(url, env)
        ids = seed(url, args.capacity)
        baseline_app.create_table(url)
        deadline.check("set-up")
        org = ids.org_id

        kvarn_env = {**env, "KVARN_SQLALCHEMY_DATABASE_URI": url}
        with serving("app:create_app()", kvarn_env, args.workers, logs / "kvarn.log",
                     f"/events/{ids.kvarn_event}", deadline) as server:
            fire(server.port, ids.warm_event, org, args.warmup, args.clients, "warm-k", deadline)
            kvarn = measured(server, ids.kvarn_event, org, "k", args, db.backends, deadline)

        # The same-work baseline copies Kvarn's mails of the rushed event at start-up.
        base_env = {**env, "BENCH_BASELINE_URL": url,
                    "BENCH_SAMEWORK_FROM_EVENT": str(ids.kvarn_event)}
        with serving("bench.baseline_app:create_samework_app()", base_env, args.workers,
                     logs / "samework.log", "/ping", deadline) as server:
            fire(server.port, ids.warm_event, org, args.warmup, args.clients, "warm-s", deadline)
            samework = measured(server, ids.samework_event, org, "s", args, db.backends, deadline)

        with serving("bench.baseline_app:create_app()", base_env, args.workers,
                     logs / "bare.log", "/ping", deadline) as server:
            fire(server.port, ids.warm_event, org, args.warmup, args.clients, "warm-b", deadline)
            bare = measured(server, ids.kvarn_event, org, "b", args, db.backends, deadline)

        result = Result(name, kvarn, samework, bare)
        result.problems += check(url, ids.kvarn_event, args.capacity, kvarn.ok, "Kvarn")
        result.problems += check(url, ids.samework_event, args.capacity, samework.ok, "same-work")
        bare_rows = baseline_app.count_rows(url, ids.kvarn_event)
        if bare_rows != bare.ok:
            result.problems.append(f"bare INSERT: {bare_rows} rows for {bare.ok} answered requests")
        result.sizes = mail_sizes(url, {"Kvarn": ids.kvarn_event, "same-work": ids.samework_event})
    for label, load in (("Kvarn", kvarn), ("same-work", samework), ("bare INSERT", bare)):
        failed = {s: n for s, n in load.statuses.items() if s != 303}
        if failed:
            result.failed[label] = failed
    return result


def report(result: Result, args, run: int) -> None:
    kvarn, samework, bare = result.kvarn, result.samework, result.bare
    in_app = result.kvarn.db_cpu is None
    runs = f", run {run + 1} of {args.repeat}" if args.repeat > 1 else ""
    print(f"\n== {result.name}: {args.signups} sign-ups, {args.clients} clients, "
          f"{args.workers} gunicorn workers, {args.capacity} seats{runs}")
    print(f"{'':20}{'sign-ups/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'answered':>10}"
          f"{'app CPU':>9}{'DB CPU':>9}{'total CPU':>11}  (CPU: ms per sign-up)")
    for label, load in (("Kvarn", kvarn), ("same-work baseline", samework),
                        ("bare INSERT", bare)):
        db_ms = f"{'in app':>9}" if in_app else f"{load.db_ms:9.2f}"
        print(f"{label:20}{load.rate:11.1f}{load.percentile(50) * 1000:9.1f}"
              f"{load.percentile(99) * 1000:9.1f}{load.ok:10d}{load.app_ms:9.2f}{db_ms}"
              f"{load.total_ms:11.2f}")
    cpu = result.cpu_ratio
    p99 = kvarn.percentile(99) * 1000
    print(f"Kvarn / same-work: CPU {cpu:.2f} (goal <= 2.0: {'met' if cpu <= 2.0 else 'MISSED'}), "
          f"throughput {result.rate_ratio:.2f}")
    print(f"Kvarn / bare INSERT: CPU {_ratio(kvarn.total_ms, bare.total_ms):.2f}, "
          f"throughput {_ratio(kvarn.rate, bare.rate):.2f}")
    if result.name != "sqlite":
        print(f"Kvarn p99: {p99:.1f} ms (the p99 goal is for SQLite)")
    elif (args.clients, args.workers) != (16, 2):
        print(f"Kvarn p99: {p99:.1f} ms (the goal, < 100 ms, is for 16 clients and 2 workers)")
    else:
        goal = "met" if p99 < 100 else "MISSED"
        print(f"Kvarn p99: {p99:.1f} ms (goal < 100 ms at 16 clients, 2 workers: {goal})")
    print(f"confirmation size: {result.sizes}")
    if result.failed:
        print(f"requests not answered with 303: {result.failed}")
    if result.problems:
        print("RULES BROKEN:\n  " + "\n  ".join(result.problems))
    else:
        print(f"rules: all hold on both rushed events ({min(args.capacity, kvarn.ok)} confirmed, "
              f"{max(kvarn.ok - args.capacity, 0)} waitlisted each)")


def summary(results: list[Result]) -> None:
    """Every run's ratios and the median run (by the CPU ratio)."""
    by_backend: dict[str, list[Result]] = {}
    for result in results:
        by_backend.setdefault(result.name, []).append(result)
    print("\n== summary")
    for name, runs in by_backend.items():
        listed = ", ".join(f"{r.cpu_ratio:.2f}/{r.rate_ratio:.2f}" for r in runs)
        ranked = sorted(range(len(runs)), key=lambda i: runs[i].cpu_ratio)
        mid = ranked[(len(runs) - 1) // 2]
        median = runs[mid]
        print(f"{name}: CPU/throughput ratio Kvarn/same-work per run: {listed}")
        print(f"{name}: median run {mid + 1}: CPU {median.cpu_ratio:.2f}, throughput "
              f"{median.rate_ratio:.2f}, Kvarn {median.kvarn.rate:.1f}/s, "
              f"p99 {median.kvarn.percentile(99) * 1000:.1f} ms, "
              f"{median.kvarn.total_ms:.2f} ms CPU a sign-up "
              f"(same-work {median.samework.total_ms:.2f} ms)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signups", type=int, default=600)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--capacity", type=int, help="seats (default: a quarter of the sign-ups)")
    parser.add_argument("--warmup", type=int, default=64, help="sign-ups before measuring")
    parser.add_argument("--postgres", default=os.environ.get("KVARN_TEST_POSTGRES_URL"),
                        help="a PostgreSQL URL to create the temporary database through")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="runs, each on fresh databases")
    parser.add_argument("--timeout", type=float,
                        help="seconds for the whole run (default 300 a repeat)")
    args = parser.parse_args(argv)
    if args.capacity is None:
        args.capacity = max(1, args.signups // 4)
    if args.capacity >= args.signups:
        parser.error("--capacity must be smaller than --signups: the rush is for too few seats")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    def interrupted(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)  # clean up on kill as on Ctrl-C
    deadline = Deadline(args.timeout or 300 * args.repeat)
    results: list[Result] = []
    if not args.postgres:
        print("(no PostgreSQL: set KVARN_TEST_POSTGRES_URL or --postgres to bench it too)")
    with tempfile.TemporaryDirectory(prefix="kvarn-rush-") as tmp_name:
        tmp = Path(tmp_name)
        for run in range(args.repeat):
            backends = []
            if not args.no_sqlite:
                backends.append(("sqlite", sqlite_database(tmp, run)))
            if args.postgres:
                backends.append(("postgresql", postgres_database(args.postgres, run)))
            for name, database in backends:
                result = run_backend(name, database, args, tmp, run, deadline)
                report(result, args, run)
                results.append(result)
    if args.repeat > 1:
        summary(results)
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
