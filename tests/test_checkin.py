"""Check-in at the door: only people with a seat, search by name, one tap, undo."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.core.extensions import db
from app.models import AuditEntry, Registration, RegistrationStatus, Role, SessionAttendance
from app.registrations import seats
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
    session_id = ev.sessions[0].id
    assert fields["session_id"] == str(session_id)
    assert response.headers["Location"].endswith(f"?session={session_id}&q=%C3%A5ke#r{regs[3].id}")
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
    when = ev.sessions[0].starts_at.isoformat()
    assert details == [
        {"attended": True, "session_id": session_id, "session": 1, "sessions": 1, "starts_at": when},
        {"attended": False, "session_id": session_id, "session": 1, "sessions": 1, "starts_at": when},
    ]
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


# --- per session: the picker, one tap per person per session, walk-ins -----------------


def four_day_course():
    org = f.organisation("Alingsås kommun")
    ev = f.event(capacity=3, sessions=4, days_ahead=-1)  # yesterday, today and two to come
    regs = [f.sign_up(ev.id, org.id, n, name=f"Deltagare {n}").registration for n in range(3)]
    db.session.expire_all()
    sessions = sorted(db.session.get(type(ev), ev.id).sessions, key=lambda s: s.starts_at)
    return ev, org, regs, sessions


def selected_session(page: str) -> str:
    return re.search(r'<option value="(\d+)" selected>', page).group(1)


def test_the_page_opens_on_today_s_session_and_shows_the_one_chosen(app, client):
    ev, org, regs, sessions = four_day_course()
    user = login_as(client)
    url = f"/staff/events/{ev.id}/checkin"
    page = client.get(url).get_data(as_text=True)
    assert selected_session(page) == str(sessions[1].id)  # today's
    assert "Session 2 of 4" in page and "(today)" in page
    assert "0 of 3 checked in" in page
    # Yesterday's check-in shows on yesterday's list only.
    seats.set_attendance(regs[0].id, True, user.id, session_id=sessions[0].id)
    yesterday = client.get(url, query_string={"session": sessions[0].id}).get_data(as_text=True)
    assert selected_session(yesterday) == str(sessions[0].id)
    assert "1 of 3 checked in" in yesterday
    assert form_inputs(yesterday, f"{url}/{regs[0].id}")["attended"] == "0"
    today = client.get(url).get_data(as_text=True)
    assert "0 of 3 checked in" in today
    tap = form_inputs(today, f"{url}/{regs[0].id}")
    assert (tap["session_id"], tap["attended"]) == (str(sessions[1].id), "1")
    # A session that is not the event's: the page falls back to today's.
    other = f.event()
    page = client.get(url, query_string={"session": other.sessions[0].id}).get_data(as_text=True)
    assert selected_session(page) == str(sessions[1].id)
    assert client.get(url, query_string={"session": "x" * 50}).status_code == 200


def test_a_tap_checks_in_at_the_session_posted_and_answers_for_it(app, client):
    ev, org, regs, sessions = four_day_course()
    login_as(client)
    action = f"/staff/events/{ev.id}/checkin/{regs[1].id}"
    answer = client.post(
        action,
        data={"attended": "1", "session_id": sessions[2].id},
        headers={"Accept": "application/json"},
    ).get_json()
    assert answer["ok"] is True and answer["attended"] is True
    assert answer["count_text"] == "1 of 3 checked in"
    assert fresh(regs[1].id).status == S.ATTENDED
    assert db.session.scalars(
        sa.select(SessionAttendance.session_id).where(SessionAttendance.registration_id == regs[1].id)
    ).all() == [sessions[2].id]
    # Without a session on a course of four: refused, nothing written.
    refused = client.post(action, data={"attended": "0"}, headers={"Accept": "application/json"})
    assert refused.status_code == 409
    assert refused.get_json()["message"] == "Choose the session to check in at."
    # Another event's session: not found.
    other = f.event()
    assert client.post(action, data={"attended": "1", "session_id": other.sessions[0].id}).status_code == 404
    # Undo at that session without the script: back to the list of that session.
    response = client.post(action, data={"attended": "0", "session_id": sessions[2].id})
    assert response.status_code == 303
    assert f"session={sessions[2].id}" in response.headers["Location"]
    assert fresh(regs[1].id).status == S.CONFIRMED


def test_a_walk_in_from_the_check_in_page(app, client):
    ev, org, regs, sessions = four_day_course()
    user = login_as(client)
    url = f"/staff/events/{ev.id}/checkin/walk-in"
    page = client.get(f"/staff/events/{ev.id}/checkin").get_data(as_text=True)
    fields = form_inputs(page, url)
    assert fields["session_id"] == str(sessions[1].id)
    # Sent empty: the page again with the form open and its errors (400), nothing written.
    response = client.post(url, data=fields)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert '<details class="walk-in" open>' in body and "error-summary" in body
    assert "Enter the name." in body and "Choose the organisation." in body
    # The event is full (three seats, three people): the walk-in gets a fourth.
    response = client.post(
        url,
        data={**fields, "name": "Dörr Dörrsson", "email": "dorr@example.org", "organisation": org.id},
        follow_redirects=True,
    )
    body = response.get_data(as_text=True)
    assert "Dörr Dörrsson is registered and checked in." in body
    assert "The event was full, so it got one more seat: 3 → 4." in body
    walk_in = db.session.scalar(sa.select(Registration).where(Registration.email == "dorr@example.org"))
    assert walk_in.status == S.ATTENDED
    assert db.session.get(type(ev), ev.id).capacity == 4
    assert audit_actions(user.id) == ["registration.walk_in"]
    assert ("confirmation", "dorr@example.org") in outbox("confirmation")
    # The same address again (a double tap): already checked in, nothing added.
    again = client.post(
        url,
        data={**fields, "name": "Dörr", "email": "dorr@example.org", "organisation": org.id},
        follow_redirects=True,
    )
    assert "already had a seat with that address" in again.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Registration.id))) == 4
    # Someone waiting is refused at the field, the form kept.
    f.sign_up(ev.id, org.id, 7)  # waits: the event is full again
    waiting = client.post(
        url, data={**fields, "name": "Person 7", "email": "person7@example.org", "organisation": org.id}
    )
    assert waiting.status_code == 400
    assert "Give them a seat on the registrations page first." in waiting.get_data(as_text=True)


def test_a_walk_in_without_a_session_of_the_event_is_refused(app, client):
    ev, org, regs, sessions = four_day_course()
    login_as(client)
    response = client.post(
        f"/staff/events/{ev.id}/checkin/walk-in",
        data={"name": "Ny", "email": "ny@example.org", "organisation": org.id, "session_id": "nope"},
    )
    assert response.status_code == 400
    assert "Choose the session to check in at." in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Registration.id))) == 3
