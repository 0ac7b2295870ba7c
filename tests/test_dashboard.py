"""The dashboard: counts per organisation, interest over time, bounded SQL."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.core.database import write_transaction
from app.core.extensions import db
from app.devtools.scale import count_statements, seed
from app.models import EventKind, EventStatus, Registration, RegistrationStatus
from app.registrations.reads import Counts
from app.reporting import figures as reports
from tests import factories as f
from tests.staff_clients import logged_in
from tests.staff_helpers import make_user


def staff(role: str, organisation: str | None = None):
    return make_user(role, organisation=organisation)


def login(app, user):
    return logged_in(app, user)


def insert_interest(event_id: int, org_id: int, moments: list[datetime]) -> None:
    rows = [
        {
            "event_id": event_id,
            "name": f"Intresserad {i}",
            "email": f"i{i}-{event_id}@example.org",
            "active_email": f"i{i}-{event_id}@example.org",
            "organisation_id": org_id,
            "status": RegistrationStatus.INTERESTED,
            "created_at": moment,
            "status_changed_at": moment,
            "manage_token": f"t-{event_id}-{i}",
        }
        for i, moment in enumerate(moments)
    ]
    write_transaction(lambda: db.session.execute(sa.insert(Registration), rows))


def test_counts_per_organisation_on_every_backend(db_app):
    a, b, c = f.organisation("Alingsås kommun"), f.organisation("Lerums kommun"), f.organisation("Tom")
    course = f.event(capacity=2)
    f.sign_up(course.id, a.id, 1)
    f.sign_up(course.id, b.id, 2)
    f.sign_up(course.id, a.id, 3)  # waitlisted
    cancelled = f.sign_up(course.id, b.id, 4).registration
    from app.registrations import seats

    seats.cancel(cancelled.manage_token)
    lecture = f.event(
        capacity=50, status=EventStatus.GAUGING, kind=EventKind.LECTURE, interest_threshold=3
    )
    for n in range(5, 8):
        f.sign_up(lecture.id, b.id if n % 2 else a.id, n)

    by_id = {r.id: r for r in reports.dashboard()}
    assert by_id[course.id].totals == Counts(confirmed=2, waitlisted=1, interested=0)
    assert [(o.name, c) for o, c in by_id[course.id].by_organisation] == [
        ("Alingsås kommun", Counts(1, 1, 0)),
        ("Lerums kommun", Counts(1, 0, 0)),
    ]
    assert by_id[lecture.id].totals == Counts(0, 0, 3)
    assert [(o.name, c.interested) for o, c in by_id[lecture.id].by_organisation] == [
        ("Alingsås kommun", 1),
        ("Lerums kommun", 2),
    ]
    today = reports.clock.local(reports.clock.now()).date()
    assert by_id[lecture.id].interest_days == [reports.DayPoint(today, 3, 3)]
    # A coordinator's own organisation gets a row even at zero.
    mine = {r.id: r for r in reports.dashboard(always_show_org=c.id)}
    assert "Tom" in [o.name for o, _ in mine[course.id].by_organisation]


def test_interest_days_are_stockholm_days_on_every_backend(db_app):
    org = f.organisation()
    lecture = f.event(status=EventStatus.GAUGING, kind=EventKind.LECTURE, interest_threshold=10)
    utc = lambda *a: datetime(*a, tzinfo=UTC)  # noqa: E731
    insert_interest(
        lecture.id,
        org.id,
        [
            utc(2025, 1, 15, 21, 30),  # 22.30 in Stockholm (winter, UTC+1): 15 January
            utc(2025, 1, 15, 22, 30),  # 23.30: still 15 January
            utc(2025, 1, 15, 23, 30),  # 00.30: 16 January
            utc(2025, 7, 15, 21, 30),  # 23.30 in summer (UTC+2): 15 July
            utc(2025, 7, 15, 22, 30),  # 00.30: 16 July
            utc(2025, 7, 15, 23, 59),  # 01.59: 16 July
            utc(2025, 3, 30, 0, 30),  # 01.30, just before the clocks go forward: 30 March
            utc(2025, 3, 30, 1, 30),  # 03.30, just after: 30 March
        ],
    )
    per_day = reports.interest_new_per_day([lecture.id])[lecture.id]
    assert dict(per_day) == {
        date(2025, 1, 15): 2,
        date(2025, 1, 16): 1,
        date(2025, 3, 30): 2,
        date(2025, 7, 15): 1,
        date(2025, 7, 16): 2,
    }


def test_cumulative_fills_quiet_days():
    points = reports.cumulative({date(2025, 5, 1): 2, date(2025, 5, 3): 1}, until=date(2025, 5, 4))
    assert [(p.day.day, p.new, p.total) for p in points] == [(1, 2, 2), (2, 0, 2), (3, 1, 3), (4, 0, 3)]
    assert reports.cumulative({}, until=date(2025, 5, 4)) == []


def _no_inline_code(html: str) -> None:
    assert not re.search(r"\sstyle=", html), "style attributes break the CSP"
    assert not re.search(r"<style", html)
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html)), "inline script"


def test_dashboard_page_for_coordinator_and_organiser(app):
    a, b = f.organisation("Alingsås kommun"), f.organisation("Lerums kommun")
    course = f.event(capacity=5, title="Samtalsmetodik")
    f.sign_up(course.id, a.id, 1, name="Anna Alingsås")
    f.sign_up(course.id, b.id, 2, name="Bertil Lerum")
    lecture = f.event(
        status=EventStatus.GAUGING, kind=EventKind.LECTURE, interest_threshold=4, title="Kvällen"
    )
    f.sign_up(lecture.id, b.id, 3, name="Cecilia Lerum")
    coordinator = staff("coordinator", "Alingsås kommun")
    organiser = staff("organiser")

    response = login(app, coordinator).get("/staff/dashboard")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    _no_inline_code(html)
    assert "Samtalsmetodik" in html and "Kvällen" in html
    assert "Lerums kommun" in html  # aggregates of every organisation
    assert "<svg" in html and "<progress" in html
    # Not by colour alone: the waiting list is hatched, segments carry numbers, and the
    # figures are a table anyone can open.
    assert 'fill="url(#hatch-waitlisted)"' in html  # in the course's legend and bars
    assert re.search(r'text-anchor="middle"[^>]*>1</text>', html)  # a segment's own number
    assert '<details class="chart-table">' in html and "<table>" in html
    for name in ("Anna Alingsås", "Bertil Lerum", "Cecilia Lerum"):
        assert name not in html  # the dashboard shows figures, not people

    # The event page: the coordinator sees their own people only, the organiser everyone.
    page = login(app, coordinator).get(f"/staff/dashboard/events/{course.id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Anna Alingsås" in text and "person1@example.org" in text
    assert "Bertil Lerum" not in text and "person2@example.org" not in text
    _no_inline_code(text)
    page = login(app, organiser).get(f"/staff/dashboard/events/{course.id}")
    assert "Anna Alingsås" in page.get_data(as_text=True)
    assert "Bertil Lerum" in page.get_data(as_text=True)
    # The organiser's dashboard lists the same events.
    assert "Samtalsmetodik" in login(app, organiser).get("/staff/dashboard").get_data(as_text=True)


def test_coordinators_do_not_see_drafts(app):
    org = f.organisation()
    draft = f.event(status=EventStatus.DRAFT, title="Hemligt utkast")
    coordinator = staff("coordinator", org.name)
    client = login(app, coordinator)
    assert "Hemligt utkast" not in client.get("/staff/dashboard").get_data(as_text=True)
    assert client.get(f"/staff/dashboard/events/{draft.id}").status_code == 404
    assert client.get("/staff/dashboard/events/999999").status_code == 404


DASHBOARD_STATEMENT_BOUND = 12


def test_dashboard_sql_is_bounded_with_100k_interests(app):
    """50 gauging events, 100,000 interests: the same handful of GROUP BY queries."""
    coordinator_org = f.organisation("Liten kommun")
    small = f.event(status=EventStatus.GAUGING, kind=EventKind.LECTURE, interest_threshold=2)
    f.sign_up(small.id, coordinator_org.id, 1)
    organiser = login(app, staff("organiser"))
    coordinator = login(app, staff("coordinator", "Liten kommun"))
    for client in (organiser, coordinator):
        client.get("/lang/en")

    with count_statements() as few:
        assert organiser.get("/staff/dashboard").status_code == 200

    event_ids = seed(events=50, rows=100_000)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 100_001

    for client in (organiser, coordinator):
        with count_statements() as many:
            response = client.get("/staff/dashboard")
        assert response.status_code == 200
        assert len(many) <= DASHBOARD_STATEMENT_BOUND, many
        assert not any("FROM registration" in s and "GROUP BY" not in s for s in many), many
    assert len(many) <= len(few) + 1  # +1: the coordinator's organisation row
    # 51 events, 20 a page: three pages, each the same statements.
    html = ""
    for number in (1, 2, 3):
        with count_statements() as on_page:
            response = coordinator.get(f"/staff/dashboard?page={number}")
        assert response.status_code == 200 and len(on_page) == len(many)
        html += response.get_data(as_text=True)
    assert coordinator.get("/staff/dashboard?page=4").status_code == 404
    # Each event got 2,000 interests: the pages show the totals computed in the database.
    reached = html.count("2000 interested: enough for the lecture to take place")
    assert reached + html.count("2000 of ") == 50 and reached > 0
    assert f'href="/staff/dashboard/events/{event_ids[-1]}"' in html


def test_gauging_chart_reaches_today(app):
    org = f.organisation()
    lecture = f.event(status=EventStatus.GAUGING, kind=EventKind.LECTURE, interest_threshold=5)
    now = reports.clock.now()
    insert_interest(lecture.id, org.id, [now - timedelta(days=3), now - timedelta(days=3)])
    report = reports.event_report(lecture.id)
    assert [p.total for p in report.interest_days] == [2, 2, 2, 2]
    assert report.interest_days[-1].day == reports.clock.local(now).date()


@pytest.mark.browser
def test_dashboard_in_chromium_breaks_no_csp_rule(app):
    from tests.staff_helpers import PASSWORD, browser_page, live_server

    org = f.organisation("Alingsås kommun")
    lecture = f.event(status=EventStatus.GAUGING, kind=EventKind.LECTURE, interest_threshold=3)
    f.sign_up(lecture.id, org.id, 1)
    course = f.event(capacity=1)
    f.sign_up(course.id, org.id, 2)
    f.sign_up(course.id, org.id, 3)
    coordinator = make_user("coordinator", organisation=org)
    with live_server(app) as base, browser_page() as page:
        messages = []
        page.on("console", lambda message: messages.append(message.text))
        page.goto(f"{base}/login")
        page.fill("#email", coordinator.email)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{base}/staff/dashboard")
        # The bars and the curve are drawn (SVG shapes with a size); every segment is one
        # rect with a <title>, labelled with its number; the tables open on request.
        segments = page.locator("svg.bars rect:has(title)")
        assert segments.count() == 3  # interested; confirmed + waitlisted
        assert page.locator("svg.timeline polyline").count() == 1
        box = segments.first.bounding_box()
        assert box["width"] > 50 and box["height"] > 10
        table = page.locator("details.chart-table table").first
        assert not table.is_visible()
        page.locator("details.chart-table summary").first.click()
        assert table.is_visible()
    assert not [m for m in messages if "Content Security Policy" in m], messages
