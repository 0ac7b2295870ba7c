"""Registrations per event (search, filter, cancel, promote by hand), reminders with
preview and progress, and the failed-mail page with retry. Mail goes to a real
SMTP server (aiosmtpd) through the real delivery worker."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.core.extensions import db
from app.mail import delivery
from app.models import (
    AuditEntry,
    Event,
    OutboxMessage,
    OutboxStatus,
    Registration,
    RegistrationStatus,
)
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


@pytest.fixture
def app_config(request, smtp_sink):
    config = {**smtp_sink.config(), "MAIL_MAX_ATTEMPTS": 1}
    if request.node.get_closest_marker("browser"):
        config["WTF_CSRF_ENABLED"] = True  # the browser sends the real tokens
    return config


def status_of(registration_id: int) -> RegistrationStatus:
    return db.session.get(Registration, registration_id, populate_existing=True).status


def names(page: str) -> list[str]:
    return re.findall(r'<tr id="r\d+">\s*<td>([^<]+)<br>', page)


@pytest.fixture
def full_event(app):
    """Capacity 2: Anna and Bertil have seats, Cecilia and Åsa wait."""
    org = f.organisation("Alingsås kommun")
    ev = f.event(capacity=2)
    people = [
        ("Anna Andersson", "Familjeteamet"),
        ("Bertil Berg", "Elevhälsan"),
        ("Cecilia Ceder", "Familjeteamet"),
        ("Åsa Öberg", ""),
    ]
    regs = [
        f.sign_up(ev.id, org.id, n, name=name, work_team=team).registration
        for n, (name, team) in enumerate(people)
    ]
    return ev, regs


def test_list_searches_name_email_and_work_team_and_filters_by_status(client, full_event):
    ev, regs = full_event
    login_as(client)
    url = f"/staff/events/{ev.id}/registrations"
    page = client.get(url).get_data(as_text=True)
    assert names(page) == ["Anna Andersson", "Bertil Berg", "Cecilia Ceder", "Åsa Öberg"]
    assert "no. 1" in page and "no. 2" in page  # waitlist places
    assert names(client.get(url, query_string={"q": "familjeteamet"}).get_data(as_text=True)) == [
        "Anna Andersson", "Cecilia Ceder"
    ]
    assert names(client.get(url, query_string={"q": "person1@"}).get_data(as_text=True)) == ["Bertil Berg"]
    # Case-insensitive beyond ASCII, on every database.
    assert names(client.get(url, query_string={"q": "åsa"}).get_data(as_text=True)) == ["Åsa Öberg"]
    waiting = client.get(url, query_string={"status": "waitlisted"}).get_data(as_text=True)
    assert names(waiting) == ["Cecilia Ceder", "Åsa Öberg"]
    # Junk in the filter is ignored, never an error.
    assert client.get(url, query_string={"status": "x' OR 1=1", "q": "%_\\"}).status_code == 200


def test_staff_cancel_frees_the_seat_for_the_waitlist_and_tells_both(client, full_event):
    ev, regs = full_event
    user = login_as(client)
    before = len(outbox())
    back = f"/staff/events/{ev.id}/registrations?q=anna"
    page = client.get(back).get_data(as_text=True)
    fields = form_inputs(page, f"/staff/registrations/{regs[0].id}/cancel")
    response = client.post(f"/staff/registrations/{regs[0].id}/cancel", data=fields)
    assert response.status_code == 303
    assert response.headers["Location"] == back
    assert status_of(regs[0].id) == S.CANCELLED
    assert status_of(regs[2].id) == S.CONFIRMED
    assert outbox()[before:] == [
        ("cancelled", "person0@example.org"),
        ("promoted", "person2@example.org"),
    ]
    assert audit_actions(user.id) == ["registration.cancel"]
    entry = db.session.scalar(sa.select(AuditEntry))
    assert (entry.object_type, entry.object_id) == ("registration", regs[0].id)


def test_cancel_redirect_never_leaves_the_site(client, full_event):
    ev, regs = full_event
    login_as(client)
    response = client.post(
        f"/staff/registrations/{regs[3].id}/cancel", data={"next": "https://evil.example/"}
    )
    assert response.headers["Location"] == f"/staff/events/{ev.id}/registrations"


def test_promote_by_hand_adds_a_seat_and_tells_the_person(client, full_event):
    ev, regs = full_event
    user = login_as(client)
    before = len(outbox())
    response = client.post(f"/staff/registrations/{regs[3].id}/promote", follow_redirects=True)
    assert "Capacity is now 3." in response.get_data(as_text=True)
    assert status_of(regs[3].id) == S.CONFIRMED
    assert status_of(regs[2].id) == S.WAITLISTED  # Cecilia keeps her place
    assert db.session.get(Event, ev.id, populate_existing=True).capacity == 3
    assert outbox()[before:] == [("promoted", "person3@example.org")]
    assert audit_actions(user.id) == ["registration.promote"]


def test_promoting_someone_with_a_seat_is_refused_politely(client, full_event):
    ev, regs = full_event
    user = login_as(client)
    before = len(outbox())
    response = client.post(f"/staff/registrations/{regs[0].id}/promote", follow_redirects=True)
    assert response.status_code == 200
    assert "Only a waitlisted person can be promoted." in response.get_data(as_text=True)
    assert len(outbox()) == before and audit_actions(user.id) == []
    assert client.post("/staff/registrations/99999/promote").status_code == 404


# --- reminders -----------------------------------------------------------------


def test_reminder_preview_then_send_with_progress(client, full_event, smtp_sink):
    ev, regs = full_event
    user = login_as(client)
    page = client.get(f"/staff/events/{ev.id}/reminder").get_data(as_text=True)
    assert "Anna Andersson" in page  # the preview is addressed to a made-up person
    assert all(r.manage_token not in page for r in regs)
    assert "Send the reminder to 2 people with a seat" in page
    html = client.get(f"/staff/events/{ev.id}/reminder/preview.html")
    assert html.mimetype == "text/html" and "<html" in html.get_data(as_text=True)
    assert "script-src" not in html.headers["Content-Security-Policy"]

    fields = form_inputs(page, f"/staff/events/{ev.id}/reminder")
    sent = client.post(f"/staff/events/{ev.id}/reminder", data=fields)
    assert sent.status_code == 303
    label = re.search(r"label=([\w-]+)", sent.headers["Location"]).group(1)
    # A double click (the same form again) queues nobody twice.
    assert client.post(f"/staff/events/{ev.id}/reminder", data=fields).status_code == 303
    assert outbox("reminder") == [
        ("reminder", "person0@example.org"),
        ("reminder", "person1@example.org"),
    ]
    assert audit_actions(user.id) == ["event.reminders"]  # one round, recorded once

    progress_url = f"/staff/events/{ev.id}/reminder/progress?label={label}"
    waiting = client.get(progress_url).get_json()
    assert (waiting["total"], waiting["done"], waiting["pending"], waiting["finished"]) == (2, 0, 2, False)
    progress_page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert '<progress max="2" value="0"' in progress_page
    assert "Refresh" in progress_page  # the no-JS fallback
    assert 'src="/static/staff.js"' in progress_page

    smtp_sink.reject.add("person1@example.org")
    delivery.send_due()
    done = client.get(progress_url).get_json()
    assert (done["sent"], done["failed"], done["done"], done["finished"]) == (1, 1, 2, True)
    assert done["text"] == "2 of 2 handled: 1 sent, 1 failed, 0 waiting."
    reminded = [m["To"] for m in smtp_sink.messages() if "person0@example.org" in m["To"]]
    assert reminded  # the seated person really got mail over SMTP


def test_progress_needs_a_valid_label(client, full_event):
    ev, _ = full_event
    login_as(client)
    assert client.get(f"/staff/events/{ev.id}/reminder/progress").status_code == 404
    assert client.get(f"/staff/events/{ev.id}/reminder/progress?label=a:b").status_code == 404


def test_reminder_form_without_its_key_is_a_bad_request(client, full_event):
    ev, _ = full_event
    login_as(client)
    assert client.post(f"/staff/events/{ev.id}/reminder", data={"key": "x"}).status_code == 400
    assert outbox("reminder") == []


# --- failed mail -----------------------------------------------------------------


def test_outbox_page_shows_failed_mail_and_retry_queues_it_again(client, full_event, smtp_sink):
    ev, regs = full_event
    user = login_as(client)
    smtp_sink.reject.add("person3@example.org")
    delivery.send_due()
    failed = db.session.scalar(
        sa.select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
    )
    assert failed.recipient == "person3@example.org"
    page = client.get("/staff/outbox").get_data(as_text=True)
    assert "person3@example.org" in page and "550" in page
    assert "person0@example.org" not in page  # delivered mail is not listed
    assert f"/staff/outbox/{failed.id}/retry" in page
    own = client.get(f"/staff/outbox?event_id={ev.id}").get_data(as_text=True)
    assert "person3@example.org" in own

    smtp_sink.reject.clear()
    response = client.post(f"/staff/outbox/{failed.id}/retry", data={"event_id": str(ev.id)})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/staff/outbox?event_id={ev.id}"
    row = db.session.get(OutboxMessage, failed.id, populate_existing=True)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 0)
    assert audit_actions(user.id) == ["outbox.retry"]
    delivery.send_due()
    assert smtp_sink.to("person3@example.org")
    assert "No failed mail." in client.get("/staff/outbox").get_data(as_text=True)
    assert client.post("/staff/outbox/99999/retry").status_code == 404


@pytest.mark.browser
def test_in_a_real_browser_confirm_dialogs_and_reminder_progress(app, full_event, smtp_sink):
    from playwright.sync_api import expect

    ev, regs = full_event
    user = make_user()
    with live_server(app) as base, browser_page() as page:
        page.goto(f"{base}/login")
        page.fill("#email", user.email)
        page.fill("#password", PASSWORD)
        page.click("form.login button[type=submit]")
        page.wait_for_url(f"{base}/staff/events")

        # Saying "no" to the question cancels nothing and leaves the button usable.
        page.goto(f"{base}/staff/events/{ev.id}/registrations")
        page.once("dialog", lambda dialog: dialog.dismiss())
        cancel = page.locator(f"#r{regs[0].id} button.danger")
        cancel.click()
        expect(cancel).to_be_enabled()
        db.session.rollback()
        assert status_of(regs[0].id) == S.CONFIRMED
        page.once("dialog", lambda dialog: dialog.accept())
        cancel.click()
        expect(page.locator(".flash-success")).to_contain_text("is cancelled")
        db.session.rollback()
        assert status_of(regs[0].id) == S.CANCELLED

        page.goto(f"{base}/staff/events/{ev.id}/reminder")
        page.click("form[action$='/reminder'] button[type=submit]")
        bar = page.locator("progress[data-progress-bar]")
        expect(bar).to_have_attribute("max", "2")
        expect(page.locator("[data-progress-text]")).to_contain_text("0 of 2 handled")
        db.session.rollback()
        delivery.send_due()  # the worker delivers while the page watches
        expect(page.locator("[data-progress-text]")).to_have_text(
            "2 of 2 handled: 2 sent, 0 failed, 0 waiting.", timeout=10_000
        )
        assert page.evaluate("document.querySelector('progress').value") == 2
    db.session.rollback()
    reminders = db.session.execute(
        sa.select(OutboxMessage.recipient, OutboxMessage.status, OutboxMessage.message_id)
        .where(OutboxMessage.kind == "reminder")
        .order_by(OutboxMessage.recipient)
    ).all()
    assert [(r.recipient, r.status) for r in reminders] == [
        ("person1@example.org", OutboxStatus.SENT),
        ("person2@example.org", OutboxStatus.SENT),
    ]
    received = {m["Message-ID"] for m in smtp_sink.messages()}
    assert {r.message_id for r in reminders} <= received
