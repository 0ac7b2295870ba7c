"""The morning rush: many people sign up for one event at once, through real HTTP.

    .venv/bin/python bench/rush.py [--signups 600] [--clients 32] [--workers 4]
                                   [--capacity 150] [--postgres URL] [--no-sqlite]

For SQLite (a temporary file) and, when --postgres or KVARN_TEST_POSTGRES_URL gives a
server, for PostgreSQL (a temporary database created on that server and dropped after):

1. migrates the database with ``flask db upgrade`` and creates an organisation and an
   event with fewer seats than sign-ups;
2. starts Kvarn under gunicorn (``app:create_app()``, --workers sync workers, bound to
   127.0.0.1, CSRF and rate limits off) and fires the sign-ups (POST
   /events/<id>/register) from --clients threads of this process, after a warm-up;
3. starts the bare baseline (bench/baseline_app.py: one raw INSERT per request) under the
   same gunicorn settings and fires the same load at it;
4. prints sign-ups per second, p50 and p99 latency and the CPU time the server's workers
   spent per sign-up (from /proc, on Linux) for both, the ratio Kvarn/baseline, and checks
   the final counts and the rules (app/registrations/invariants.py) in the database.

Goals: ratio >= 0.5, Kvarn p99 < 100 ms at 32 clients, no rule broken. The exit status
is 1 when a rule is broken or a request failed (the goals are reported, not enforced:
they depend on the machine). Every server is stopped and every temporary file and
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
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"  # traffic never leaves this machine


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
    server_cpu: float | None = None  # CPU seconds the server's workers used meanwhile

    @property
    def cpu_ms_per_request(self) -> float:
        if self.server_cpu is None or not self.ok:
            return float("nan")
        return self.server_cpu / self.ok * 1000

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

    def __init__(self, target: str, env: dict, workers: int, log: Path):
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
                "--timeout", "60",
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
            try:
                fields = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return None
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
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
def serving(target: str, env: dict, workers: int, log: Path, ready_path: str, deadline):
    server = Gunicorn(target, env, workers, log)
    try:
        server.wait_ready(ready_path, deadline)
        yield server
    finally:
        server.stop()


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


def measured(server: Gunicorn, event_id: int, org_id: int, args, deadline: Deadline) -> Load:
    """The measured burst, with the CPU time the server's workers spent on it."""
    before = server.cpu_seconds()
    load = fire(server.port, event_id, org_id, args.signups, args.clients, "p", deadline)
    after = server.cpu_seconds()
    if before is not None and after is not None:
        load.server_cpu = after - before
    return load


# --- databases ----------------------------------------------------------------------


@contextmanager
def sqlite_database(tmp: Path):
    yield f"sqlite:///{tmp / 'kvarn-bench.sqlite3'}"


@contextmanager
def postgres_database(server_url: str):
    """A fresh database on the server, dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    name = f"kvarn_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    dsn = url.set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(url: str, env: dict) -> None:
    subprocess.run(
        [sys.executable, "-m", "flask", "db", "upgrade"],
        cwd=ROOT,
        env={**env, "FLASK_APP": "app", "KVARN_SQLALCHEMY_DATABASE_URI": url},
        check=True,
        capture_output=True,
        timeout=120,
    )


def seed(url: str, capacity: int) -> tuple[int, int, int]:
    """An organisation, the rushed event and a roomy warm-up event. Returns their ids."""
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
            for title, seats in (("Rusningen", capacity), ("Uppvärmning", 100_000)):
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
            return org.id, made[0].id, made[1].id

        ids = write_transaction(work)
        db.session.remove()
        db.engine.dispose()
    return ids


def check(url: str, event_id: int, capacity: int, signed_up: int) -> list[str]:
    """The final counts and the rules of docs/architecture.md, from the database."""
    import sqlalchemy as sa

    from app import create_app
    from app.core.extensions import db
    from app.models import Registration, RegistrationStatus
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
        problems = rule_violations(event_id)
        db.session.remove()
        db.engine.dispose()
    confirmed = rows.get(RegistrationStatus.CONFIRMED, 0)
    waitlisted = rows.get(RegistrationStatus.WAITLISTED, 0)
    want_confirmed = min(capacity, signed_up)
    if (confirmed, waitlisted) != (want_confirmed, signed_up - want_confirmed):
        problems.append(
            f"counts: {confirmed} confirmed and {waitlisted} waitlisted, expected "
            f"{want_confirmed} and {signed_up - want_confirmed}"
        )
    return problems


# --- one backend ----------------------------------------------------------------------


def run_backend(name: str, database, args, tmp: Path, deadline: Deadline) -> bool:
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
    with database as url:
        migrate(url, env)
        org_id, event_id, warm_id = seed(url, args.capacity)
        baseline_app.create_table(url)
        deadline.check("set-up")

        kvarn_env = {**env, "KVARN_SQLALCHEMY_DATABASE_URI": url}
        with serving("app:create_app()", kvarn_env, args.workers, tmp / f"kvarn-{name}.log",
                     f"/events/{event_id}", deadline) as server:
            fire(server.port, warm_id, org_id, args.warmup, args.clients, "warm", deadline)
            kvarn = measured(server, event_id, org_id, args, deadline)

        base_env = {**env, "BENCH_BASELINE_URL": url}
        with serving("bench.baseline_app:create_app()", base_env, args.workers,
                     tmp / f"baseline-{name}.log", "/ping", deadline) as server:
            fire(server.port, warm_id, org_id, args.warmup, args.clients, "warm", deadline)
            base = measured(server, event_id, org_id, args, deadline)

        problems = check(url, event_id, args.capacity, kvarn.ok)
        base_rows = baseline_app.count_rows(url, event_id)
        if base_rows != base.ok:
            problems.append(f"baseline: {base_rows} rows for {base.ok} answered requests")

    failed = {s: n for s, n in kvarn.statuses.items() if s != 303}
    failed_base = {s: n for s, n in base.statuses.items() if s != 303}
    ratio = kvarn.rate / base.rate if base.rate else float("nan")
    p99 = kvarn.percentile(99) * 1000
    print(f"\n== {name}: {args.signups} sign-ups, {args.clients} clients, "
          f"{args.workers} gunicorn workers, {args.capacity} seats")
    print(f"{'':10}{'sign-ups/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'answered':>10}"
          f"{'server CPU ms/sign-up':>24}")
    for label, load in (("Kvarn", kvarn), ("baseline", base)):
        print(f"{label:10}{load.rate:12.1f}{load.percentile(50) * 1000:10.1f}"
              f"{load.percentile(99) * 1000:10.1f}{load.ok:10d}{load.cpu_ms_per_request:24.2f}")
    print(f"ratio Kvarn/baseline: {ratio:.2f} (goal >= 0.5: {'met' if ratio >= 0.5 else 'MISSED'})")
    print(f"Kvarn p99: {p99:.1f} ms (goal < 100 ms: {'met' if p99 < 100 else 'MISSED'})")
    if failed or failed_base:
        print(f"requests not answered with 303: Kvarn {failed}, baseline {failed_base}")
    if problems:
        print("RULES BROKEN:\n  " + "\n  ".join(problems))
    else:
        print(f"rules: all hold ({min(args.capacity, kvarn.ok)} confirmed, "
              f"{max(kvarn.ok - args.capacity, 0)} waitlisted)")
    return not problems and not failed and not failed_base


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signups", type=int, default=600)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--capacity", type=int, help="seats (default: a quarter of the sign-ups)")
    parser.add_argument("--warmup", type=int, default=64, help="sign-ups before measuring")
    parser.add_argument("--postgres", default=os.environ.get("KVARN_TEST_POSTGRES_URL"),
                        help="a PostgreSQL URL to create the temporary database through")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--timeout", type=float, default=300, help="seconds for the whole run")
    args = parser.parse_args(argv)
    if args.capacity is None:
        args.capacity = max(1, args.signups // 4)
    if args.capacity >= args.signups:
        parser.error("--capacity must be smaller than --signups: the rush is for too few seats")

    def interrupted(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)  # clean up on kill as on Ctrl-C
    deadline = Deadline(args.timeout)
    ok = True
    with tempfile.TemporaryDirectory(prefix="kvarn-rush-") as tmp_name:
        tmp = Path(tmp_name)
        backends = []
        if not args.no_sqlite:
            backends.append(("sqlite", sqlite_database(tmp)))
        if args.postgres:
            backends.append(("postgresql", postgres_database(args.postgres)))
        else:
            print("(no PostgreSQL: set KVARN_TEST_POSTGRES_URL or --postgres to bench it too)")
        for name, database in backends:
            ok = run_backend(name, database, args, tmp, deadline) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
