"""Public pages: listing, event page, sign-up, manage link, and every bad input."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core import clock
from app.core.extensions import db
from app.models import EventKind, EventStatus, OutboxMessage, Registration
from tests import factories as f


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def form(org_id, **overrides) -> dict:
    data = {
        "name": "Anna Andersson",
        "email": "anna@example.org",
        "organisation": str(org_id),
        "work_team": "Familjeteamet",
        "needs": "Vegetariskt",
    }
    data.update(overrides)
    return data


@pytest.fixture
def org(app):
    return f.organisation("Alingsås kommun")


def test_listing_shows_upcoming_events_with_seats_and_filter(client, org):
    course = f.event(capacity=2, title="Kurs i föräldraskap")
    lecture = f.event(capacity=1, title="Kvällsföreläsning", kind=EventKind.LECTURE)
    f.event(title="Utkast", status=EventStatus.DRAFT)
    f.event(title="Förra veckan", days_ahead=-7)
    f.sign_up(lecture.id, org.id, 1)
    f.sign_up(lecture.id, org.id, 2)
    page = client.get("/events").get_data(as_text=True)
    assert "Kurs i föräldraskap" in page and "Kvällsföreläsning" in page
    assert "Utkast" not in page and "Förra veckan" not in page
    assert "2 platser kvar" in page
    assert "Fullt · 1 på väntelistan" in page
    only_courses = client.get("/events?kind=course").get_data(as_text=True)
    assert "Kurs i föräldraskap" in only_courses and "Kvällsföreläsning" not in only_courses
    assert course.id


def test_dates_are_swedish_in_stockholm_time(client, org):
    f.at_noon_in_stockholm()
    ev = f.event()
    start = clock.local(ev.sessions[0].starts_at)
    page = client.get(f"/events/{ev.id}").get_data(as_text=True)
    assert re.search(r"(måndag|tisdag|onsdag|torsdag|fredag|lördag|söndag) \d{1,2} \w+ kl\. \d\d\.\d\d–\d\d\.\d\d", page)
    assert f"kl. {start:%H.%M}" in page


def test_organisation_must_be_chosen_not_defaulted(client, org):
    ev = f.event()
    page = client.get(f"/events/{ev.id}").get_data(as_text=True)
    first = re.search(r'<select[^>]*id="organisation"[^>]*>\s*<option([^>]*)>([^<]*)<', page)
    assert first and 'value=""' in first.group(1) and "Välj din organisation" in first.group(2)


def test_english_on_request(client, org):
    f.at_noon_in_stockholm()
    ev = f.event()
    client.get("/lang/en?next=/events")
    page = client.get(f"/events/{ev.id}").get_data(as_text=True)
    assert "Sign up" in page and re.search(r"\w+day \d{1,2} \w+, \d\d:\d\d–\d\d:\d\d", page)


def test_language_switch_does_not_redirect_off_site(client):
    response = client.get("/lang/en?next=https://evil.example/")
    assert response.status_code == 302 and response.headers["Location"] == "/events"


def test_sign_up_confirms_and_shows_manage_page(client, org):
    ev = f.event(capacity=1)
    response = client.post(f"/events/{ev.id}/register", data=form(org.id))
    assert response.status_code == 303
    token = db.session.scalar(sa.select(Registration.manage_token))
    assert response.headers["Location"].endswith(f"/r/{token}?signed_up=1")
    assert "Set-Cookie" not in response.headers  # a successful sign-up writes no session
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Du har en plats" in page and "Anna Andersson" in page
    assert "En bekräftelse är på väg till din e-post." in page
    assert db.session.scalar(sa.select(OutboxMessage.kind)) == "confirmation"


def test_waitlist_position_and_cancel_promotes_at_once(client, org):
    ev = f.event(capacity=1)
    first = f.sign_up(ev.id, org.id, 1).registration
    client.post(f"/events/{ev.id}/register", data=form(org.id, email="two@example.org"))
    client.post(f"/events/{ev.id}/register", data=form(org.id, email="three@example.org"))
    third = db.session.scalar(sa.select(Registration).where(Registration.email == "three@example.org"))
    assert "väntelistan, nummer 2" in client.get(f"/r/{third.manage_token}").get_data(as_text=True)

    response = client.post(f"/r/{first.manage_token}/cancel")
    assert response.status_code == 303
    db.session.expire_all()
    second = db.session.scalar(sa.select(Registration).where(Registration.email == "two@example.org"))
    assert second.status == "confirmed"
    assert "väntelistan, nummer 1" in client.get(f"/r/{third.manage_token}").get_data(as_text=True)
    assert "Avbokad" in client.get(f"/r/{first.manage_token}").get_data(as_text=True)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "Ange ditt namn."),
        ({"name": "x" * 121}, "name", "Använd högst 120 tecken."),
        ({"email": ""}, "email", "Ange din e-postadress."),
        ({"email": "inte-en-adress"}, "email", "Ange en giltig e-postadress"),
        ({"email": "a@b"}, "email", "Ange en giltig e-postadress"),
        ({"email": "x" * 250 + "@example.org"}, "email", "Använd högst 254 tecken."),
        ({"organisation": ""}, "organisation", "Välj din organisation."),
        ({"organisation": "99999"}, "organisation", "Välj en organisation i listan."),
        ({"organisation": "abc"}, "organisation", "Välj en organisation i listan."),
        ({"work_team": "t" * 121}, "work_team", "Använd högst 120 tecken."),
        ({"needs": "n" * 1001}, "needs", "Använd högst 1000 tecken."),
    ],
)
def test_bad_input_is_explained_next_to_the_field_and_nothing_written(
    client, org, overrides, field, message
):
    ev = f.event()
    response = client.post(f"/events/{ev.id}/register", data=form(org.id, **overrides))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    error = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', page, re.S)
    assert error and message in error.group(1)
    assert count(Registration) == 0 and count(OutboxMessage) == 0


def test_a_deactivated_organisation_is_refused_next_to_its_field(client, org):
    from app.core.database import write_transaction
    from app.models import Organisation

    gone = f.organisation("Nedlagd kommun")

    def deactivate():
        db.session.get(Organisation, gone.id).active = False

    write_transaction(deactivate)
    ev = f.event()
    response = client.post(f"/events/{ev.id}/register", data=form(gone.id))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    error = re.search(r'<p class="error" id="organisation-error">(.*?)</p>', page, re.S)
    assert error and "Välj en organisation i listan." in error.group(1)
    assert "Nedlagd kommun" not in page  # not offered again either
    assert count(Registration) == 0 and count(OutboxMessage) == 0


def test_bad_input_in_english(client, org):
    ev = f.event()
    client.get("/lang/en")
    page = client.post(f"/events/{ev.id}/register", data=form(org.id, email="nope")).get_data(as_text=True)
    assert "Enter a valid email address" in page


def test_unknown_event_is_404_and_writes_nothing(client, org):
    assert client.post("/events/4242/register", data=form(org.id)).status_code == 404
    assert client.get("/events/4242").status_code == 404
    assert count(Registration) == 0


def test_draft_event_is_not_public(client, org):
    ev = f.event(status=EventStatus.DRAFT)
    assert client.get(f"/events/{ev.id}").status_code == 404
    assert client.post(f"/events/{ev.id}/register", data=form(org.id)).status_code == 404
    assert count(Registration) == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": EventStatus.CANCELLED}, "Evenemanget är inställt."),
        ({"status": EventStatus.CLOSED}, "Anmälan till evenemanget är stängd."),
        ({"registration_closes_at_days": -1}, "Anmälan till evenemanget är stängd."),
        ({"registration_opens_at_days": 2}, "Anmälan till evenemanget har inte öppnat än."),
    ],
)
def test_events_that_take_no_sign_ups_say_why(client, org, fields, message):
    extra = {}
    if "registration_closes_at_days" in fields:
        extra["registration_closes_at"] = clock.now() + timedelta(days=fields.pop("registration_closes_at_days"))
    if "registration_opens_at_days" in fields:
        extra["registration_opens_at"] = clock.now() + timedelta(days=fields.pop("registration_opens_at_days"))
    ev = f.event(**fields, **extra)
    response = client.post(f"/events/{ev.id}/register", data=form(org.id))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count(Registration) == 0 and count(OutboxMessage) == 0


def test_full_event_without_waitlist_refuses(client, org):
    ev = f.event(capacity=1, waitlist_enabled=False)
    f.sign_up(ev.id, org.id, 1)
    response = client.post(f"/events/{ev.id}/register", data=form(org.id))
    assert response.status_code == 400
    assert "fullt och har ingen väntelista" in response.get_data(as_text=True)
    assert count(Registration) == 1


def test_second_sign_up_with_same_email_reveals_nothing(client, org):
    ev = f.event(capacity=5)
    first = f.sign_up(ev.id, org.id, 1, email="anna@example.org", name="Anna Först").registration
    response = client.post(f"/events/{ev.id}/register", data=form(org.id, email="ANNA@example.org", name="Någon Annan"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "redan anmäld" in page and "skickat länken" in page
    assert first.manage_token not in page and "Anna Först" not in page
    assert count(Registration) == 1
    mail = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == "already_registered"))
    assert mail.recipient == "anna@example.org" and first.manage_token in mail.body_text


def test_double_clicked_submit_makes_one_registration(client, org):
    ev = f.event(capacity=5)
    data = form(org.id, submission_key="a1b2c3d4e5")
    first = client.post(f"/events/{ev.id}/register", data=data)
    second = client.post(f"/events/{ev.id}/register", data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert count(Registration) == 1 and count(OutboxMessage) == 1


def test_forged_manage_token_is_404(client, org):
    assert client.get("/r/not-a-real-token").status_code == 404
    assert client.post("/r/not-a-real-token/cancel").status_code == 404
    assert client.get("/r/" + "x" * 300).status_code == 404


def test_manage_link_expires_after_the_event(client, org):
    ev = f.event(days_ahead=1)
    reg = f.sign_up(ev.id, org.id, 1).registration
    assert client.get(f"/r/{reg.manage_token}").status_code == 200
    clock.travel(timedelta(days=40))
    assert client.get(f"/r/{reg.manage_token}").status_code == 404


def test_oversized_request_is_refused_politely(client, org):
    ev = f.event()
    response = client.post(f"/events/{ev.id}/register", data=form(org.id, needs="x" * 300_000))
    assert response.status_code == 413
    assert count(Registration) == 0


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_missing_csrf_token_is_refused_and_nothing_written(client, org, app_config):
    ev = f.event()
    response = client.post(f"/events/{ev.id}/register", data=form(org.id))
    assert response.status_code == 400
    assert "Formuläret" in response.get_data(as_text=True)
    assert count(Registration) == 0


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_sign_up_with_csrf_token_from_the_page(client, org, app_config):
    ev = f.event()
    page = client.get(f"/events/{ev.id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(
        f"/events/{ev.id}/register", data=form(org.id, csrf_token=token, submission_key=key)
    )
    assert response.status_code == 303 and count(Registration) == 1


def test_security_headers(client):
    response = client.get("/events")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_wtforms_own_messages_follow_the_users_language(app):
    """Built-in WTForms messages come from its catalogue, read once per language."""
    from flask_babel import refresh
    from wtforms import IntegerField

    from app.core.form_base import KvarnForm

    class NumberForm(KvarnForm):
        number = IntegerField()

    for lang, message in (("sv", "Inte ett giltigt heltal"), ("en", "Not a valid integer value.")):
        with app.test_request_context(f"/?lang={lang}", method="POST", data={"number": "tre"}):
            refresh()  # the test's app context would keep the first request's language
            form = NumberForm(meta={"csrf": False})
            assert not form.validate()
            assert message in form.number.errors[0]
