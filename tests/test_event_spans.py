"""An event's stored span follows its sessions (``app/events/spans.py``), on every backend:
made with sessions, edited through the editor (a session moved, added, removed), changed
or deleted directly through the ORM, moved to another event, left without sessions; the
listing, the archive and the dashboard find events by it; the migration fills it in for
events made before it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.core import clock
from app.core.database import write_transaction
from app.core.extensions import db
from app.events import editing, schedule
from app.models import Event, EventKind, EventSession
from tests import factories as f
from tests.staff_helpers import make_user


def stored_and_computed() -> dict[int, tuple]:
    """Per event: (stored start, stored end) next to the sessions' own min and max."""
    spans = (
        sa.select(
            EventSession.event_id,
            sa.func.min(EventSession.starts_at).label("starts_at"),
            sa.func.max(EventSession.ends_at).label("ends_at"),
        )
        .group_by(EventSession.event_id)
        .subquery()
    )
    db.session.expire_all()
    rows = db.session.execute(
        sa.select(Event.id, Event.span_start, Event.span_end, spans.c.starts_at, spans.c.ends_at)
        .outerjoin(spans, spans.c.event_id == Event.id)
    )
    return {
        row.id: (row.span_start, row.span_end, _aware(row.starts_at), _aware(row.ends_at))
        for row in rows
    }


def _aware(value):
    # The aggregate loses the column's type: naive UTC (a string on SQLite).
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def assert_in_step() -> dict[int, tuple]:
    spans = stored_and_computed()
    for event_id, (start, end, first, last) in spans.items():
        assert (start, end) == (first, last), event_id
    return spans


def span(event_id: int) -> tuple:
    start, end, *_ = assert_in_step()[event_id]
    return start, end


def test_the_stored_span_follows_every_change_of_the_sessions(db_app):
    ev = f.event(sessions=2, days_ahead=5)
    other = f.event(sessions=1, days_ahead=9)
    first, second = sorted(ev.sessions, key=lambda s: s.starts_at)
    assert span(ev.id) == (first.starts_at, second.ends_at)
    assert span(other.id) == (other.sessions[0].starts_at, other.sessions[0].ends_at)

    # Through the editor: one session moved a week on, then a third added, then only one kept.
    user = make_user()
    later = first.starts_at + timedelta(days=7)

    def edit(*sessions: tuple[datetime, datetime]) -> None:
        data = editing.EventData(
            kind=EventKind.COURSE,
            title=ev.title,
            capacity=ev.capacity,
            contact_email=ev.contact_email,
            sessions=tuple(schedule.SessionData(s, e, "Sal 1") for s, e in sessions),
        )
        editing.update_event(ev.id, data, user.id, notify_confirmed=True)

    edit((first.starts_at, first.ends_at), (later, later + timedelta(hours=2)))
    assert span(ev.id) == (first.starts_at, later + timedelta(hours=2))
    earliest = first.starts_at - timedelta(days=1)
    edit((earliest, earliest + timedelta(hours=1)), (first.starts_at, first.ends_at), (later, later + timedelta(hours=2)))
    assert span(ev.id) == (earliest, later + timedelta(hours=2))
    edit((later, later + timedelta(hours=4)))
    assert span(ev.id) == (later, later + timedelta(hours=4))

    # Directly through the ORM: a time changed, a session deleted, the last one removed.
    def move_other() -> None:
        row = db.session.get(Event, other.id).sessions[0]
        row.ends_at = row.ends_at + timedelta(hours=5)
        db.session.add(EventSession(event_id=other.id, starts_at=row.starts_at - timedelta(days=2),
                                    ends_at=row.starts_at - timedelta(days=2, hours=-1)))

    write_transaction(move_other)
    rows = sorted(db.session.get(Event, other.id).sessions, key=lambda s: s.starts_at)
    assert span(other.id) == (rows[0].starts_at, rows[1].ends_at)

    def delete_one() -> None:
        db.session.delete(db.session.get(EventSession, rows[0].id))

    write_transaction(delete_one)
    assert span(other.id) == (rows[1].starts_at, rows[1].ends_at)

    def remove_all() -> None:
        db.session.get(Event, other.id).sessions.clear()

    write_transaction(remove_all)
    assert span(other.id) == (None, None)
    assert span(ev.id) == (later, later + timedelta(hours=4))  # untouched by the other's changes


def test_a_session_moved_to_another_event_updates_both(db_app):
    a = f.event(sessions=2, days_ahead=3)
    b = f.event(sessions=1, days_ahead=20)
    moved_id = max(a.sessions, key=lambda s: s.starts_at).id

    def move() -> None:
        db.session.get(EventSession, moved_id).event = db.session.get(Event, b.id)

    write_transaction(move)
    spans = assert_in_step()
    assert spans[a.id][0] == spans[a.id][1] - timedelta(hours=3)  # one session left
    assert spans[b.id][0] < spans[b.id][1] - timedelta(days=1)  # b now starts with a's session


def test_the_listing_and_the_dashboard_follow_a_moved_event(db_app):
    from tests.staff_clients import logged_in

    soon = f.event(title="Snart", days_ahead=2)
    f.event(title="Senare", days_ahead=6)
    client, staff = db_app.test_client(), logged_in(db_app, make_user())

    def order() -> tuple[list[str], list[str]]:
        listing = client.get("/events?lang=en").get_data(as_text=True)
        dashboard = staff.get("/staff/dashboard").get_data(as_text=True)
        titles = ("Snart", "Senare")
        return sorted(titles, key=listing.index), sorted(titles, key=dashboard.index)

    assert order() == (["Snart", "Senare"], ["Snart", "Senare"])

    def move_later() -> None:
        row = db.session.get(Event, soon.id).sessions[0]
        row.starts_at, row.ends_at = row.starts_at + timedelta(days=10), row.ends_at + timedelta(days=10)

    write_transaction(move_later)
    assert order() == (["Senare", "Snart"], ["Senare", "Snart"])

    def into_the_past() -> None:
        row = db.session.get(Event, soon.id).sessions[0]
        row.starts_at, row.ends_at = clock.now() - timedelta(days=3), clock.now() - timedelta(days=3, hours=-2)

    write_transaction(into_the_past)
    listing = client.get("/events?lang=en").get_data(as_text=True)
    assert "Senare" in listing and "Snart" not in listing
    assert "Snart" in client.get("/events/past?lang=en").get_data(as_text=True)


def test_the_migration_fills_in_the_span_of_events_made_before_it(db_app):
    """Back to the revision before the span, events and sessions written as they were then,
    and up again: the migration's UPDATE works out each event's span (on every backend)."""
    from flask_migrate import downgrade, upgrade

    from tests.test_attendance_sessions import insert

    db.session.remove()
    downgrade(revision="4a7b8c9d0e1f")
    try:
        day1, day2 = datetime(2026, 3, 2, 8, 0), datetime(2026, 3, 5, 8, 0)  # naive UTC, as stored
        with db.engine.begin() as conn:
            meta = sa.MetaData()
            meta.reflect(conn)
            assert "span_start" not in meta.tables["event"].c
            two = insert(conn, meta.tables["event"], kind="course", title="Två", status="open", capacity=5)
            none = insert(conn, meta.tables["event"], kind="lecture", title="Ingen", status="gauging", capacity=5)
            for day in (day2, day1):
                insert(conn, meta.tables["event_session"], event_id=two, starts_at=day, ends_at=day + timedelta(hours=3))
    finally:
        upgrade()
    spans = {
        row.id: (row.span_start, row.span_end)
        for row in db.session.execute(sa.select(Event.id, Event.span_start, Event.span_end))
    }
    assert spans == {
        two: (day1.replace(tzinfo=UTC), (day2 + timedelta(hours=3)).replace(tzinfo=UTC)),
        none: (None, None),
    }


def test_the_archive_shows_the_latest_to_end_first(db_app):
    """By the last session's end, not the first one's start: a course that began first but
    ended last comes before a one-day event in between."""
    long_course = f.event(title="Lång kurs", days_ahead=-20, sessions=19)  # ends two days ago
    one_day = f.event(title="En dag", days_ahead=-5)
    earliest = f.event(title="Tidigast", days_ahead=-30)
    f.event(title="Kommande", days_ahead=5)
    # Ordered by start, the one-day event would come first.
    assert long_course.span_start < one_day.span_start < one_day.span_end < long_course.span_end
    page = db_app.test_client().get("/events/past?lang=en").get_data(as_text=True)
    assert "Kommande" not in page
    titles = (long_course.title, one_day.title, earliest.title)
    assert sorted(titles, key=page.index) == list(titles)
