"""Registration exports (CSV for Swedish Excel, XLSX) and the printable attendance list."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest
import sqlalchemy as sa

from app.core.extensions import db
from app.models import AuditEntry, EventStatus, Role
from app.reporting import exports
from tests import factories as f
from tests.staff_clients import logged_in
from tests.staff_helpers import make_user


@pytest.fixture
def people():
    """Alingsås: two people (one named like a formula); Lerum: one; capacity 2."""
    a, b = f.organisation("Alingsås kommun"), f.organisation("Lerums kommun")
    event = f.event(capacity=2, sessions=3, title="Samtal i förskolan")
    f.sign_up(event.id, a.id, 1, name="Åsa Öberg", work_team="Förskolan Solrosen", needs="Hörslinga")
    f.sign_up(event.id, b.id, 2, name="Bertil Lerum")
    f.sign_up(event.id, a.id, 3, name='=HYPERLINK("http://evil.example","klicka")')  # waitlisted
    return event, a, b


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM, so Excel reads å, ä, ö"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def audits() -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "export")))


def test_organiser_csv_has_everyone_and_is_audited(app, people):
    event, a, b = people
    organiser = make_user(Role.ORGANISER)
    response = logged_in(app, organiser).get(f"/staff/events/{event.id}/registrations.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.headers["Cache-Control"] == "no-store"
    rows = csv_rows(response.data)
    assert len(rows[0]) == len(exports.HEADERS)
    body = rows[1:]
    assert [r[0] for r in body] == ["Åsa Öberg", "Bertil Lerum", "'=HYPERLINK(\"http://evil.example\",\"klicka\")"]
    assert body[0][1:5] == ["person1@example.org", "Alingsås kommun", "Förskolan Solrosen", "Hörslinga"]
    assert b";" in response.data.splitlines()[0]
    [entry] = audits()
    assert entry.user_id == organiser.id
    assert (entry.object_type, entry.object_id) == ("event", event.id)
    assert entry.details == {"format": "csv", "rows": 3, "scope": "all", "organisation_id": None}


def test_coordinator_exports_only_their_organisation(app, people):
    event, a, b = people
    coordinator = make_user(Role.COORDINATOR, organisation=b)
    client = logged_in(app, coordinator)
    rows = csv_rows(client.get(f"/staff/events/{event.id}/registrations.csv").data)
    assert [r[0] for r in rows[1:]] == ["Bertil Lerum"]
    assert "Alingsås" not in "".join(";".join(r) for r in rows)

    response = client.get(f"/staff/events/{event.id}/registrations.xlsx")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    registrations, summary = book.worksheets
    values = [[c.value for c in row] for row in registrations.iter_rows()]
    assert [row[0] for row in values[1:]] == ["Bertil Lerum"]
    # Other organisations appear only as counts.
    counts = {row[0]: row[1:] for row in summary.iter_rows(min_row=4, values_only=True)}
    assert counts == {"Alingsås kommun": (1, 1, 0), "Lerums kommun": (1, 0, 0)}
    everything = " ".join(str(c.value) for sheet in book.worksheets for row in sheet.iter_rows() for c in row)
    assert "Åsa" not in everything and "person1@example.org" not in everything
    assert [(e.details["format"], e.details["rows"], e.details["scope"], e.details["organisation_id"]) for e in audits()] == [
        ("csv", 1, "organisation", b.id),
        ("xlsx", 1, "organisation", b.id),
    ]


def test_xlsx_keeps_formula_like_names_as_text(app, people):
    event, a, b = people
    response = logged_in(app, make_user(Role.ADMIN)).get(f"/staff/events/{event.id}/registrations.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).worksheets[0]
    cell = sheet["A4"]
    assert cell.value == '=HYPERLINK("http://evil.example","klicka")'
    assert cell.data_type == "s"
    assert sheet["G2"].is_date  # registered at, a real date for sorting in Excel
    assert [c.value for c in sheet[1]][:3] == ["Namn", "E-post", "Organisation"]


def test_missing_event_and_drafts(app):
    draft = f.event(status=EventStatus.DRAFT)
    coordinator = logged_in(app, make_user(Role.COORDINATOR, organisation="Lerums kommun"))
    organiser = logged_in(app, make_user(Role.ORGANISER))
    assert organiser.get("/staff/events/999999/registrations.csv").status_code == 404
    assert coordinator.get(f"/staff/events/{draft.id}/registrations.xlsx").status_code == 404
    assert audits() == []
    assert organiser.get(f"/staff/events/{draft.id}/registrations.xlsx").status_code == 200
    assert len(audits()) == 1


def test_export_audit_on_every_backend(db_app, people):
    event, a, b = people
    viewer = exports.Viewer(make_user(Role.COORDINATOR, organisation=a).id, Role.COORDINATOR, a.id)
    export = exports.export_registrations(event.id, viewer, "xlsx")
    assert export.rows == 2
    db.session.rollback()  # a fresh read: the entry was committed
    [entry] = audits()
    assert entry.details == {"format": "xlsx", "rows": 2, "scope": "organisation", "organisation_id": a.id}


def test_attendance_list_one_page_per_session(app, people):
    event, a, b = people
    client = logged_in(app, make_user(Role.ORGANISER))
    response = client.get(f"/staff/events/{event.id}/attendance")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'href="/static/print.css"' in html
    assert html.count('class="attendance-page"') == 3
    assert html.count("Åsa Öberg") == 3 and html.count("Bertil Lerum") == 3
    assert "HYPERLINK" not in html  # waitlisted: no seat, not on the list
    assert html.count('class="signature"') == 3 * (1 + 2)  # header + one per person, per page
    # Sorted by organisation, then name.
    assert html.index("Åsa Öberg") < html.index("Bertil Lerum")
    coordinator = logged_in(app, make_user(Role.COORDINATOR, organisation=a))
    assert coordinator.get(f"/staff/events/{event.id}/attendance").status_code == 403


def test_print_stylesheet_breaks_pages(app):
    response = app.test_client().get("/static/print.css")
    css = response.get_data(as_text=True)
    response.close()
    assert "@media print" in css
    assert "page-break-after: always" in css and "break-after: page" in css


@pytest.mark.browser
def test_attendance_prints_one_page_per_session_in_chromium(app, people):
    from tests.staff_helpers import PASSWORD, browser_page, live_server

    event, a, b = people
    organiser = make_user(Role.ORGANISER)
    with live_server(app) as base, browser_page() as page:
        page.goto(f"{base}/login")
        page.fill("#email", organiser.email)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{base}/staff/events/{event.id}/attendance")
        assert page.locator("section.attendance-page").count() == 3
        pdf = page.pdf(format="A4")
    # Chromium paginates by the print stylesheet: one page per session.
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 3
