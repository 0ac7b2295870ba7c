"""Data at scale for benchmarks and scale tests: bulk rows in one INSERT, and a counter
of the SQL statements a block sends. Not a service: rows go in without the seats
module (no mail, no audit), as a fixture would put them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

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
def count_statements() -> Iterator[list[str]]:
    """Count the SQL statements sent to the database inside the block."""
    seen: list[str] = []

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", before_cursor_execute)
