"""How long does the dashboard take with 50 gauging events and 100,000 interests?

    .venv/bin/python bench/dashboard.py [--events 50] [--rows 100000] [--requests 10]

Runs on a fresh SQLite file in a temporary directory (migrated to head), or on the
database in KVARN_BENCH_DATABASE_URL (which it empties first!). Prints the seeding
time, then per role the number of SQL statements and the render time of
GET /staff/dashboard (min, median, max over the requests), and the time of the
aggregation queries alone (``app.reports.dashboard``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import clock  # noqa: E402
from app.database import write_transaction  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import (  # noqa: E402
    Event,
    EventKind,
    EventSession,
    EventStatus,
    Organisation,
    Registration,
    RegistrationStatus,
)

PASSWORD = "bench-password-123"


def seed(events: int = 50, rows: int = 100_000, organisations: int = 10, days: int = 30) -> list[int]:
    """Gauging lectures with ``rows`` interests spread over the last ``days`` days.

    A test fixture, not a status change: the rows go in with one bulk INSERT.
    Returns the event ids.
    """
    now = clock.now()

    def make_events() -> list[int]:
        orgs = [Organisation(name=f"Bench kommun {i + 1}", sort_order=i) for i in range(organisations)]
        db.session.add_all(orgs)
        made = []
        for i in range(events):
            start = now + timedelta(days=20 + i % 10, hours=i % 5)
            event = Event(
                kind=EventKind.LECTURE,
                title=f"Kvällsföreläsning {i + 1}",
                status=EventStatus.GAUGING,
                capacity=200,
                interest_threshold=1000 + 100 * (i % 20),
                interest_deadline=now + timedelta(days=10),
                contact_email="bench@kommun.test",
            )
            event.sessions.append(
                EventSession(starts_at=start, ends_at=start + timedelta(hours=2), venue="Aulan")
            )
            db.session.add(event)
            made.append(event)
        db.session.flush()
        return [e.id for e in made]

    event_ids = write_transaction(make_events)
    org_ids = list(
        db.session.scalars(
            sa.select(Organisation.id).where(Organisation.name.like("Bench kommun %"))
        )
    )
    span = days * 24 * 3600
    batch = [
        {
            "event_id": event_ids[n % len(event_ids)],
            "name": f"Deltagare {n}",
            "email": f"p{n}@bench.test",
            "active_email": f"p{n}@bench.test",
            "organisation_id": org_ids[(n * 7) % len(org_ids)],
            "work_team": "",
            "needs": "",
            "locale": "sv",
            "status": RegistrationStatus.INTERESTED,
            "created_at": now - timedelta(seconds=span - (n * 7919) % span),
            "status_changed_at": now,
            "manage_token": f"bench-{n}",
        }
        for n in range(rows)
    ]

    def insert_rows() -> None:
        db.session.execute(sa.insert(Registration.__table__), batch)

    write_transaction(insert_rows)
    return event_ids


@contextmanager
def count_statements():
    """Count the SQL statements sent to the database inside the block."""
    seen: list[str] = []

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", before_cursor_execute)


def _staff(role: str, organisation: str | None) -> str:
    from app.users import create_user

    email = f"{role}@bench.example"
    create_user(email, role, PASSWORD, organisation_name=organisation)
    return email


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=10)
    args = parser.parse_args()

    url = os.environ.get("KVARN_BENCH_DATABASE_URL")
    tmp = tempfile.mkdtemp(prefix="kvarn-bench-")
    os.environ.setdefault("KVARN_INSTANCE_PATH", tmp)
    url = url or f"sqlite:///{tmp}/bench.sqlite3"

    from flask_migrate import upgrade

    from app import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "SECRET_KEY": "bench",
        }
    )
    with app.app_context():
        upgrade()
        write_transaction(
            lambda: [db.session.execute(t.delete()) for t in reversed(db.metadata.sorted_tables)]
        )
        started = time.perf_counter()
        seed(args.events, args.rows)
        print(
            f"seeded {args.events} gauging events, {args.rows} interests on "
            f"{db.engine.dialect.name} in {time.perf_counter() - started:.1f} s"
        )
        logins = {
            "organiser": _staff("organiser", None),
            "coordinator": _staff("coordinator", "Bench kommun 1"),
        }

    with app.test_request_context():
        from app import reports

        timings = []
        for _ in range(args.requests):
            started = time.perf_counter()
            reports.dashboard()
            timings.append((time.perf_counter() - started) * 1000)
        print(
            f"{'queries only':12} reports.dashboard(): min {min(timings):.0f} ms, "
            f"median {statistics.median(timings):.0f} ms, max {max(timings):.0f} ms"
        )

    for role, email in logins.items():
        client = app.test_client()
        response = client.post("/login", data={"email": email, "password": PASSWORD})
        assert response.status_code == 302, response.status_code
        timings = []
        with app.app_context():
            with count_statements() as statements:
                response = client.get("/staff/dashboard")
            assert response.status_code == 200, response.status_code
            for _ in range(args.requests):
                started = time.perf_counter()
                response = client.get("/staff/dashboard")
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
        print(
            f"{role:12} GET /staff/dashboard: {len(statements)} SQL statements, "
            f"{len(response.data) // 1024} KiB, "
            f"min {min(timings):.0f} ms, median {statistics.median(timings):.0f} ms, "
            f"max {max(timings):.0f} ms over {args.requests} requests"
        )


if __name__ == "__main__":
    main()
