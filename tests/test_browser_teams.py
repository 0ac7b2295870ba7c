"""A work team of three signs up in a real Chromium, without JavaScript (the form's own
"Add a colleague" button sends the form back with a new row) and with it (the script adds
the row at once); Enter in a field signs up, it does not add a row."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.core.extensions import db
from app.models import Registration, Team
from tests import factories as f
from tests.browser import browser_page
from tests.rules import assert_rules
from tests.staff_helpers import live_server

pytestmark = pytest.mark.browser


def _fill_row(page, number: int, name: str, email: str) -> None:
    page.get_by_label(f"Name of colleague {number}", exact=True).fill(name)
    page.get_by_label(f"Email of colleague {number}", exact=True).fill(email)


@pytest.mark.parametrize("javascript", [False, True], ids=["no-javascript", "javascript"])
def test_a_team_of_three_signs_up_and_is_kept_together(app, javascript):
    org = f.organisation("Alingsås kommun")
    event = f.event(capacity=5, title="Föräldrastöd i arbetslaget")
    prefix = "js" if javascript else "plain"
    with live_server(app) as base, browser_page("en-GB", java_script_enabled=javascript) as page:
        page.goto(f"{base}/events/{event.id}?lang=en")
        page.fill("#name", "Anna Andersson")
        page.fill("#email", f"{prefix}.anna@example.org")
        page.select_option("#organisation", str(org.id))
        page.fill("#work_team", "Familjeteamet")
        for number, person in ((1, "bo"), (2, "cy")):
            page.click("[data-add-colleague]")
            if not javascript:
                page.wait_for_load_state()
                assert page.locator(".error-summary").count() == 0  # adding a row checks nothing
            _fill_row(page, number, person.title(), f"{prefix}.{person}@example.org")
        assert page.locator("[data-colleague-row]").count() == 2
        page.check("#keep_together")
        page.click("form.signup > button[type=submit]")
        page.wait_for_url("**/t/**")
        assert "Your team is signed up: 3 with a seat, 0 on the waiting list." in page.content()
        assert page.locator(".team-members tbody tr").count() == 3
    db.session.rollback()  # read what the server committed
    team = db.session.scalar(sa.select(Team).where(Team.contact_email == f"{prefix}.anna@example.org"))
    members = db.session.scalars(sa.select(Registration).where(Registration.team_id == team.id)).all()
    assert team.keep_together and {m.status.value for m in members} == {"confirmed"}
    assert {m.work_team for m in members} == {"Familjeteamet"}
    assert_rules(event.id)


def test_enter_in_a_field_signs_up_and_a_bad_row_is_shown_at_the_row(app):
    org = f.organisation("Alingsås kommun")
    event = f.event(capacity=5)
    with live_server(app) as base, browser_page("en-GB") as page:
        page.goto(f"{base}/events/{event.id}?lang=en")
        page.fill("#name", "Anna Andersson")
        page.fill("#email", "anna@example.org")
        page.select_option("#organisation", str(org.id))
        page.click("[data-add-colleague]")
        _fill_row(page, 1, "Bo", "anna@example.org")  # the same address twice
        page.get_by_label("Email of colleague 1", exact=True).press("Enter")
        page.wait_for_load_state()
        summary = page.locator(".error-summary")
        assert summary.is_visible()
        assert "This email address is already in the team." in summary.inner_text()
        assert page.locator("#colleagues-0-email-error").is_visible()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 0
