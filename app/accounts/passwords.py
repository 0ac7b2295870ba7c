"""Staff passwords: the length rule, and the links that let a person choose one (the
invitation and the reset). Nobody chooses another person's password.

A link carries a signed token (itsdangerous, with the app's secret key) naming the user,
when it was made and a fingerprint of the user's current password hash and session
secret. Choosing a password changes both, so a link works once; it expires after
``PASSWORD_LINK_HOURS``. A reset request answers the same whether or not the address
belongs to anyone, and mails at most one link an hour per person.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer

from ..audit import entries as audit
from ..core import clock
from ..core.database import write_transaction
from ..core.errors import Refused
from ..core.extensions import db
from ..core.urls import absolute_url
from ..mail import outbox
from ..models import User

PASSWORD_MIN = 10
PASSWORD_MAX = 200
INVITE = "invite"
RESET = "reset"
_INVALID = _l("This link does not work any more. Ask for a new one.")


def check_password_length(password: str) -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise Refused(
            _l(
                "The password must be %(min)d to %(max)d characters long.",
                min=PASSWORD_MIN,
                max=PASSWORD_MAX,
            ),
            field="password",
        )


def _serializer(purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"kvarn-password-{purpose}")


def _fingerprint(user: User) -> str:
    return hashlib.sha256(f"{user.password_hash}|{user.session_secret}".encode()).hexdigest()[:20]


def make_token(user: User, purpose: str) -> str:
    issued = int(clock.now().timestamp())
    return _serializer(purpose).dumps([user.id, issued, _fingerprint(user)])


def link_for(user: User, purpose: str) -> str:
    return absolute_url(f"/password/{purpose}/{make_token(user, purpose)}")


def user_for(token: str, purpose: str) -> User:
    """The user a valid, unused, unexpired link names; ``Refused`` otherwise."""
    try:
        user_id, issued, fingerprint = _serializer(purpose).loads(token)
    except (BadSignature, ValueError, TypeError):
        raise Refused(_INVALID) from None
    if not isinstance(user_id, int) or not isinstance(issued, int):
        raise Refused(_INVALID)
    hours = float(current_app.config["PASSWORD_LINK_HOURS"])
    if clock.now().timestamp() - issued > hours * 3600:
        raise Refused(_INVALID)
    user = db.session.get(User, user_id, populate_existing=True)
    if user is None or not user.active or fingerprint != _fingerprint(user):
        raise Refused(_INVALID)
    return user


def queue_link(user: User, purpose: str) -> bool:
    """Queue the invitation or reset mail inside the caller's transaction (once an hour)."""
    hour = clock.now().strftime("%Y%m%d%H")
    return outbox.enqueue(
        kind="staff_invitation" if purpose == INVITE else "password_reset",
        recipient=user.email,
        locale=current_app.config["BABEL_DEFAULT_LOCALE"],
        dedupe_key=f"password:{purpose}:{user.id}:{hour}:{_fingerprint(user)[:8]}",
        context={
            "user": user,
            "link": link_for(user, purpose),
            "hours": int(current_app.config["PASSWORD_LINK_HOURS"]),
            "site_name": current_app.config["SITE_NAME"],
        },
    )


def request_reset(email: str) -> None:
    """"Forgot password": mail a reset link if the address is an active account's.

    Says nothing about whether it is: the caller shows the same page either way.
    """
    address = (email or "").strip().lower()

    def work() -> None:
        user = db.session.scalar(sa.select(User).where(User.email == address))
        if user is not None and user.active:
            queue_link(user, RESET)

    write_transaction(work)


def send_reset_by_admin(user_id: int, by: int) -> User:
    """An admin sends someone a reset link (admins never choose other people's passwords)."""

    def work() -> User:
        user = db.session.get(User, user_id)
        if user is None or not user.active:
            raise Refused(_l("Only an active account can be sent a link."))
        queue_link(user, RESET)
        audit.record(by, "user.reset_link", user, {"email": user.email})
        return user

    return write_transaction(work)


def choose_password(token: str, purpose: str, password: str) -> User:
    """Set the password a link allows, once; every existing session of the user ends."""
    check_password_length(password)

    def work() -> User:
        user = user_for(token, purpose)
        user.set_password(password)
        user.end_sessions()
        audit.record(user.id, f"user.password_{purpose}", user, {"email": user.email})
        return user

    return write_transaction(work)
