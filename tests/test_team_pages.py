"""Work teams through the pages (issue #12): the sign-up form with colleague rows and
without JavaScript, every bad input next to its row with nothing written, the team link
and the personal page's team sentence. (The browser test is test_browser_teams.py.)"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.core.extensions import db
from app.models import OutboxMessage, Registration, Team
from tests import factories as f
from tests.rules import assert_rules


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def team_form(org_id, colleagues, keep=False, **overrides) -> dict:
    data = {
        "name": "Anna Andersson",
        "email": "anna@example.org",
        "organisation": str(org_id),
        "work_team": "Familjeteamet",
        "lang": "en",
    }
    for i, (name, email) in enumerate(colleagues):
        data[f"colleagues-{i}-name"] = name
        data[f"colleagues-{i}-email"] = email
        data[f"colleagues-{i}-organisation"] = ""
        data[f"colleagues-{i}-work_team"] = ""
    if keep:
        data["keep_together"] = "y"
    data.update(overrides)
    return data


@pytest.fixture
def org(app):
    return f.organisation("Alingsås kommun")


def post(client, event_id, data):
    return client.post(f"/events/{event_id}/register?lang=en", data=data)


def test_the_sign_up_form_offers_colleague_rows_and_keep_together(client, org):
    ev = f.event(capacity=10, max_team_size=4)
    page = client.get(f"/events/{ev.id}?lang=en").get_data(as_text=True)
    assert 'name="keep_together"' in page
    assert 'value="add-colleague"' in page
    assert "up to 4 people in all" in page
    assert "<template data-colleague-template" in page and "colleagues-__index__-name" in page


def test_without_javascript_add_and_remove_rows_write_nothing(client, org):
    ev = f.event(capacity=10)
    data = team_form(org.id, [("Bo", "bo@example.org")], action="add-colleague")
    page = post(client, ev.id, data).get_data(as_text=True)
    assert 'name="colleagues-1-name"' in page and 'value="bo@example.org"' in page
    assert "There is a problem" not in page
    removed = post(client, ev.id, team_form(org.id, [("Bo", "bo@example.org"), ("Cy", "cy@example.org")], action="remove-colleague-0")).get_data(as_text=True)
    assert "bo@example.org" not in removed and 'value="cy@example.org"' in removed
    assert count(Registration) == 0 and count(OutboxMessage) == 0


def test_a_team_of_three_signs_up_and_lands_on_the_team_page(client, org):
    ev = f.event(capacity=2)
    response = post(client, ev.id, team_form(org.id, [("Bo", "bo@example.org"), ("Cy", "cy@example.org")]))
    assert response.status_code == 303
    team = db.session.scalar(sa.select(Team))
    assert response.headers["Location"].endswith(f"/t/{team.manage_token}")
    page = client.get(response.headers["Location"] + "?lang=en").get_data(as_text=True)
    assert "Your team is signed up: 2 with a seat, 1 on the waiting list." in page
    for email in ("anna@example.org", "bo@example.org", "cy@example.org"):
        assert email in page
    # Shared organisation and work team unless given per row.
    rows = db.session.scalars(sa.select(Registration).order_by(Registration.id)).all()
    assert {r.organisation_id for r in rows} == {org.id} and {r.work_team for r in rows} == {"Familjeteamet"}
    assert_rules(ev.id)


def test_bad_rows_are_explained_next_to_the_row_and_nothing_is_written(client, org):
    ev = f.event(capacity=10, max_team_size=3)
    cases = {
        "duplicate": (team_form(org.id, [("Bo", "anna@example.org")]), "colleagues-0-email-error", "already in the team"),
        "empty row": (team_form(org.id, [("", "")]), "colleagues-0-name-error", "This row is empty"),
        "no email": (team_form(org.id, [("Bo", "")]), "colleagues-0-email-error", "Enter the colleague"),
        "bad email": (team_form(org.id, [("Bo", "nope")]), "colleagues-0-email-error", "valid email"),
        "too many": (team_form(org.id, [("Bo", "bo@x.org"), ("Cy", "cy@x.org"), ("Di", "di@x.org")]), None, "at most 3 people"),
    }
    for name, (data, error_id, text) in cases.items():
        response = post(client, ev.id, data)
        page = response.get_data(as_text=True)
        assert response.status_code == 400, name
        assert text in page, name
        if error_id:
            assert f'id="{error_id}"' in page, name
            assert f'href="#{error_id.removesuffix("-error")}"' in page, name  # the summary links the row
    assert count(Registration) == 0 and count(Team) == 0 and count(OutboxMessage) == 0


def test_an_already_registered_colleague_refuses_a_kept_team_at_its_row(client, org):
    ev = f.event(capacity=10)
    f.sign_up(ev.id, org.id, email="bo@example.org")
    before = count(OutboxMessage)
    response = post(client, ev.id, team_form(org.id, [("Bo", "bo@example.org"), ("Cy", "cy@example.org")], keep=True))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="colleagues-0-email-error"' in page and "Already registered for this event" in page
    assert count(Registration) == 1 and count(Team) == 0 and count(OutboxMessage) == before


def test_an_already_registered_colleague_is_named_when_the_team_is_not_kept(client, org):
    ev = f.event(capacity=10)
    f.sign_up(ev.id, org.id, email="bo@example.org")
    response = post(client, ev.id, team_form(org.id, [("Bo", "bo@example.org"), ("Cy", "cy@example.org")]))
    assert response.status_code == 303
    page = client.get(response.headers["Location"] + "?lang=en").get_data(as_text=True)
    assert "Bo (bo@example.org) was not signed up: Already registered for this event" in page
    assert count(Registration) == 3


def test_the_team_page_cancels_adds_and_splits(client, org):
    ev = f.event(capacity=4)
    f.sign_up(ev.id, org.id, email="first@example.org")
    second = f.sign_up(ev.id, org.id, email="second@example.org").registration
    location = post(client, ev.id, team_form(org.id, [("Bo", "bo@example.org"), ("Cy", "cy@example.org")], keep=True)).headers["Location"]
    token = location.rsplit("/", 1)[1]
    page = client.get(f"/t/{token}?lang=en").get_data(as_text=True)
    assert "Your team of 3 is kept together and waits as number 1" in page
    # Cancelling Cy shrinks the team to two, which fits in the two free seats.
    cy = db.session.scalar(sa.select(Registration).where(Registration.email == "cy@example.org"))
    assert client.post(f"/t/{token}/members/{cy.id}/cancel").status_code == 303
    page = client.get(f"/t/{token}?lang=en").get_data(as_text=True)
    assert "Your team of 2 is kept together and has seats" in page
    # A seat frees: it takes one more member.
    client.post(f"/r/{second.manage_token}/cancel")
    response = client.post(f"/t/{token}/members?lang=en", data={"name": "Di", "email": "di@example.org", "organisation": str(org.id)})
    assert response.status_code == 303
    full = client.post(f"/t/{token}/members?lang=en", data={"name": "Ed", "email": "ed@example.org", "organisation": str(org.id)})
    assert full.status_code == 400 and "No seat is free" in full.get_data(as_text=True)
    # Splitting and cancelling everyone.
    assert client.post(f"/t/{token}/keep", data={"keep": "0"}).status_code == 303
    assert db.session.scalar(sa.select(Team.keep_together)) is False
    assert "Cancel the whole team?" in client.get(f"/t/{token}/cancel?lang=en").get_data(as_text=True)
    assert client.post(f"/t/{token}/cancel").status_code == 303
    statuses = {r.email: r.status.value for r in db.session.scalars(sa.select(Registration))}
    assert statuses == {
        "first@example.org": "confirmed", "second@example.org": "cancelled", "anna@example.org": "cancelled", "bo@example.org": "cancelled",
        "cy@example.org": "cancelled", "di@example.org": "cancelled",
    }
    assert_rules(ev.id)


def test_the_personal_page_says_team_size_and_place(client, org):
    ev = f.event(capacity=4)
    f.sign_up(ev.id, org.id, email="first@example.org")
    post(client, ev.id, team_form(org.id, [("Bo", "bo@example.org"), ("Cy", "cy@example.org"), ("Di", "di@example.org")], keep=True))
    for email, manages in (("anna@example.org", True), ("bo@example.org", False)):
        registration = db.session.scalar(sa.select(Registration).where(Registration.email == email))
        page = client.get(f"/r/{registration.manage_token}?lang=en").get_data(as_text=True)
        assert "Your team of 4 is kept together and waits as number 1" in page
        assert ("Manage the team" in page) is manages
    mail = db.session.scalar(
        sa.select(OutboxMessage).where(OutboxMessage.recipient == "bo@example.org", OutboxMessage.kind == "waitlisted")
    )
    assert "Your team of 4 is kept together and waits as number 1" in mail.body_text


def test_a_wrong_team_link_is_404_and_another_teams_member_cannot_be_cancelled(client, org):
    ev = f.event(capacity=10)
    one = f.team(ev.id, org.id, ["a1", "a2"])
    other = f.team(ev.id, org.id, ["b1", "b2"])
    assert client.get("/t/not-a-token").status_code == 404
    victim = other.placed[1][1]
    assert client.post(f"/t/{one.manage_token}/members/{victim.id}/cancel").status_code == 404
    assert db.session.get(Registration, victim.id).status.value == "confirmed"
    assert re.search(r"/t/[\w-]{20,}", db.session.scalar(
        sa.select(OutboxMessage.body_text).where(OutboxMessage.kind == "team_created")
    ))


def test_staff_lists_exports_and_dashboard_show_teams(app, org):
    from app.models import Role
    from app.reporting import figures
    from tests.staff_clients import logged_in
    from tests.staff_helpers import make_user

    other = f.organisation("Lerums kommun")
    ev = f.event(capacity=10, title="Kurs med lag")
    f.sign_up(ev.id, org.id, "solo")
    f.team(ev.id, org.id, ["lead", "b"], keep=True)
    f.sign_up(ev.id, org.id, "late")
    f.team(ev.id, other.id, ["x", "y", "z"])
    # The organiser's list: teams as groups, labelled and numbered.
    staff = logged_in(app, make_user(Role.ORGANISER))
    page = staff.get(f"/staff/events/{ev.id}/registrations?lang=en").get_data(as_text=True)
    assert "Team 1 (Person lead, 2, kept together)" in page and "Team 2 (Person x, 3)" in page
    assert page.count('class="in-team team-first"') == 2
    csv = staff.get(f"/staff/events/{ev.id}/registrations.csv?lang=en").get_data(as_text=True)
    header, *rows = [line.split(";") for line in csv.lstrip("\ufeff").splitlines()]
    team_column = header.index("Team")
    assert [r[team_column] for r in rows] == [
        "", "Team 1 (Person lead, 2, kept together)", "Team 1 (Person lead, 2, kept together)", "",
        "Team 2 (Person x, 3)", "Team 2 (Person x, 3)", "Team 2 (Person x, 3)",
    ]
    # A coordinator sees only their own organisation's names, and no other contact's name.
    coordinator = logged_in(app, make_user(Role.COORDINATOR, organisation=other))
    page = coordinator.get(f"/staff/dashboard/events/{ev.id}?lang=en").get_data(as_text=True)
    assert "Team 2 (3)" in page and "Person x" in page and "Person lead" not in page
    report = {r.id: r for r in figures.dashboard()}[ev.id]
    assert (report.teams, report.people_in_teams) == (2, 5)
