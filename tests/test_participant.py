"""The person who signs up: correct a registration keeping the place, move it to another
address (confirmed from that address), cancel on purpose, find events, and pages and
mails that say who and where. Through the real SMTP sink where mail is concerned.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core import clock
from app.core.database import write_transaction
from app.core.extensions import db
from app.mail import delivery
from app.models import (
    AuditEntry,
    Event,
    EventKind,
    EventStatus,
    OutboxMessage,
    Registration,
    RegistrationStatus,
    Role,
)
from app.registrations import reads, seats
from tests import factories as f
from tests.staff_helpers import make_user

S = RegistrationStatus


@pytest.fixture
def app_config(smtp_sink):
    return smtp_sink.config()


def fresh(registration_id: int) -> Registration:
    return db.session.get(Registration, registration_id, populate_existing=True)


def edit(client, token: str, **fields):
    registration = db.session.scalar(sa.select(Registration).where(Registration.manage_token == token))
    data = {
        "name": registration.name,
        "organisation": str(registration.organisation_id),
        "work_team": registration.work_team,
        "needs": registration.needs,
        **fields,
    }
    return client.post(f"/r/{token}/details?lang=en", data=data)


# --- correcting a registration -------------------------------------------------------------


def test_correcting_details_keeps_the_place_in_the_queue_and_mails_a_receipt(db_app, smtp_sink):
    org, other = f.organisation("Alingsås kommun"), f.organisation("Lerums kommun")
    ev = f.event(capacity=1)
    f.sign_up(ev.id, org.id, 0)
    waiting = [f.sign_up(ev.id, org.id, n) for n in (1, 2)]
    client = db_app.test_client()
    token = waiting[0].manage_token
    response = edit(client, token, name="Person Ett Rättad", organisation=str(other.id), needs="Vegetarisk kost")
    assert response.status_code == 303
    registration = fresh(waiting[0].registration.id)
    assert (registration.name, registration.organisation_id, registration.needs) == (
        "Person Ett Rättad", other.id, "Vegetarisk kost"
    )
    assert registration.status == S.WAITLISTED and reads.waitlist_position(registration) == 1
    assert registration.created_at == waiting[0].registration.created_at  # the queue order
    delivery.send_due()
    [receipt] = [m for m in smtp_sink.to("person1@example.org") if "updated" in m["Subject"] or "uppdaterad" in m["Subject"]]
    body = receipt.get_body(("plain",)).get_content()
    assert "Vegetarisk kost" in body and "Lerums kommun" in body
    [entry] = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "registration.edit"))
    assert set(entry.details["fields"]) == {"name", "organisation_id", "needs"}
    assert "Vegetarisk" not in str(entry.details)  # the audit names fields, not personal values


def test_bad_corrections_are_refused_at_the_field_and_change_nothing(app):
    org = f.organisation()
    ev = f.event()
    result = f.sign_up(ev.id, org.id, 1)
    client = app.test_client()
    for fields, message in (
        ({"name": ""}, "Enter your name."),
        ({"organisation": "99999"}, "Choose an organisation from the list."),
        ({"needs": "x" * 1001}, "Use at most 1000 characters."),
    ):
        response = edit(client, result.manage_token, **fields)
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert message in page and 'class="error-summary"' in page
        assert fresh(result.registration.id).name == "Person 1"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1  # only the confirmation


def test_a_new_email_address_changes_only_once_confirmed_from_that_address(db_app, smtp_sink):
    org = f.organisation()
    ev = f.event()
    result = f.sign_up(ev.id, org.id, 1)
    f.sign_up(ev.id, org.id, 2)
    client = db_app.test_client()
    taken = client.post(f"/r/{result.manage_token}/email?lang=en", data={"email": "person2@example.org"})
    assert taken.status_code == 400 and "already registered for this event" in taken.get_data(as_text=True)
    asked = client.post(f"/r/{result.manage_token}/email", data={"email": "Ny.Adress@Example.org"})
    assert asked.status_code == 303
    assert fresh(result.registration.id).email == "person1@example.org"  # nothing yet
    delivery.send_due()
    [mail] = smtp_sink.to("ny.adress@example.org")
    body = mail.get_body(("plain",)).get_content()
    assert result.manage_token not in body  # an unconfirmed address never gets the personal link
    path = re.search(r"http://kvarn\.test(/r/email/[A-Za-z0-9._-]+)", body).group(1)
    followed = client.get(path)
    assert followed.status_code == 303 and followed.headers["Location"].endswith(f"/r/{result.manage_token}")
    registration = fresh(result.registration.id)
    assert (registration.email, registration.active_email) == ("ny.adress@example.org",) * 2
    assert client.get(path).status_code == 303  # followed twice: already done, nothing more
    clock.travel(timedelta(hours=49))
    client.post(f"/r/{result.manage_token}/email", data={"email": "senare@example.org"})
    delivery.send_due()
    late = re.search(r"(/r/email/[A-Za-z0-9._-]+)", smtp_sink.to("senare@example.org")[0].get_body(("plain",)).get_content()).group(1)
    clock.travel(timedelta(hours=49 + 49))
    assert client.get(late).status_code == 410  # expired
    assert fresh(result.registration.id).email == "ny.adress@example.org"


# --- cancelling on purpose -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("which", "words"),
    [
        (0, "It goes at once to the first person on the waiting list"),
        (1, "You give up your place on the waiting list (you are number 1)"),
    ],
)
def test_the_confirmation_step_says_what_cancelling_means_and_changes_nothing(app, which, words):
    org = f.organisation()
    ev = f.event(capacity=1)
    results = [f.sign_up(ev.id, org.id, n) for n in range(2)]
    client = app.test_client()
    client.get("/lang/en")
    page = client.get(f"/r/{results[which].manage_token}/cancel")
    assert page.status_code == 200 and words in page.get_data(as_text=True)
    assert [fresh(r.registration.id).status for r in results] == [S.CONFIRMED, S.WAITLISTED]
    done = client.post(f"/r/{results[which].manage_token}/cancel", follow_redirects=True)
    assert fresh(results[which].registration.id).status == S.CANCELLED
    expected = "Your registration is cancelled." if which == 0 else "You have left the waiting list."
    assert expected in done.get_data(as_text=True)


def test_withdrawing_interest_is_worded_as_such(app):
    org = f.organisation()
    ev = f.event(status=EventStatus.GAUGING, kind=EventKind.LECTURE, interest_threshold=5)
    result = f.sign_up(ev.id, org.id, 1)
    client = app.test_client()
    client.get("/lang/en")
    page = client.get(f"/r/{result.manage_token}/cancel").get_data(as_text=True)
    assert "Withdraw your interest?" in page and "Yes, withdraw my interest" in page


# --- finding events ---------------------------------------------------------------------


def listed_titles(response) -> list[str]:
    return re.findall(r'<h2><a href="/events/\d+"[^>]*>([^<]+)</a></h2>', response.get_data(as_text=True))


def test_search_and_filters_work_without_javascript_and_live_in_the_url(app):
    alingsas, lerum = f.organisation("Alingsås kommun"), f.organisation("Lerums kommun")
    f.event(title="Föräldraskap i förskolan", organising_organisation_id=alingsas.id, days_ahead=5)
    f.event(title="Tonåren – en kvällsföreläsning", kind=EventKind.LECTURE, organising_organisation_id=lerum.id, days_ahead=20)
    f.event(title="Nätverksträff elevhälsa", kind=EventKind.MEETING, days_ahead=40)
    client = app.test_client()
    assert len(listed_titles(client.get("/events"))) == 3
    assert listed_titles(client.get("/events?q=FÖRSKOLAN")) == ["Föräldraskap i förskolan"]
    assert listed_titles(client.get(f"/events?organisation={lerum.id}")) == ["Tonåren – en kvällsföreläsning"]
    assert listed_titles(client.get("/events?kind=meeting")) == ["Nätverksträff elevhälsa"]
    day = (clock.now() + timedelta(days=20)).date().isoformat()
    assert listed_titles(client.get(f"/events?date_from={day}&date_to={day}")) == ["Tonåren – en kvällsföreläsning"]
    page = client.get("/events?q=förskolan").get_data(as_text=True)
    assert 'value="förskolan"' in page  # the filters stay in the form, and in the URL
    bad = client.get("/events?date_from=2030-01-02&date_to=2030-01-01&lang=en")
    assert bad.status_code == 400 and "The end date is before the start date." in bad.get_data(as_text=True)


def test_the_archive_lists_past_events_and_the_listing_paginates(app):
    f.event(title="Förra årets kurs", days_ahead=-30)
    for n in range(23):
        f.event(title=f"Kurs {n:02d}", days_ahead=n + 1)
    client = app.test_client()
    first = client.get("/events")
    assert len(listed_titles(first)) == 20 and "Förra årets kurs" not in listed_titles(first)
    second = client.get("/events?page=2")
    assert len(listed_titles(second)) == 3
    assert client.get("/events?page=3").status_code == 404
    assert listed_titles(client.get("/events/past")) == ["Förra årets kurs"]


# --- the event page says who and where -------------------------------------------------------


def test_the_event_page_names_organiser_contact_address_audience_and_cost(app):
    org = f.organisation("Alingsås kommun")
    organiser = make_user(Role.ORGANISER)
    ev = f.event(
        organising_organisation_id=org.id, audience="Personal i förskola och skola", fee_sek=None,
        organiser_id=organiser.id,
    )

    def address():
        db.session.get(Event, ev.id).sessions[0].address = "Stora torget 1, Alingsås"

    write_transaction(address)
    client = app.test_client()
    client.get("/lang/en")
    page = client.get(f"/events/{ev.id}").get_data(as_text=True)
    for words in ("Alingsås kommun", organiser.name, "organiser@kommun.test", "Personal i förskola och skola",
                  "Free of charge", "Stora torget 1, Alingsås", "openstreetmap.org/search?query=Stora%20torget",
                  f"/events/{ev.id}/calendar.ics"):
        assert words in page, words
    assert 'lang="sv"' in page  # the Swedish title and texts are marked in the English page


def test_a_cancelled_event_says_so_with_the_organisers_words_and_shows_no_seats(app):
    org = f.organisation()
    ev = f.event(capacity=15)
    f.sign_up(ev.id, org.id, 1)
    seats.cancel_event(ev.id, make_user(Role.ORGANISER).id, "Föreläsaren är sjuk.")
    client = app.test_client()
    page = client.get(f"/events/{ev.id}", headers={"Accept-Language": "sv"}).get_data(as_text=True)
    assert "Inställt" in page and "Föreläsaren är sjuk." in page
    assert "Avbokad" not in page and "platser kvar" not in page


def test_a_closed_event_shows_no_seats_left(app):
    ev = f.event(capacity=15, status=EventStatus.CLOSED)
    page = app.test_client().get(f"/events/{ev.id}", headers={"Accept-Language": "sv"}).get_data(as_text=True)
    assert "platser kvar" not in page and "Anmälan stängd" in page


def test_interest_past_the_threshold_is_not_three_of_two(app):
    org = f.organisation()
    ev = f.event(status=EventStatus.GAUGING, kind=EventKind.LECTURE, interest_threshold=2)
    for n in range(3):
        f.sign_up(ev.id, org.id, n)
    page = app.test_client().get(f"/events/{ev.id}?lang=en").get_data(as_text=True)
    assert "3 of 2" not in page and "3 interested: enough for the lecture to take place" in page


def test_the_confirmation_repeats_the_needs_and_names_the_organiser(app, smtp_sink):
    org = f.organisation("Lerums kommun")
    organiser = make_user(Role.ORGANISER)
    ev = f.event(organising_organisation_id=org.id, organiser_id=organiser.id)
    f.sign_up(ev.id, org.id, 1, needs="Rullstolsplats")
    delivery.send_due()
    [mail] = smtp_sink.to("person1@example.org")
    for part in ("plain", "html"):
        body = mail.get_body((part,)).get_content()
        assert "Rullstolsplats" in body and "Lerums kommun" in body and organiser.name in body


def test_a_failed_sign_up_has_an_error_summary_and_an_error_title(app):
    ev = f.event()
    response = app.test_client().post(f"/events/{ev.id}/register?lang=en", data={"name": "", "email": "x"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r"<title>Error: ", page)
    summary = re.search(r'<div class="error-summary"[^>]*autofocus[^>]*>(.*?)</div>', page, re.S).group(1)
    assert 'href="#name"' in summary and 'href="#email"' in summary and 'href="#organisation"' in summary
