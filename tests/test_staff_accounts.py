"""Staff accounts that can be recovered and revoked, through the real SMTP sink.

Invitations and password resets arrive by mail with a signed link that works once and
expires; "forgot password" answers the same for any address; log-out, a password change
or reset, a role change and deactivation end every session of the user (a copied
cookie stops working); two-step log-in with TOTP codes and recovery codes.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa

from app.core import clock
from app.core.extensions import db
from app.mail import delivery
from app.models import AuditEntry, Role, User
from tests.staff_clients import client_for, logged_in
from tests.staff_helpers import PASSWORD, login, make_user

NEW_PASSWORD = "ett helt nytt lösenord"
LINK = re.compile(r"http://kvarn\.test(/password/(?:invite|reset)/[A-Za-z0-9._-]+)")


@pytest.fixture
def app_config(smtp_sink):
    return smtp_sink.config()


def link_in_mail(smtp_sink, address: str) -> str:
    """Deliver the outbox to the sink and return the path of the last link to ``address``."""
    delivery.send_due()
    messages = smtp_sink.to(address)
    assert messages, f"no mail to {address}"
    body = messages[-1].get_body(("plain",)).get_content()
    return LINK.search(body).group(1)


def copied(app, client):
    """Another browser holding a copy of ``client``'s cookies (a stolen session)."""
    thief = client_for(app)
    for cookie in client._cookies.values():
        thief.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    return thief


def user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email).execution_options(populate_existing=True))


# --- invitations ----------------------------------------------------------------------------


def test_an_invited_user_chooses_a_password_once_through_the_mailed_link(app, smtp_sink):
    admin = logged_in(app, make_user(Role.ADMIN))
    response = admin.post(
        "/staff/admin/users/new", data={"name": "Olle Ny", "email": "olle@kommun.example", "role": "organiser"}
    )
    assert response.status_code == 303
    assert login(client_for(app), "olle@kommun.example", "").status_code in (400, 401)
    path = link_in_mail(smtp_sink, "olle@kommun.example")
    [mail] = smtp_sink.to("olle@kommun.example")
    assert "24" in mail.get_body(("plain",)).get_content()  # says how long it works

    visitor = client_for(app)
    assert visitor.get(path).status_code == 200
    short = visitor.post(path, data={"password": "kort", "confirm": "kort"})
    assert short.status_code == 400
    chosen = visitor.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert chosen.status_code == 303
    assert login(client_for(app), "olle@kommun.example", NEW_PASSWORD).status_code == 302
    # Single use: the same link again is refused, and changes nothing.
    assert visitor.get(path).status_code == 410
    again = visitor.post(path, data={"password": "ett annat lösenord", "confirm": "ett annat lösenord"})
    assert again.status_code == 410
    assert user("olle@kommun.example").check_password(NEW_PASSWORD)


def test_an_invitation_expires(app, smtp_sink):
    admin = logged_in(app, make_user(Role.ADMIN))
    admin.post("/staff/admin/users/new", data={"name": "Sen", "email": "sen@kommun.example", "role": "organiser"})
    path = link_in_mail(smtp_sink, "sen@kommun.example")
    clock.travel(timedelta(hours=app.config["PASSWORD_LINK_HOURS"], minutes=1))
    visitor = client_for(app)
    assert visitor.get(path).status_code == 410
    assert visitor.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 410
    assert user("sen@kommun.example").invited


def test_a_forged_or_tampered_link_is_refused(app):
    staff = make_user(Role.ORGANISER)
    from app.accounts import passwords

    token = passwords.make_token(staff, passwords.RESET)
    client = client_for(app)
    assert client.get(f"/password/reset/{token}").status_code == 200
    assert client.get(f"/password/reset/{token[:-2]}xx").status_code == 410
    assert client.get(f"/password/invite/{token}").status_code == 410  # another purpose's salt
    assert client.get(f"/password/other/{token}").status_code == 404


# --- forgot password --------------------------------------------------------------------------


def test_forgot_password_answers_the_same_and_mails_only_real_accounts(app, smtp_sink):
    make_user(Role.ORGANISER, email="anna@kommun.example")
    client = client_for(app)
    known = client.post("/forgot?lang=en", data={"email": "Anna@Kommun.example"})
    unknown = client.post("/forgot?lang=en", data={"email": "nobody@kommun.example"})
    assert known.status_code == unknown.status_code == 200
    strip = re.compile(r'name="csrf_token"[^>]*>|nonce="[^"]*"')
    assert strip.sub("", known.get_data(as_text=True)) == strip.sub("", unknown.get_data(as_text=True))
    delivery.send_due()
    assert len(smtp_sink.to("anna@kommun.example")) == 1
    assert smtp_sink.to("nobody@kommun.example") == []
    # Asking again within the hour sends nothing more (the form cannot flood an inbox).
    client.post("/forgot", data={"email": "anna@kommun.example"})
    delivery.send_due()
    assert len(smtp_sink.to("anna@kommun.example")) == 1


def test_a_reset_ends_every_session_and_the_old_password(app, smtp_sink):
    staff = make_user(Role.ORGANISER, email="bo@kommun.example")
    session = logged_in(app, staff)
    stolen = copied(app, session)
    assert stolen.get("/staff/events").status_code == 200
    client_for(app).post("/forgot", data={"email": "bo@kommun.example"})
    path = link_in_mail(smtp_sink, "bo@kommun.example")
    assert client_for(app).post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 303
    assert session.get("/staff/events").status_code == 302
    assert stolen.get("/staff/events").status_code == 302
    assert login(client_for(app), "bo@kommun.example", PASSWORD).status_code == 401
    assert login(client_for(app), "bo@kommun.example", NEW_PASSWORD).status_code == 302
    actions = db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert "user.password_reset" in actions


# --- sessions end -----------------------------------------------------------------------------


def test_log_out_ends_a_copied_session_cookie_too(app):
    staff = make_user(Role.ORGANISER)
    session = logged_in(app, staff)
    stolen = copied(app, session)
    assert stolen.get("/staff/events").status_code == 200
    assert session.post("/logout").status_code == 302
    assert stolen.get("/staff/events").status_code == 302
    assert logged_in(app, staff).get("/staff/events").status_code == 200  # a new log-in works


def test_a_password_change_ends_every_session(app):
    staff = make_user(Role.ORGANISER)
    session = logged_in(app, staff)
    stolen = copied(app, session)
    wrong = session.post(
        "/staff/account/password",
        data={"current_password": "fel", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert wrong.status_code == 400
    assert stolen.get("/staff/events").status_code == 200
    changed = session.post(
        "/staff/account/password",
        data={"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert changed.status_code == 303
    assert stolen.get("/staff/events").status_code == 302
    assert login(client_for(app), staff.email, NEW_PASSWORD).status_code == 302


def test_deactivation_ends_a_copied_session(app):
    victim = make_user(Role.ORGANISER)
    session = logged_in(app, victim)
    stolen = copied(app, session)
    admin = logged_in(app, make_user(Role.ADMIN))
    assert admin.post(f"/staff/admin/users/{victim.id}/deactivate").status_code == 303
    assert admin.post(f"/staff/admin/users/{victim.id}/activate").status_code == 303
    assert stolen.get("/staff/events").status_code == 302  # reactivation does not revive it


# --- two-step log-in ----------------------------------------------------------------------


def enable_two_step(client) -> tuple[str, list[str]]:
    """Set up TOTP on the account page as a person would; returns the secret and codes."""
    page = client.get("/staff/account/two-step")
    assert page.status_code == 200 and "data:image/svg+xml" in page.get_data(as_text=True)
    with client.session_transaction() as session:
        secret = session["two_step_enrol"]
    assert client.post("/staff/account/two-step", data={"code": "000000"}).status_code == 400
    done = client.post("/staff/account/two-step", data={"code": pyotp.TOTP(secret).at(clock.now())})
    assert done.status_code == 200
    codes = re.findall(r"<code>([0-9a-f]{6}-[0-9a-f]{6})</code>", done.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def test_two_step_log_in_with_a_code_once_and_with_recovery_codes(app):
    staff = make_user(Role.ORGANISER)
    secret, codes = enable_two_step(logged_in(app, staff))
    assert user(staff.email).two_step_enabled

    client = client_for(app)
    first = login(client, staff.email)
    assert first.status_code == 303 and first.headers["Location"].endswith("/login/code")
    assert client.get("/staff/events").status_code == 302  # the password alone is not enough
    assert client.post("/login/code", data={"code": "123456"}).status_code == 401
    clock.travel(timedelta(seconds=31))  # the next time step: a code not used yet
    code = pyotp.TOTP(secret).at(clock.now())
    assert client.post("/login/code", data={"code": code}).status_code == 302
    assert client.get("/staff/events").status_code == 200

    replay = client_for(app)
    login(replay, staff.email)
    assert replay.post("/login/code", data={"code": code}).status_code == 401  # used once

    rescue = client_for(app)
    login(rescue, staff.email)
    assert rescue.post("/login/code", data={"code": codes[0]}).status_code == 302
    again = client_for(app)
    login(again, staff.email)
    assert again.post("/login/code", data={"code": codes[0]}).status_code == 401
    assert len(user(staff.email).recovery_code_hashes) == 9
    assert codes[1] not in str(user(staff.email).recovery_code_hashes)  # stored as hashes


def test_a_log_in_code_waits_only_a_few_minutes(app):
    staff = make_user(Role.ORGANISER)
    secret, _codes = enable_two_step(logged_in(app, staff))
    client = client_for(app)
    login(client, staff.email)
    import time as real_time

    with client.session_transaction() as session:
        session["two_step"] = {**session["two_step"], "at": int(real_time.time()) - 600}
    response = client.post("/login/code", data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 303 and response.headers["Location"].endswith("/login")


@pytest.mark.parametrize("app_config", [{"REQUIRE_TWO_STEP_FOR_ADMINS": True}])
def test_admins_must_set_up_two_step_log_in_when_the_setting_says_so(app, app_config):
    admin = logged_in(app, make_user(Role.ADMIN))
    response = admin.get("/staff/admin/users")
    assert response.status_code == 302 and response.headers["Location"].endswith("/staff/account/two-step")
    enable_two_step(admin)
    assert admin.get("/staff/admin/users").status_code == 200
    organiser = logged_in(app, make_user(Role.ORGANISER))
    assert organiser.get("/staff/events").status_code == 200  # only admins are required
