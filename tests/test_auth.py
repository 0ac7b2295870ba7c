"""Staff accounts and log-in: create-user (service and command), the log-in flow,
no open redirect, one message for every failure, rate limiting, cookie flags, demo logins."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts import users
from app.core.errors import Refused
from app.core.extensions import db
from app.models import AuditEntry, Role, User
from tests.staff_helpers import PASSWORD, login, make_user


def user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == email))


# --- create_user --------------------------------------------------------------


def test_create_user_hashes_with_werkzeugs_default_and_audits(app):
    from tests import factories as f

    f.organisation("Alingsås kommun")
    user = users.create_user(
        " Samordnare@Kvarn.Example ", "coordinator", "ett-langt-losenord", organisation_name="Alingsås kommun"
    )
    assert user.email == "samordnare@kvarn.example"
    assert user.role == Role.COORDINATOR and user.organisation.name == "Alingsås kommun"
    assert user.password_hash.startswith("scrypt:")
    assert "ett-langt-losenord" not in user.password_hash
    assert user.check_password("ett-langt-losenord") and not user.check_password("fel")
    entry = db.session.scalar(sa.select(AuditEntry))
    assert (entry.action, entry.object_id, entry.details["role"]) == ("user.create", user.id, "coordinator")


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        (("not-an-email", "admin", PASSWORD), {}, "email"),
        (("a@kvarn.example", "superuser", PASSWORD), {}, "role"),
        (("a@kvarn.example", "admin", "kort"), {}, "password"),
        (("a@kvarn.example", "coordinator", PASSWORD), {}, "organisation"),
        (("a@kvarn.example", "coordinator", PASSWORD), {"organisation_name": "Okänd kommun"}, "organisation"),
        (("a@kvarn.example", "organiser", PASSWORD), {"organisation_name": "Alingsås kommun"}, "organisation"),
    ],
)
def test_create_user_refuses_bad_input_and_writes_nothing(app, args, kwargs, field):
    with pytest.raises(Refused) as refused:
        users.create_user(*args, **kwargs)
    assert refused.value.field == field
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id))) == 0


def test_create_user_refuses_a_second_account_for_the_same_address(app):
    make_user(Role.ADMIN, email="dup@kvarn.example")
    with pytest.raises(Refused) as refused:
        users.create_user("DUP@kvarn.example", "organiser", PASSWORD)
    assert refused.value.field == "email"


# --- flask create-user ------------------------------------------------------------


def test_create_user_command_reads_the_password_from_stdin(app):
    from tests import factories as f

    f.organisation("Lerums kommun")
    result = app.test_cli_runner().invoke(
        args=["create-user", "lerum@kvarn.example", "--role", "coordinator",
              "--organisation", "Lerums kommun", "--password-stdin"],
        input="hemligt-losenord\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created coordinator lerum@kvarn.example (Lerums kommun)." in result.output
    assert "hemligt" not in result.output
    user = user_by_email("lerum@kvarn.example")
    assert user.check_password("hemligt-losenord")


def test_create_user_command_prompts_twice_without_echo(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["create-user", "org@kvarn.example", "--role", "organiser"],
        input="hemligt-losenord\nhemligt-losenord\n",
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("Password") == 1 and "Repeat for confirmation" in result.output
    assert "hemligt" not in result.output
    assert user_by_email("org@kvarn.example").role == Role.ORGANISER

    mismatch = runner.invoke(
        args=["create-user", "two@kvarn.example", "--role", "admin"],
        input="hemligt-losenord\nannat-losenord\nhemligt-losenord\nhemligt-losenord\n",
    )
    assert "do not match" in mismatch.output
    assert mismatch.exit_code == 0 and user_by_email("two@kvarn.example") is not None


def test_create_user_command_fails_clearly(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["create-user", "c@kvarn.example", "--role", "coordinator", "--password-stdin"],
        input="hemligt-losenord\n",
    )
    assert result.exit_code == 1
    assert "A coordinator belongs to an organisation" in result.output
    bad_role = runner.invoke(args=["create-user", "c@kvarn.example", "--role", "boss"], input="x\n")
    assert bad_role.exit_code == 2 and "boss" in bad_role.output
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


# --- log-in ------------------------------------------------------------------------


def test_organiser_logs_in_to_the_event_list_and_coordinator_to_the_dashboard(app, client):
    organiser = make_user(Role.ORGANISER)
    response = login(client, organiser.email.upper())
    assert response.status_code == 302 and response.headers["Location"] == "/staff/events"
    assert client.get("/staff/events").status_code == 200
    client.post("/logout")

    coordinator = make_user(Role.COORDINATOR, organisation="Alingsås kommun")
    response = login(client, coordinator.email)
    assert response.headers["Location"] == "/staff/dashboard"
    assert client.get("/staff/events").status_code == 403


def test_staff_page_sends_to_log_in_and_back(app, client):
    user = make_user()
    response = client.get("/staff/events?show=past")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fstaff%2Fevents%3Fshow%3Dpast"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'value="/staff/events?show=past"' in page  # carried in the form
    response = login(client, user.email, next="/staff/events?show=past")
    assert response.headers["Location"] == "/staff/events?show=past"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "evil.example",
    ],
)
def test_next_never_redirects_off_site(app, client, target):
    user = make_user()
    response = login(client, user.email, next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/events"


def test_wrong_email_and_wrong_password_give_the_same_answer(app, client):
    user = make_user()
    client.get("/lang/en")
    wrong_password = client.post("/login", data={"email": user.email, "password": "fel-losenord"})
    wrong_email = client.post("/login", data={"email": "nobody@kvarn.example", "password": PASSWORD})
    assert wrong_password.status_code == wrong_email.status_code == 401
    a = wrong_password.get_data(as_text=True).replace(user.email, "EMAIL")
    b = wrong_email.get_data(as_text=True).replace("nobody@kvarn.example", "EMAIL")
    assert a == b
    assert "Wrong email or password." in a
    assert client.get("/staff/events").status_code == 302  # still not logged in


def test_a_deactivated_user_cannot_log_in(app, client):
    user = make_user(active=False)
    client.get("/lang/en")
    response = login(client, user.email)
    assert response.status_code == 401
    assert "Wrong email or password." in response.get_data(as_text=True)


def test_empty_form_asks_for_both_fields(app, client):
    client.get("/lang/en")
    response = client.post("/login", data={"email": "", "password": ""})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Enter your email address." in page and "Enter your password." in page


def test_logout_needs_post_and_ends_the_session(app, client):
    user = make_user()
    login(client, user.email)
    assert client.get("/logout").status_code == 405
    assert client.get("/staff/events").status_code == 200
    assert client.post("/logout").status_code == 302
    assert client.get("/staff/events").status_code == 302


@pytest.mark.parametrize("app_config", [{"SESSION_COOKIE_SECURE": True}])
def test_session_cookie_flags(app, client):
    user = make_user()
    response = login(client, user.email)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert "Strict-Transport-Security" in response.headers


@pytest.mark.parametrize(
    "app_config", [{"RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3 per minute"}]
)
def test_log_in_is_rate_limited_with_a_friendly_page(app, client):
    user = make_user()
    client.get("/lang/en")
    for _ in range(3):
        assert login(client, user.email, password="fel-losenord").status_code == 401
    limited = login(client, user.email)  # even the right password waits now
    assert limited.status_code == 429
    page = limited.get_data(as_text=True)
    assert "Too many attempts" in page and "<html" in page
    assert limited.headers.get("Retry-After")
    assert client.get("/staff/events").status_code == 302
    assert client.get("/login").status_code == 200  # showing the form is not limited


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_log_in_form_without_csrf_token_is_refused(app, client):
    user = make_user()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/staff/events").status_code == 302


# --- demo ----------------------------------------------------------------------------


def test_demo_adds_one_user_of_each_role_and_the_printed_logins_work(app, client):
    from app.devtools.demo import DEMO_LOGINS, load_demo

    assert load_demo() is True
    roles = {role for role, _email, _password in DEMO_LOGINS}
    assert roles == {"admin", "organiser", "coordinator"}
    coordinators = {
        u.organisation.name
        for u in db.session.scalars(sa.select(User).where(User.role == Role.COORDINATOR))
    }
    assert coordinators == {"Alingsås kommun", "Lerums kommun"}
    for role, email, password in DEMO_LOGINS:
        response = login(client, email, password)
        assert response.status_code == 302, email
        home = "/staff/dashboard" if role == "coordinator" else "/staff/events"
        assert response.headers["Location"] == home
        assert client.get(home).status_code == 200
        client.post("/logout")
    assert load_demo() is False  # a second run adds nobody
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == len(DEMO_LOGINS)
