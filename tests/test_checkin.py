"""Check-in at the door: only people with a seat, search by name, one tap, undo."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.core.extensions import db
from app.models import AuditEntry, Registration, RegistrationStatus, Role
from tests import factories as f
from tests.staff_helpers import (
    PASSWORD,
    audit_actions,
    browser_page,
    form_inputs,
    live_server,
    login_as,
    make_user,
    outbox,
)

S = RegistrationStatus


def fresh(registration_id: int) -> Registration:
    return db.session.get(Registration, registration_id, populate_existing=True)


def listed(page: str) -> list[str]:
    return re.findall(r'<span class="who"><strong>([^<]+)</strong>', page)


def setup_event():
    org = f.organisation()
    ev = f.event(capacity=4)
    regs = [
        f.sign_up(ev.id, org.id, n, name=name).registration
        for n, name in enumerate(["Östen Ek", "Ärla Sten", "anna Berg", "Åke Lind", "Väntar Väntarsson"])
    ]
    return ev, regs


def test_checkin_lists_people_with_a_seat_by_name_and_searches(app, client):
    ev, regs = setup_event()
    login_as(client)
    url = f"/staff/events/{ev.id}/checkin"
    page = client.get(url).get_data(as_text=True)
    # Swedish order (å before ä before ö), and not the waitlisted person.
    assert listed(page) == ["anna Berg", "Åke Lind", "Ärla Sten", "Östen Ek"]
    assert "0 of 4 checked in" in page
    assert 'name="viewport"' in page  # made for a phone
    assert listed(client.get(url, query_string={"q": "ÅKE"}).get_data(as_text=True)) == ["Åke Lind"]
    assert listed(client.get(url, query_string={"q": "nobody"}).get_data(as_text=True)) == []


def test_one_tap_checks_in_and_undo_takes_it_back(app, client):
    ev, regs = setup_event()
    user = login_as(client)
    url = f"/staff/events/{ev.id}/checkin"
    page = client.get(url, query_string={"q": "åke"}).get_data(as_text=True)
    action = f"/staff/events/{ev.id}/checkin/{regs[3].id}"
    fields = form_inputs(page, action)
    assert fields["attended"] == "1" and fields["q"] == "åke"
    response = client.post(action, data=fields)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"?q=%C3%A5ke#r{regs[3].id}")
    row = fresh(regs[3].id)
    assert row.status == S.ATTENDED and row.checked_in_at is not None
    page = client.get(url).get_data(as_text=True)
    assert "1 of 4 checked in" in page

    undo = form_inputs(page, action)
    assert undo["attended"] == "0"
    client.post(action, data=undo)
    row = fresh(regs[3].id)
    assert row.status == S.CONFIRMED and row.checked_in_at is None
    assert audit_actions(user.id) == ["registration.attendance", "registration.attendance"]
    details = [e.details for e in db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id))]
    assert details == [{"attended": True}, {"attended": False}]
    assert outbox("promoted") == [] and len(outbox()) == 5  # check-in mails nobody


def test_checkin_answers_json_for_the_script(app, client):
    ev, regs = setup_event()
    login_as(client)
    response = client.post(
        f"/staff/events/{ev.id}/checkin/{regs[0].id}",
        data={"attended": "1"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    data = response.get_json()
    assert data["ok"] is True and data["attended"] is True
    assert data["count_text"] == "1 of 4 checked in"
    # A waitlisted person cannot be checked in: a clear refusal, nothing written.
    refused = client.post(
        f"/staff/events/{ev.id}/checkin/{regs[4].id}",
        data={"attended": "1"},
        headers={"Accept": "application/json"},
    )
    assert refused.status_code == 409
    assert refused.get_json()["message"] == "Only people with a seat can be checked in."
    assert fresh(regs[4].id).status == S.WAITLISTED


def test_refusal_without_script_is_a_message_not_an_error(app, client):
    ev, regs = setup_event()
    login_as(client)
    response = client.post(
        f"/staff/events/{ev.id}/checkin/{regs[4].id}", data={"attended": "1"}, follow_redirects=True
    )
    assert response.status_code == 200
    assert "Only people with a seat can be checked in." in response.get_data(as_text=True)


def test_a_registration_of_another_event_is_not_found(app, client):
    ev, regs = setup_event()
    other = f.event()
    login_as(client)
    response = client.post(f"/staff/events/{other.id}/checkin/{regs[0].id}", data={"attended": "1"})
    assert response.status_code == 404
    assert fresh(regs[0].id).status == S.CONFIRMED


def test_coordinators_cannot_check_people_in(app, client):
    ev, regs = setup_event()
    login_as(client, Role.COORDINATOR, organisation="Lerums kommun")
    assert client.get(f"/staff/events/{ev.id}/checkin").status_code == 403
    response = client.post(f"/staff/events/{ev.id}/checkin/{regs[0].id}", data={"attended": "1"})
    assert response.status_code == 403
    assert fresh(regs[0].id).status == S.CONFIRMED


@pytest.mark.browser
@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_checkin_in_a_real_browser_updates_the_row_without_reloading(app):
    from playwright.sync_api import expect

    ev, regs = setup_event()
    user = make_user()
    with live_server(app) as base, browser_page() as page:
        page.goto(f"{base}/login")
        page.fill("#email", user.email)
        page.fill("#password", PASSWORD)
        page.click("form.login button[type=submit]")
        page.wait_for_url(f"{base}/staff/events")
        page.goto(f"{base}/staff/events/{ev.id}/checkin")
        page.evaluate("window.notReloaded = true")
        row = page.locator(f"#r{regs[3].id}")
        row.locator("button").click()
        expect(row).to_have_class(re.compile("is-in"))
        expect(row.locator("button")).to_have_text(re.compile("^Undo"))
        expect(page.locator("[data-checkin-count]")).to_have_text("1 of 4 checked in")
        assert page.evaluate("window.notReloaded") is True
        db.session.rollback()  # end the test's own read snapshot before looking
        assert fresh(regs[3].id).status == S.ATTENDED

        row.locator("button").click()
        expect(row).not_to_have_class(re.compile("is-in"))
        expect(page.locator("[data-checkin-count]")).to_have_text("0 of 4 checked in")
        db.session.rollback()
        assert fresh(regs[3].id).status == S.CONFIRMED

        page.fill("#q", "ärla")  # narrows the list while typing
        expect(page.locator(".checkin-list li:visible")).to_have_count(1)
        expect(page.locator(".checkin-list li:visible strong")).to_have_text("Ärla Sten")
