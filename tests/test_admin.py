"""Admin pages: organisations and staff users, audited, admins only, CSRF-protected."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.core.extensions import db
from app.models import AuditEntry, Organisation, OutboxMessage, Role, User
from tests import factories as f
from tests.staff_clients import client_for, logged_in
from tests.staff_helpers import PASSWORD, form_inputs, login, make_user


def org_named(name: str) -> Organisation | None:
    db.session.rollback()
    return db.session.scalar(sa.select(Organisation).where(Organisation.name == name))


def user_by_email(email: str) -> User | None:
    db.session.rollback()
    return db.session.scalar(sa.select(User).where(User.email == email))


def actions() -> list[tuple[str, str, int | None]]:
    rows = db.session.execute(
        sa.select(AuditEntry.action, AuditEntry.object_type, AuditEntry.user_id).order_by(AuditEntry.id)
    )
    return [tuple(row) for row in rows]


@pytest.fixture
def admin_user():
    return make_user(Role.ADMIN)


@pytest.fixture
def admin(app, admin_user):
    client = logged_in(app, admin_user)
    client.get("/lang/en")
    return client


def test_create_rename_deactivate_organisation(admin, admin_user):
    response = admin.post("/staff/admin/organisations", data={"name": "  Härryda   kommun ", "sort_order": "3"})
    assert response.status_code == 303
    org = org_named("Härryda kommun")
    assert (org.sort_order, org.active) == (3, True)
    assert "Härryda kommun was added." in admin.get("/staff/admin/organisations").get_data(as_text=True)

    response = admin.post(f"/staff/admin/organisations/{org.id}", data={"name": "Härryda", "sort_order": "3"})
    assert response.status_code == 303
    assert org_named("Härryda").id == org.id

    assert admin.post(f"/staff/admin/organisations/{org.id}/deactivate").status_code == 303
    assert org_named("Härryda").active is False
    assert admin.post(f"/staff/admin/organisations/{org.id}/activate").status_code == 303
    assert org_named("Härryda").active is True
    assert actions() == [
        ("organisation.create", "organisation", admin_user.id),
        ("organisation.update", "organisation", admin_user.id),
        ("organisation.deactivate", "organisation", admin_user.id),
        ("organisation.activate", "organisation", admin_user.id),
    ]


def test_deactivated_organisation_leaves_the_signup_form(app, admin):
    f.organisation("Kvar kommun")
    gone = f.organisation("Borta kommun")
    event = f.event()
    admin.post(f"/staff/admin/organisations/{gone.id}/deactivate")
    page = client_for(app).get(f"/events/{event.id}").get_data(as_text=True)
    assert "Kvar kommun" in page and "Borta kommun" not in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "Lerums KOMMUN", "sort_order": "0"}, "There is already an organisation with that name."),
        ({"name": "   ", "sort_order": "0"}, "Enter a name."),
        ({"name": "x" * 121, "sort_order": "0"}, "Use at most 120 characters."),
        ({"name": "Ny kommun", "sort_order": "tre"}, "Enter a whole number."),
    ],
)
def test_bad_organisation_input_is_refused_politely(admin, data, message):
    f.organisation("Lerums kommun")
    before = actions()
    response = admin.post("/staff/admin/organisations", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == 1
    assert actions() == before


def test_rename_to_an_existing_name_is_refused(admin):
    f.organisation("Alingsås kommun")
    lerum = f.organisation("Lerums kommun")
    response = admin.post(f"/staff/admin/organisations/{lerum.id}", data={"name": "alingsås kommun", "sort_order": "0"})
    assert response.status_code == 400
    assert "There is already an organisation with that name." in response.get_data(as_text=True)
    assert org_named("Lerums kommun") is not None


def test_create_coordinator_and_organiser(admin, admin_user):
    """An admin invites; the new account has no password until its owner chooses one."""
    org = f.organisation("Lerums kommun")
    data = {
        "name": "Sara Samordnare",
        "email": "Sara@Lerum.example",
        "role": "coordinator",
        "organisation": str(org.id),
    }
    response = admin.post("/staff/admin/users/new", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)
    user = user_by_email("sara@lerum.example")
    assert (user.role, user.organisation_id, user.name) == (Role.COORDINATOR, org.id, "Sara Samordnare")
    assert user.invited and not user.check_password("")
    [invitation] = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.kind == "staff_invitation")
    )
    assert invitation.recipient == "sara@lerum.example" and "/password/invite/" in invitation.body_text
    response = admin.post(
        "/staff/admin/users/new",
        data={**data, "email": "olle@org.example", "role": "organiser", "organisation": ""},
    )
    assert response.status_code == 303
    assert user_by_email("olle@org.example").organisation_id is None
    assert [a for a in actions() if a[0] == "user.create"] == [
        ("user.create", "user", admin_user.id),
        ("user.create", "user", admin_user.id),
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"organisation": ""}, "Choose the coordinator's organisation."),
        ({"role": "organiser"}, "Only coordinators belong to an organisation."),
        ({"role": "superuser"}, "Choose a role."),
        ({"organisation": "99999"}, "Choose an organisation from the list."),
        ({"email": "inte-en-adress"}, "Enter a valid email address."),
        ({"email": "taken@org.example"}, "There is already a user with that email address."),
    ],
)
def test_bad_user_input_is_refused_politely(admin, change, message):
    org = f.organisation("Lerums kommun")
    make_user(Role.ORGANISER, email="taken@org.example")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    data = {
        "name": "Ny Person",
        "email": "ny@org.example",
        "role": "coordinator",
        "organisation": str(org.id),
        **change,
    }
    response = admin.post("/staff/admin/users/new", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == before


def test_deactivate_logs_out_and_blocks_login(app, admin, admin_user):
    victim = make_user(Role.ORGANISER)
    their_session = logged_in(app, victim)
    assert their_session.get("/staff/events").status_code == 200

    assert admin.post(f"/staff/admin/users/{victim.id}/deactivate").status_code == 303
    assert user_by_email(victim.email).active is False
    assert their_session.get("/staff/events").status_code == 302  # back to the log-in page
    assert login(client_for(app), victim.email).status_code == 401

    assert admin.post(f"/staff/admin/users/{victim.id}/activate").status_code == 303
    assert login(client_for(app), victim.email).status_code == 302
    assert [a[0] for a in actions()] == ["user.deactivate", "user.activate"]


def test_admin_cannot_deactivate_themselves(admin, admin_user):
    response = admin.post(f"/staff/admin/users/{admin_user.id}/deactivate", follow_redirects=True)
    assert "You cannot deactivate your own account." in response.get_data(as_text=True)
    assert user_by_email(admin_user.email).active is True
    assert actions() == []


def test_admins_send_a_reset_link_instead_of_choosing_a_password(app, admin, admin_user):
    victim = make_user(Role.COORDINATOR, organisation="Lerums kommun")
    assert admin.get(f"/staff/admin/users/{victim.id}/password").status_code == 404  # gone
    response = admin.post(f"/staff/admin/users/{victim.id}/reset-link")
    assert response.status_code == 303
    [mail] = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "password_reset"))
    assert mail.recipient == victim.email and "/password/reset/" in mail.body_text
    assert login(client_for(app), victim.email, PASSWORD).status_code == 302  # unchanged until used
    [entry] = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "user.reset_link"))
    assert entry.user_id == admin_user.id and entry.object_id == victim.id
    assert admin.post("/staff/admin/users/99999/reset-link").status_code == 404


def test_changing_a_role_ends_the_sessions_of_that_user(app, admin, admin_user):
    org = f.organisation("Lerums kommun")
    victim = make_user(Role.ORGANISER)
    their_session = logged_in(app, victim)
    assert their_session.get("/staff/events").status_code == 200
    response = admin.post(
        f"/staff/admin/users/{victim.id}/role", data={"role": "coordinator", "organisation": str(org.id)}
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    changed = user_by_email(victim.email)
    assert (changed.role, changed.organisation_id) == (Role.COORDINATOR, org.id)
    assert their_session.get("/staff/dashboard").status_code == 302  # logged out
    assert login(client_for(app), victim.email).status_code == 302
    [entry] = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "user.role"))
    assert (entry.details["from"], entry.details["to"]) == ("organiser", "coordinator")
    refused = admin.post(f"/staff/admin/users/{admin_user.id}/role", data={"role": "organiser"})
    assert refused.status_code == 400 and "You cannot change your own role." in refused.get_data(as_text=True)


def test_lists_show_organisations_and_users(admin):
    f.organisation("Alingsås kommun")
    make_user(Role.COORDINATOR, email="c@alingsas.example", organisation="Alingsås kommun")
    assert "Alingsås kommun" in admin.get("/staff/admin/organisations").get_data(as_text=True)
    users = admin.get("/staff/admin/users").get_data(as_text=True)
    assert "c@alingsas.example" in users and "Coordinator" in users


def test_organisers_and_coordinators_get_403(app):
    org = f.organisation("Lerums kommun")
    for role in (Role.ORGANISER, Role.COORDINATOR):
        client = logged_in(app, make_user(role, organisation=org if role == Role.COORDINATOR else None))
        assert client.get("/staff/admin/users").status_code == 403
        assert client.post("/staff/admin/organisations", data={"name": "X", "sort_order": "0"}).status_code == 403
        assert client.post(f"/staff/admin/organisations/{org.id}/deactivate").status_code == 403
    assert org_named("Lerums kommun").active is True
    assert actions() == []


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_every_admin_form_needs_the_csrf_token(app, app_config):
    org = f.organisation("Lerums kommun")
    admin_user = make_user(Role.ADMIN)
    victim = make_user(Role.ORGANISER)
    client = client_for(app)
    page = client.get("/login").get_data(as_text=True)
    token = form_inputs(page, "/login")["csrf_token"]
    assert client.post("/login", data={"email": admin_user.email, "password": PASSWORD, "csrf_token": token}).status_code == 302

    forged = [
        ("/staff/admin/organisations", {"name": "Falsk", "sort_order": "0"}),
        (f"/staff/admin/organisations/{org.id}", {"name": "Falsk", "sort_order": "0"}),
        (f"/staff/admin/organisations/{org.id}/deactivate", {}),
        (f"/staff/admin/users/{victim.id}/deactivate", {}),
        (f"/staff/admin/users/{victim.id}/reset-link", {}),
        (f"/staff/admin/users/{victim.id}/role", {"role": "admin"}),
        ("/staff/admin/users/new", {"name": "F", "email": "f@f.example", "role": "admin"}),
    ]
    for url, data in forged:
        assert client.post(url, data=data).status_code == 400, url
    assert actions() == []
    assert org_named("Lerums kommun").active is True

    # With the token from the page, the same form works.
    page = client.get("/staff/admin/organisations").get_data(as_text=True)
    fields = form_inputs(page, f"/staff/admin/organisations/{org.id}/deactivate")
    assert client.post(f"/staff/admin/organisations/{org.id}/deactivate", data=fields).status_code == 303
    assert org_named("Lerums kommun").active is False
