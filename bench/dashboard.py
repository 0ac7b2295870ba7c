"""How long does the dashboard take with 50 gauging events and 100,000 interests?

    .venv/bin/python bench/dashboard.py [--events 50] [--rows 100000] [--requests 10]

Runs on a fresh SQLite file in a temporary directory (migrated to head), or on the
database in KVARN_BENCH_DATABASE_URL (which it empties first!). Prints the seeding
time, then per role the number of SQL statements and the render time of
GET /staff/dashboard (min, median, max over the requests), and the time of the
aggregation queries alone (``reporting.figures.dashboard``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.core.extensions import db  # noqa: E402
from app.devtools.scale import count_statements, seed  # noqa: E402
from bench.empty_app import empty_app  # noqa: E402

PASSWORD = "bench-password-123"


def _staff(role: str, organisation: str | None) -> str:
    from app.accounts.users import create_user

    email = f"{role}@bench.example"
    create_user(email, role, PASSWORD, organisation_name=organisation)
    return email


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=10)
    args = parser.parse_args()

    app = empty_app()
    with app.app_context():
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
        from app.reporting import figures as reports

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
