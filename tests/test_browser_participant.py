"""The participant's pages in a real Chromium: errors a person notices on a phone, editing
a registration without losing the place, the email-change link, search and filters with
and without JavaScript, and the language of parts.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.core.extensions import db
from app.mail import delivery
from app.models import EventKind, Registration, RegistrationStatus
from app.registrations import reads
from tests import factories as f
from tests.browser import browser_page
from tests.staff_helpers import live_server

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def app_config(smtp_sink):
    return smtp_sink.config()


def test_a_failed_sign_up_on_a_phone_moves_the_focus_to_an_error_summary(app):
    f.organisation("Alingsås kommun")
    event = f.event(title="Samtal i förskolan", description="Lång text.\n" * 40)
    for javascript in (True, False):
        with live_server(app) as base, browser_page("sv-SE", java_script_enabled=javascript, **PHONE) as page:
            page.goto(f"{base}/events/{event.id}")
            page.fill("#email", "inte-en-adress")
            page.click("form.signup > button[type=submit]")
            assert page.title().startswith("Fel:"), page.title()
            summary = page.locator(".error-summary")
            assert summary.is_visible()
            focused = page.evaluate("document.activeElement.className")
            assert "error-summary" in focused, (javascript, focused)
            box = summary.bounding_box()
            assert 0 <= box["y"] < PHONE["height"], box  # in view, not at 1,023 px
            links = summary.locator("a")
            assert links.count() == 3  # name, email, organisation
            if javascript:
                links.nth(1).click()
                assert page.evaluate("document.activeElement.id") == "email"


def test_editing_a_registration_keeps_the_place_and_the_email_change_needs_the_link(app, smtp_sink):
    org = f.organisation("Alingsås kommun")
    f.organisation("Lerums kommun")
    event = f.event(capacity=1, title="Familjestöd")
    f.sign_up(event.id, org.id, 0)
    mine = f.sign_up(event.id, org.id, 1)
    with live_server(app) as base, browser_page("sv-SE") as page:
        page.goto(f"{base}/r/{mine.manage_token}")
        page.locator("details.change summary").click()
        page.fill("#name", "Person Ett Rättad")
        page.select_option("#organisation", label="Lerums kommun")
        page.fill("#needs", "Hörslinga")
        page.locator("details.change form").first.locator("button[type=submit]").click()
        assert page.locator(".flash-success").is_visible()
        assert "Person Ett Rättad" in page.locator("dl.facts").inner_text()
        assert "nummer 1" in page.locator("dd.status").inner_text()  # still first in the queue
        registration = db.session.get(Registration, mine.registration.id, populate_existing=True)
        assert registration.status == RegistrationStatus.WAITLISTED
        assert reads.waitlist_position(registration) == 1

        page.locator("details.change summary").click()
        page.fill("#email", "ny@lerum.example")
        page.locator("details.change form").nth(1).locator("button[type=submit]").click()
        assert "ny@lerum.example" in page.locator(".flash-success").inner_text()
        assert "person1@example.org" in page.locator("dl.facts").inner_text()  # not yet
        delivery.send_due()
        body = smtp_sink.to("ny@lerum.example")[0].get_body(("plain",)).get_content()
        link = re.search(r"http://kvarn\.test(/r/email/\S+)", body).group(1)
        page.goto(f"{base}{link}")
        assert "ny@lerum.example" in page.locator("dl.facts").inner_text()
    emails = db.session.scalars(sa.select(Registration.email).order_by(Registration.id)).all()
    assert emails == ["person0@example.org", "ny@lerum.example"]


def test_search_and_filters_with_and_without_javascript(app):
    lerum = f.organisation("Lerums kommun")
    f.event(title="Föräldraskap i förskolan", days_ahead=5)
    f.event(title="Tonåren", kind=EventKind.LECTURE, organising_organisation_id=lerum.id, days_ahead=15)
    for javascript in (True, False):
        with live_server(app) as base, browser_page("sv-SE", java_script_enabled=javascript) as page:
            page.goto(f"{base}/events")
            assert page.locator(".event-card").count() == 2
            page.select_option("#kind", "lecture")  # choosing does not reload the page
            assert page.url.endswith("/events")
            page.click("form.listing-filter button[type=submit]")
            assert "kind=lecture" in page.url
            assert [t.strip() for t in page.locator(".event-card h2").all_inner_texts()] == ["Tonåren"]
            page.fill("#q", "FÖRSKOLAN")
            page.select_option("#kind", "")
            page.click("form.listing-filter button[type=submit]")
            assert [t.strip() for t in page.locator(".event-card h2").all_inner_texts()] == [
                "Föräldraskap i förskolan"
            ]
            shared = page.url
            page.goto(shared)  # the search is in the URL: a link shares it
            assert page.locator("#q").input_value() == "FÖRSKOLAN"


def test_swedish_titles_are_marked_in_the_english_pages(app):
    org = f.organisation()
    event = f.event(title="Samtal i förskolan", description="Om samtal.", language="sv")
    mine = f.sign_up(event.id, org.id, 1)
    with live_server(app) as base, browser_page("en-GB") as page:
        page.goto(f"{base}/lang/en")
        for path in ("/events", f"/events/{event.id}", f"/r/{mine.manage_token}"):
            page.goto(f"{base}{path}")
            assert page.locator("html").get_attribute("lang") == "en"
            marked = page.locator('[lang="sv"]', has_text="Samtal i förskolan")
            assert marked.count() >= 1, path
