"""The defects a hostile client and a real deployment found, each proven fixed.

One test (or a few) per defect, on every database where it applies: a reused form key,
control characters in exports, exact comparison of emails and tokens (MariaDB), input
that used to reach a 500, error pages during a database outage, caching of personal
pages, the dev mailbox and ``flask demo``.
"""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
import sqlalchemy as sa

from app import create_app
from app.core.database import write_transaction
from app.core.extensions import db
from app.models import AuditEntry, Event, OutboxMessage, Registration, Role
from tests import factories as f
from tests.plugins.databases import base_config
from tests.staff_clients import logged_in
from tests.staff_helpers import make_user


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def signup_form(org_id: int, **fields) -> dict[str, str]:
    return {
        "name": "Åsa Öberg",
        "email": "asa@example.org",
        "organisation": str(org_id),
        "work_team": "",
        "needs": "",
        **fields,
    }


# --- 1. a reused form key ---------------------------------------------------------------


def test_a_reused_form_key_with_another_email_is_a_new_sign_up_not_someone_elses_page(db_app):
    client = db_app.test_client()
    org = f.organisation()
    ev = f.event(capacity=5)
    first = client.post(
        f"/events/{ev.id}/register", data=signup_form(org.id, submission_key="k" * 32)
    )
    assert first.status_code == 303
    # The Back button restores the same form on a shared computer; the next person types.
    second = client.post(
        f"/events/{ev.id}/register",
        data=signup_form(org.id, name="Bertil Berg", email="bertil@example.org", submission_key="k" * 32),
    )
    assert second.status_code == 303
    assert second.headers["Location"] != first.headers["Location"]
    page = client.get(second.headers["Location"]).get_data(as_text=True)
    assert "bertil@example.org" in page and "asa@example.org" not in page
    emails = db.session.scalars(sa.select(Registration.email).order_by(Registration.id)).all()
    assert emails == ["asa@example.org", "bertil@example.org"]
    # The same person's same form again is still recognised as a double click.
    again = client.post(f"/events/{ev.id}/register", data=signup_form(org.id, submission_key="k" * 32))
    assert again.headers["Location"] == first.headers["Location"]
    assert count(Registration) == 2


# --- 2. control characters ---------------------------------------------------------------


def test_control_characters_are_normalised_at_the_form(db_app):
    client = db_app.test_client()
    org = f.organisation()
    ev = f.event()
    response = client.post(
        f"/events/{ev.id}/register",
        data=signup_form(
            org.id, name="Åsa\x0bÖberg\x07", work_team="Team\tA\x0c", needs="Gluten\x0bLaktos\x1b"
        ),
    )
    assert response.status_code == 303
    registration = db.session.scalar(sa.select(Registration))
    assert (registration.name, registration.work_team, registration.needs) == (
        "Åsa Öberg",
        "Team A",
        "Gluten\nLaktos",
    )


def test_every_export_and_mail_survives_control_characters_already_stored(app):
    """Rows written before the fix (or by hand) still export and mail."""
    org = f.organisation()
    ev = f.event()
    result = f.sign_up(ev.id, org.id, 1)

    def spoil():
        registration = db.session.get(Registration, result.registration.id)
        registration.name = "Anna\x0bBerg\x00"
        registration.work_team = "Lag\x01"
        registration.needs = "Rad ett\x0bRad två\x1f"

    write_transaction(spoil)
    organiser = logged_in(app, make_user(Role.ORGANISER))
    xlsx = organiser.get(f"/staff/events/{ev.id}/registrations.xlsx")
    assert xlsx.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data)).active
    assert sheet["A2"].value == "Anna\nBerg" and sheet["E2"].value == "Rad ett\nRad två"
    csv = organiser.get(f"/staff/events/{ev.id}/registrations.csv")
    assert csv.status_code == 200 and "\x00" not in csv.get_data(as_text=True)
    coordinator = logged_in(app, make_user(Role.COORDINATOR, organisation=org))
    assert coordinator.get(f"/staff/events/{ev.id}/registrations.xlsx").status_code == 200
    assert organiser.get(f"/staff/events/{ev.id}/attendance").status_code == 200
    # A reminder to that person is built (the calendar file included) and queued.
    from app.registrations import reminders

    assert reminders.queue_reminders(ev.id, None, "spoiled") == 1
    message = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == "reminder"))
    assert message.wire is not None


# --- 5. exact comparison of emails and tokens ------------------------------------------


def test_emails_differing_only_in_accents_are_different_people(db_app):
    client = db_app.test_client()
    org = f.organisation()
    ev = f.event(capacity=5)
    for email in ("jorgen@example.org", "jörgen@example.org"):
        response = client.post(f"/events/{ev.id}/register", data=signup_form(org.id, email=email))
        assert response.status_code == 303, response.get_data(as_text=True)
    assert count(Registration) == 2


def test_a_manage_token_with_swapped_letter_case_opens_nothing(db_app):
    org = f.organisation()
    ev = f.event()
    token = f.sign_up(ev.id, org.id, 1).manage_token
    client = db_app.test_client()
    assert client.get(f"/r/{token}").status_code == 200
    swapped = token.swapcase()
    assert swapped != token
    assert client.get(f"/r/{swapped}").status_code == 404
    assert client.post(f"/r/{swapped}/cancel").status_code == 404


# --- 6. input that reached a 500 ----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/events/99999999999999999999",
        "/events/2147483648",
        "/staff/events/99999999999999999999/registrations",
    ],
)
def test_huge_numbers_in_urls_are_a_404(db_app, url):
    assert db_app.test_client().get(url).status_code in (404, 405)


def test_huge_numbers_in_query_strings_and_forms_are_refused(db_app):
    org = f.organisation()
    ev = f.event()
    organiser = logged_in(db_app, make_user(Role.ORGANISER))
    assert organiser.get("/staff/outbox?event_id=99999999999999999999").status_code == 404
    assert organiser.get("/staff/audit?page=99999999999999999999").status_code == 404
    assert organiser.get(f"/staff/events/{ev.id}/registrations?status=x&q=" + "9" * 200).status_code == 200
    before = count(Registration)
    response = db_app.test_client().post(
        f"/events/{ev.id}/register?lang=en", data=signup_form(org.id, organisation="9" * 30)
    )
    assert response.status_code == 400
    assert "Choose an organisation from the list." in response.get_data(as_text=True)
    assert count(Registration) == before


def test_nul_bytes_are_refused_before_anything_is_written(db_app):
    org = f.organisation()
    ev = f.event()
    client = db_app.test_client()
    response = client.post(f"/events/{ev.id}/register", data=signup_form(org.id, name="Anna\x00"))
    assert response.status_code == 400
    assert client.get("/events?kind=\x00").status_code == 400
    assert client.post("/login", data={"email": "a\x00@b.se", "password": "x"}).status_code == 400
    assert count(Registration) == 0


def test_a_file_in_a_text_field_is_refused(app):
    org = f.organisation()
    ev = f.event()
    response = app.test_client().post(
        f"/events/{ev.id}/register",
        data={**signup_form(org.id), "name": (io.BytesIO(b"not a name"), "name.txt")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert count(Registration) == 0


def test_a_host_header_with_an_over_long_label_is_a_400(app):
    response = app.test_client().get("/events", headers={"Host": "a" * 64 + ".example"})
    assert response.status_code == 400
    assert app.test_client().get("/events", headers={"Host": "kurser.example.se"}).status_code == 200


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_years_far_outside_are_refused_with_a_message(app, day):
    organiser = logged_in(app, make_user(Role.ORGANISER))
    organiser.get("/lang/en")
    audit = organiser.get(f"/staff/audit?date_from={day}")
    assert audit.status_code == 400
    assert "Enter a date between the years 2000 and 2100." in audit.get_data(as_text=True)
    form = {
        "kind": "course",
        "title": "Kurs",
        "capacity": "10",
        "language": "sv",
        "sessions-0-starts_at": f"{day}T09:00",
        "sessions-0-ends_at": f"{day}T12:00",
        "sessions-0-venue": "Sal",
    }
    response = organiser.post("/staff/events/new", data=form)
    assert response.status_code == 400
    assert "Enter a date between the years 2000 and 2100." in response.get_data(as_text=True)
    assert count(Event) == 0


# --- 7. a lost database -------------------------------------------------------------------


def test_a_lost_database_answers_503_with_the_styled_page_for_everyone(tmp_path):
    app = create_app(
        {
            **base_config("postgresql+psycopg://kvarn@127.0.0.1:9/kvarn"),  # nothing listens
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}},
        }
    )
    app.login_manager.session_protection = None  # the test client's session below is enough
    client = app.test_client()
    public = client.get("/events", headers={"Accept-Language": "sv"})
    assert public.status_code == 503
    text = public.get_data(as_text=True)
    assert "kvarn.css" in text and "databas" in text
    with client.session_transaction() as session:  # a logged-in staff member
        session["_user_id"] = "1:secret"
        session["_fresh"] = True
    staff = client.get("/staff/events")
    assert staff.status_code == 503
    assert "Internal Server Error" not in staff.get_data(as_text=True)
    assert "kvarn.css" in staff.get_data(as_text=True)


# --- 8. caching of personal pages ---------------------------------------------------------


def test_personal_pages_are_never_cached(app):
    org = f.organisation()
    ev = f.event()
    token = f.sign_up(ev.id, org.id, 1).manage_token
    client = app.test_client()
    assert client.get(f"/r/{token}").headers.get("Cache-Control") == "no-store"
    assert client.get("/login").headers.get("Cache-Control") == "no-store"
    organiser = logged_in(app, make_user(Role.ORGANISER))
    for url in ("/staff/events", f"/staff/events/{ev.id}/registrations", "/staff/audit"):
        assert organiser.get(url).headers.get("Cache-Control") == "no-store", url
    assert client.get("/events").headers.get("Cache-Control") != "no-store"  # public listing


# --- 9. the dev mailbox and the demo --------------------------------------------------------


@pytest.mark.parametrize("app_config", [{"DEV_MAILBOX": True}])
def test_the_dev_mailbox_answers_only_this_machine(app, app_config):
    client = app.test_client()
    assert client.get("/dev/mailbox", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    assert client.get("/dev/mailbox", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    assert client.get("/dev/mailbox", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 404
    assert client.get("/dev/mailbox/1", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 404


def test_flask_demo_refuses_a_database_with_other_data(app):
    f.organisation("Min egen kommun")
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code != 0
    assert "already holds data" in result.output
    assert count(Event) == 0 and count(AuditEntry) == 0


def test_flask_demo_loads_once_into_an_empty_database(app):
    runner = app.test_cli_runner()
    assert "Demo data loaded." in runner.invoke(args=["demo"]).output
    events = count(Event)
    assert "already present" in runner.invoke(args=["demo"]).output
    assert count(Event) == events > 0


def test_flask_demo_refuses_a_server_database_unless_asked(db_app):
    runner = db_app.test_cli_runner()
    if db.engine.dialect.name != "sqlite":
        refused = runner.invoke(args=["demo"])
        assert refused.exit_code != 0 and "--allow-server-database" in refused.output
        assert count(Event) == 0
        loaded = runner.invoke(args=["demo", "--allow-server-database"])
    else:  # the local file of `make run`: no flag needed
        loaded = runner.invoke(args=["demo"])
    assert "Demo data loaded." in loaded.output, loaded.output


def test_control_characters_in_a_page_are_never_echoed_raw(app):
    org = f.organisation()
    ev = f.event()
    page = app.test_client().post(
        f"/events/{ev.id}/register", data=signup_form(org.id, email="not-an-email\x0b")
    )
    assert page.status_code == 400
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", page.get_data(as_text=True))


def test_a_host_no_url_can_be_built_for_gets_the_plain_page_and_no_error_log(app, caplog, monkeypatch):
    import logging

    from app.core import errors

    # Alembic's logging set-up disables the app's existing loggers in this test process;
    # a fresh logger records what the error pages log.
    monkeypatch.setattr(errors, "log", logging.getLogger("tests.error-pages"))
    caplog.set_level("ERROR", logger="tests.error-pages")
    response = app.test_client().get("/events", headers={"Host": "a" * 64 + ".kvarn.test"})
    assert response.status_code == 400
    assert "kvarn.css" in response.get_data(as_text=True)
    assert "could not be rendered" not in caplog.text
