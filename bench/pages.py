"""Do Kvarn's pages grow with the data? The same pages on the demo data, then at scale.

    .venv/bin/python bench/pages.py [--events 1000] [--rows 100000] [--requests 40]
                                    [--archive 10000] [--instructions N]

Runs on a fresh SQLite file in a temporary directory (migrated to head), or on the
database in KVARN_BENCH_DATABASE_URL (which it empties first!). Loads the demo data and
times each page: the listing, the archive of past events, an event page, a personal page
(someone waiting), the organiser's registrations list, the coordinator's dashboard, and
the CSV and XLSX exports of one event. Then it adds a tenth of ``--events`` upcoming events and ``--rows``
registrations around the demo (``devtools.scale.seed_pages``, then ANALYZE) and times the
very same URLs again, then grows that to the full ``--events`` and ``--rows`` and times
them once more, and once more after growing the archive of past events from a tenth of
``--archive`` (added with the tenth) to all of it (``devtools.scale.seed_archive``: the
archive only grows, and neither the upcoming events nor a page of the archive may cost
more for it). Prints per page the SQL statements, the median and the 95th
percentile at each size, and the ratios of the medians, at scale to the demo, at scale
to a tenth and with the archive to at scale (goal: at most 1.5). Then, at scale, the pages of the big event (5 % of all rows): its
list, a search in it, and its exports.

The listing and the dashboard show a page of 20 events: on the demo data they have 6 to
show, from a tenth of the scale on a full page, so their ratio to the demo is mostly that
page filling up; the ratio to a tenth compares full pages. The figures mean little on a
machine that is busy with other work.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from app.core.extensions import db  # noqa: E402
from app.devtools import demo, scale  # noqa: E402
from app.models import Event, Registration, RegistrationStatus  # noqa: E402
from app.staff import registration_pages  # noqa: E402
from bench import callgrind  # noqa: E402
from bench.empty_app import empty_app  # noqa: E402

GOAL = 1.5
#: Requests before the timed ones (caches, templates, the database's pages).
WARM_UP = 3
@dataclass(frozen=True)
class Timing:
    statements: int
    #: Milliseconds, or with ``--instructions`` millions of instructions, a request.
    median: float
    p95: float
    kib: int


def _login(app, email: str, password: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, (email, response.status_code)
    return client


def _time(engine, client, url: str, requests: int) -> Timing:
    """Each request in its own app context, as in production."""
    with scale.count_statements(engine) as statements:
        response = client.get(url)
        body = response.data
    assert response.status_code == 200, (url, response.status_code)
    for _ in range(WARM_UP):
        client.get(url).close()
    if callgrind.running_under_callgrind():
        counted = callgrind.instructions(lambda: client.get(url).get_data(), requests)
        return Timing(len(statements), counted, counted, len(body) // 1024)
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        body = response.data  # a streamed export is read to its end
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    timings.sort()
    p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
    return Timing(len(statements), statistics.median(timings), p95, len(body) // 1024)


def _demo_pages(app) -> dict[str, tuple[object, str]]:
    """Each page's client and URL, on demo events and people."""
    with app.app_context():
        most = db.session.execute(
            sa.select(Registration.event_id, sa.func.count())
            .group_by(Registration.event_id)
            .order_by(sa.func.count().desc())
            .limit(1)
        ).first()[0]
        waiting = db.session.scalar(
            sa.select(Registration.manage_token)
            .where(Registration.status == RegistrationStatus.WAITLISTED)
            .order_by(Registration.id)
            .limit(1)
        )
        course = db.session.scalar(sa.select(Event.id).where(Event.id == most))
    logins = {role_email: password for _, role_email, password in demo.DEMO_LOGINS}
    organiser = _login(app, "organisator@kvarn.example", logins["organisator@kvarn.example"])
    coordinator = _login(
        app, "samordnare.alingsas@kvarn.example", logins["samordnare.alingsas@kvarn.example"]
    )
    public = app.test_client()
    return {
        "listing": (public, "/events"),
        "archive": (public, "/events/past"),
        "event page": (public, f"/events/{course}"),
        "personal page": (public, f"/r/{waiting}"),
        "registrations list": (organiser, f"/staff/events/{course}/registrations"),
        "dashboard": (coordinator, "/staff/dashboard"),
        "CSV export": (organiser, f"/staff/events/{course}/registrations.csv"),
        "XLSX export": (organiser, f"/staff/events/{course}/registrations.xlsx"),
    }


def _line(name: str, timing: Timing) -> str:
    if callgrind.running_under_callgrind():
        return (
            f"{name:20} {timing.statements:3d} statements  {timing.median:8.2f} M instructions "
            f"a request  {timing.kib:5d} KiB"
        )
    return (
        f"{name:20} {timing.statements:3d} statements  median {timing.median:7.1f} ms  "
        f"p95 {timing.p95:7.1f} ms  {timing.kib:5d} KiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--archive", type=int, default=10_000, help="past events added last")
    parser.add_argument(
        "--instructions", type=int, default=0, metavar="N",
        help="count the instructions of N requests a page under callgrind instead of timing",
    )
    args = parser.parse_args()
    if args.instructions and not callgrind.running_under_callgrind():
        callgrind.rerun_under_callgrind(sys.argv)
    if args.instructions:
        args.requests = args.instructions

    app = empty_app()
    with app.app_context():
        demo.load_demo(allow_server_database=True)
        dialect = db.engine.dialect.name
        scale.analyze()

    pages = _demo_pages(app)
    with app.app_context():
        engine = db.engine

    def measure() -> dict[str, Timing]:
        return {name: _time(engine, client, page, args.requests) for name, (client, page) in pages.items()}

    def grow(events: int, rows: int, onto=None, past: int = 0) -> tuple[scale.PageScale, str]:
        with app.app_context():
            started = time.perf_counter()
            made = scale.seed_pages(events=events, rows=rows, onto=onto)
            scale.seed_archive(past, made.organisation_ids)
            scale.analyze()
            seeded = time.perf_counter() - started
            total = db.session.scalar(sa.select(sa.func.count()).select_from(Registration))
            in_all = db.session.scalar(sa.select(sa.func.count()).select_from(Event))
        return made, f"{in_all} events, {total} registrations (seeded in {seeded:.1f} s)"

    sizes = {"demo data": measure()}
    described = {"demo data": "the demo's 6 events and 71 registrations"}
    first_past = args.archive // 10
    tenth, described["a tenth"] = grow(args.events // 10, args.rows // 10, past=first_past)
    sizes["a tenth"] = measure()
    made, described["at scale"] = grow(args.events - args.events // 10, args.rows - args.rows // 10, tenth)
    sizes["at scale"] = measure()
    with app.app_context():
        started = time.perf_counter()
        scale.seed_archive(args.archive - first_past, made.organisation_ids, serial=first_past)
        scale.analyze()
        described["with an archive"] = (
            f"the same, the archive grown from {first_past} to {args.archive} past events "
            f"(seeded in {time.perf_counter() - started:.1f} s)"
        )
    sizes["with an archive"] = measure()

    print(f"Kvarn's pages on {dialect}: the same URLs (demo events and people) at three sizes,")
    measured = "counted (instructions)" if args.instructions else "timed"
    print(f"{args.requests} {measured} requests each (after one that counts statements and {WARM_UP} to warm up)")
    for size, timings in sizes.items():
        print()
        print(f"{size}: {described[size]}")
        for name, timing in timings.items():
            print("  " + _line(name, timing))
    for size, base in (("at scale", "demo data"), ("at scale", "a tenth"), ("with an archive", "at scale")):
        large, small = sizes[size], sizes[base]
        print()
        what = "instructions" if args.instructions else "medians"
        print(f"ratio of the {what}, {size} / {base} (goal <= {GOAL}):")
        for name in pages:
            ratio = large[name].median / small[name].median
            same = "same" if large[name].statements == small[name].statements else "DIFFERENT"
            verdict = "ok" if ratio <= GOAL else "over the goal"
            spread = "" if args.instructions else f"p95 {large[name].p95 / small[name].p95:5.2f}; "
            print(f"  {name:20} {ratio:5.2f}  ({spread}{same} statements)  {verdict}")
    print()
    print("(The listing and the dashboard show 20 events a page: 6 on the demo data, a full")
    print("page from a tenth of the scale on. The event page, personal page, list and exports")
    print("are of demo events, whose own size stays the same while the data around them grows.)")
    print()

    organiser = pages["registrations list"][0]
    big = made.big_event_id
    with app.app_context():
        in_big = db.session.scalar(
            sa.select(sa.func.count()).select_from(Registration).where(Registration.event_id == big)
        )
    deep = min(10, -(-in_big // registration_pages.PER_PAGE))
    extra = {
        "big list, page 1": f"/staff/events/{big}/registrations",
        f"big list, page {deep}": f"/staff/events/{big}/registrations?page={deep}",
        "big list, a search": f"/staff/events/{big}/registrations?q=familjeteamet+7&status=waitlisted",
        "big CSV export": f"/staff/events/{big}/registrations.csv",
        "big XLSX export": f"/staff/events/{big}/registrations.xlsx",
    }
    requests = args.instructions or max(5, args.requests // 4)
    print(f"the big event at scale: {in_big} registrations, {requests} requests each")
    for name, page in extra.items():
        print("  " + _line(name, _time(engine, organiser, page, requests)))


if __name__ == "__main__":
    main()
