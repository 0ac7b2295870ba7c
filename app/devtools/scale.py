"""Data at scale for benchmarks and scale tests: bulk rows in one INSERT, a counter of
the SQL statements a block sends, and the database's plan for a statement. Not a
service: rows go in without the seats module (no mail, no audit), as a fixture would put
them.

``seed`` makes gauging lectures full of interest (the dashboard's worst case);
``seed_pages`` makes an installation's worth of upcoming events with confirmed, waiting,
cancelled and interested people and work teams, and can grow what it made
(``onto=``), so that the same pages can be asked for at two sizes; ``seed_archive``
adds years of past events (the archive, which only grows).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from ..core import clock
from ..core.database import write_transaction
from ..core.extensions import db
from ..models import (
    Event,
    EventKind,
    EventSession,
    EventStatus,
    Organisation,
    Registration,
    RegistrationStatus,
    Team,
)


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
def count_statements(engine: sa.Engine | None = None) -> Iterator[list[str]]:
    """Count the SQL statements sent to the database (``engine``, by default the app's)
    inside the block."""
    seen: list[str] = []
    engine = engine if engine is not None else db.engine

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", before_cursor_execute)


@contextmanager
def record_statements() -> Iterator[list[tuple[str, object]]]:
    """Record ``(statement, parameters)`` of every SQL statement sent inside the block."""
    seen: list[tuple[str, object]] = []

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        if not executemany:
            seen.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", before_cursor_execute)


def query_plan(statement: str, parameters: object) -> list[str]:
    """The database's plan for a recorded SELECT, one line per step: SQLite's
    ``EXPLAIN QUERY PLAN`` details, PostgreSQL's and MariaDB's ``EXPLAIN`` lines."""
    connection = db.session.connection()
    dialect = connection.dialect.name
    if dialect == "sqlite":
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        return [row[-1] for row in rows]
    rows = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
    if dialect == "postgresql":
        return [row[0] for row in rows]
    return [" ".join(f"{k}={v}" for k, v in row._mapping.items()) for row in rows]


def analyze() -> None:
    """Fresh planner statistics after a bulk load, and on PostgreSQL the visibility map
    (what autovacuum would get to a little later: without it an index-only scan still
    reads the table); SQLite plans without them unless asked, as a live database does."""
    if db.engine.dialect.name == "postgresql":
        db.session.commit()  # VACUUM runs outside a transaction
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as autocommit:
            autocommit.exec_driver_sql("VACUUM ANALYZE")
        return
    connection = db.session.connection()
    dialect = connection.dialect.name
    if dialect in ("mysql", "mariadb"):
        for table in ("event", "event_session", "registration", "team", "organisation"):
            connection.exec_driver_sql(f"ANALYZE TABLE `{table}`").all()
    db.session.commit()


# --- an installation's worth of upcoming events ---------------------------------------

#: Seats of each course ``seed_pages`` makes: the first this many of its people have one.
PAGES_CAPACITY = 40
#: Every this many people of an event, three sign up as a work team.
PAGES_TEAM_EVERY = 40
#: The share of all rows that go to the one big event.
PAGES_BIG_SHARE = 0.05


@dataclass(frozen=True)
class PageScale:
    """What ``seed_pages`` made: the ids and links the measured pages need."""

    organisation_ids: list[int]
    #: Every event made, the big one first; every tenth is a gauging lecture.
    event_ids: list[int]
    #: An open course with ``PAGES_BIG_SHARE`` of all rows: many pages of its list.
    big_event_id: int
    #: A gauging lecture (interest, a chart on the dashboard); None below ten events.
    gauging_event_id: int | None
    #: The personal link of someone waiting for a seat at the big event.
    waiting_token: str
    #: Registrations made so far (all calls together).
    rows: int


def _page_events(count: int, serial: int, org_ids: list[int], now: datetime) -> list[int]:
    """``count`` upcoming events, one or two sessions each, inserted in bulk, starting in
    the order they are made (``serial`` numbers the first). Each event's stored span is
    written with it, as ``events.spans`` keeps it for sessions added through the ORM."""
    first = (now + timedelta(days=2)).replace(hour=8, minute=0, second=0, microsecond=0)

    def times(n: int) -> list[tuple[datetime, datetime]]:
        # One start every nine hours, in the order made: a later call's events come after.
        start = first + timedelta(hours=9 * n)
        return [
            (start + timedelta(days=day), start + timedelta(days=day, hours=3))
            for day in range(1 + (n % 3 == 0))
        ]

    events, sessions = [], []
    for i in range(serial, serial + count):
        gauging = i % 10 == 9
        span = times(i)
        events.append(
            {
                "kind": EventKind.LECTURE if gauging else (EventKind.COURSE, EventKind.MEETING)[i % 2],
                "title": f"{'Kvällsföreläsning' if gauging else 'Skalkurs'} {i + 1}: samtal och stöd",
                "description": f"Om föräldraskap, förskola och skola. Tillfälle {i + 1}.",
                "audience": "Pedagoger och socialsekreterare",
                "status": EventStatus.GAUGING if gauging else EventStatus.OPEN,
                "capacity": PAGES_CAPACITY,
                "contact_email": "skala@kommun.test",
                "organising_organisation_id": org_ids[i % len(org_ids)],
                "interest_threshold": 60 if gauging else None,
                "interest_deadline": now + timedelta(days=30) if gauging else None,
                "published_at": now - timedelta(days=40),
                "span_start": span[0][0],
                "span_end": span[-1][1],
                "created_at": now - timedelta(days=40),
                "updated_at": now - timedelta(days=40),
            }
        )
    if not events:
        return []
    table = Event.__table__
    ids = list(
        db.session.execute(
            sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), events
        ).scalars()
    )
    for n, event_id in enumerate(ids, start=serial):
        for starts_at, ends_at in times(n):
            sessions.append(
                {
                    "event_id": event_id,
                    "starts_at": starts_at,
                    "ends_at": ends_at,
                    "venue": f"Sal {n % 12 + 1}",
                    "address": "Kungsgatan 1, Alingsås",
                }
            )
    db.session.execute(sa.insert(EventSession.__table__), sessions)
    return ids


def seed_pages(
    events: int = 1000,
    rows: int = 100_000,
    organisations: int = 10,
    onto: PageScale | None = None,
) -> PageScale:
    """``events`` upcoming events and ``rows`` registrations, in bulk (a few seconds for
    100,000 rows). With ``onto``, adds them to what an earlier call made: new rows go to
    its events too (the big one keeps ``PAGES_BIG_SHARE`` of them), placed after theirs.

    Per event, in sign-up order: the first ``PAGES_CAPACITY`` people have a seat, the rest
    wait (interest only, for a gauging lecture); one in 17 has cancelled; every
    ``PAGES_TEAM_EVERY`` people three colleagues come as a work team (not kept together).
    """
    now = clock.now()

    def make_events() -> tuple[list[int], list[int]]:
        if onto is not None:
            org_ids = onto.organisation_ids
        else:
            orgs = [Organisation(name=f"Skalkommun {i + 1}", sort_order=100 + i) for i in range(organisations)]
            db.session.add_all(orgs)
            db.session.flush()
            org_ids = [o.id for o in orgs]
        serial = len(onto.event_ids) if onto else 0
        return org_ids, _page_events(events, serial, org_ids, now)

    org_ids, new_ids = write_transaction(make_events)
    event_ids = (onto.event_ids if onto else []) + new_ids
    big = event_ids[0]
    gauging = [e for i, e in enumerate(event_ids) if i % 10 == 9]
    already = onto.rows if onto else 0
    seen = Counter(
        dict(
            db.session.execute(
                sa.select(Registration.event_id, sa.func.count())
                .where(Registration.event_id.in_(onto.event_ids))
                .group_by(Registration.event_id)
            ).all()
        )
        if onto
        else {}
    )
    gauging_ids = set(gauging)
    every_big = max(1, round(1 / PAGES_BIG_SHARE))
    base = now - timedelta(days=30)
    people, team_rows, team_keys = [], [], []
    for n in range(already, already + rows):
        event_id = big if n % every_big == 0 else event_ids[n % len(event_ids)]
        k = seen[event_id]
        seen[event_id] += 1
        if event_id in gauging_ids:
            status = RegistrationStatus.INTERESTED
        else:
            status = RegistrationStatus.CONFIRMED if k < PAGES_CAPACITY else RegistrationStatus.WAITLISTED
        if k % 17 == 16:
            status = RegistrationStatus.CANCELLED
        email = f"s{n}@skala.test"
        created = base + timedelta(seconds=7 * n)
        in_team = k % PAGES_TEAM_EVERY in (20, 21, 22)
        if k % PAGES_TEAM_EVERY == 20:
            team_keys.append((event_id, k // PAGES_TEAM_EVERY))
            team_rows.append(
                {
                    "event_id": event_id,
                    "keep_together": False,
                    "contact_name": f"Deltagare {n}",
                    "contact_email": email,
                    "locale": "sv",
                    "manage_token": f"skala-team-{n}",
                    "created_at": created,
                }
            )
        people.append(
            {
                "event_id": event_id,
                "name": f"Deltagare {n}",
                "email": email,
                "active_email": None if status == RegistrationStatus.CANCELLED else email,
                "organisation_id": org_ids[(n * 7) % len(org_ids)],
                "work_team": f"Familjeteamet {n % 50}" if n % 3 == 0 else "",
                "needs": "",
                "locale": "sv",
                "status": status,
                "created_at": created,
                "status_changed_at": created,
                "manage_token": f"skala-{n}",
                "_team": (event_id, k // PAGES_TEAM_EVERY) if in_team else None,
            }
        )

    def insert_rows() -> None:
        table = Team.__table__
        team_ids = {}
        if team_rows:
            made = db.session.execute(
                sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), team_rows
            ).scalars()
            team_ids = dict(zip(team_keys, made, strict=True))
        for person in people:
            person["team_id"] = team_ids.get(person.pop("_team"))
        for start in range(0, len(people), 10_000):
            db.session.execute(sa.insert(Registration.__table__), people[start : start + 10_000])

    write_transaction(insert_rows)
    waiting = db.session.scalar(
        sa.select(Registration.manage_token)
        .where(Registration.event_id == big, Registration.status == RegistrationStatus.WAITLISTED)
        .order_by(Registration.created_at.desc())
        .limit(1)
    )
    return PageScale(org_ids, event_ids, big, gauging[0] if gauging else None, waiting, already + rows)


def seed_archive(events: int = 10_000, organisation_ids: list[int] | None = None, serial: int = 0) -> int:
    """``events`` past events (finished courses and meetings, one or two sessions each,
    one a day back from yesterday; ``serial`` numbers the first, so that a second call
    goes on further back), in bulk with their stored spans. Returns how many."""
    if events <= 0:
        return 0
    now = clock.now()
    last = (now - timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)

    def work() -> int:
        org_ids = organisation_ids or list(db.session.scalars(sa.select(Organisation.id))) or [None]
        rows, times = [], []
        for i in range(serial, serial + events):
            start = last - timedelta(days=i)
            sessions = [(start - timedelta(days=day), start - timedelta(days=day) + timedelta(hours=3))
                        for day in range(1 + (i % 4 == 0))]
            times.append(sessions)
            rows.append(
                {
                    "kind": (EventKind.COURSE, EventKind.MEETING)[i % 2],
                    "title": f"Arkivkurs {i + 1}: samtal och stöd",
                    "description": "Ett avslutat tillfälle.",
                    "status": EventStatus.FINISHED if i % 3 else EventStatus.OPEN,
                    "capacity": PAGES_CAPACITY,
                    "contact_email": "arkiv@kommun.test",
                    "organising_organisation_id": org_ids[i % len(org_ids)],
                    "published_at": start - timedelta(days=60),
                    "created_at": start - timedelta(days=60),
                    "updated_at": start,
                    "span_start": min(s for s, _ in sessions),
                    "span_end": max(e for _, e in sessions),
                }
            )
        table = Event.__table__
        ids = db.session.execute(
            sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
        ).scalars()
        db.session.execute(
            sa.insert(EventSession.__table__),
            [
                {"event_id": event_id, "starts_at": starts_at, "ends_at": ends_at, "venue": "Sal 1"}
                for event_id, sessions in zip(ids, times, strict=True)
                for starts_at, ends_at in sessions
            ],
        )
        return events

    return write_transaction(work)
