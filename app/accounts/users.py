"""Staff accounts: creating admins, organisers and coordinators (by invitation from the
admin pages, with a password from ``flask create-user``), roles, activation, and ending a
user's sessions. Each call is one audited transaction.

Passwords are hashed with Werkzeug's default (``User.set_password``); their rules and
links are ``passwords``. A coordinator belongs to exactly one organisation; the other
roles belong to none. Whatever changes who a person is to Kvarn (password, role,
deactivation, log-out) ends every session they have (``User.end_sessions``).
"""

from __future__ import annotations

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from ..audit import entries as audit
from ..core.database import write_transaction
from ..core.errors import NotFound, Refused
from ..core.extensions import db
from ..models import NO_PASSWORD, Organisation, Role, User
from . import passwords
from .passwords import PASSWORD_MAX, PASSWORD_MIN, check_password_length

__all__ = ["PASSWORD_MAX", "PASSWORD_MIN"]

_EMAIL_TAKEN = _l("There is already a user with that email address.")


def normalise_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise Refused(_l("Enter a valid email address."), field="email") from exc


def add_user(
    email: str,
    role: Role | str,
    password: str | None,
    *,
    name: str = "",
    organisation_name: str | None = None,
    created_by: int | None = None,
) -> User:
    """Add a user inside the caller's write transaction (checks everything first).

    ``password`` None makes an invited account that cannot log in until its owner
    chooses a password through the invitation link.
    """
    email = normalise_email(email)
    role = _role(role)
    if password is not None:
        check_password_length(password)
    organisation = _organisation_for(role, organisation_name)
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise Refused(_EMAIL_TAKEN, field="email")

    user = User(
        email=email,
        name=(name or "").strip() or email.split("@", 1)[0],
        role=role,
        organisation_id=organisation.id if organisation else None,
        active=True,
    )
    if password is None:
        user.password_hash = NO_PASSWORD
    else:
        user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record(
        created_by,
        "user.create",
        user,
        {"email": email, "role": role.value, "organisation": organisation.name if organisation else None},
    )
    return user


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError as exc:
        raise Refused(_l("Unknown role."), field="role") from exc


def _organisation_for(role: Role, organisation_name: str | None) -> Organisation | None:
    if role == Role.COORDINATOR:
        if not organisation_name:
            raise Refused(_l("A coordinator belongs to an organisation: name it."), field="organisation")
        organisation = db.session.scalar(
            sa.select(Organisation).where(Organisation.name == organisation_name.strip())
        )
        if organisation is None:
            raise Refused(_l("There is no organisation with that name."), field="organisation")
        return organisation
    if organisation_name:
        raise Refused(_l("Only coordinators belong to an organisation."), field="organisation")
    return None


def create_user(
    email: str,
    role: Role | str,
    password: str,
    *,
    name: str = "",
    organisation_name: str | None = None,
    created_by: int | None = None,
) -> User:
    """Create one staff user in its own transaction (``flask create-user``). Raises
    ``Refused`` when refused."""
    try:
        return write_transaction(
            lambda: add_user(
                email,
                role,
                password,
                name=name,
                organisation_name=organisation_name,
                created_by=created_by,
            )
        )
    except IntegrityError as exc:  # the same address added at the same moment elsewhere
        raise Refused(_EMAIL_TAKEN, field="email") from exc


# --- changes by an admin -----------------------------------------------------------


def invite_user(
    email: str,
    name: str,
    role: Role | str,
    organisation_id: int | None,
    by: int,
) -> User:
    """Create a staff account from the admin pages and mail its owner an invitation link
    to choose a password, in one transaction (audited as "user.create")."""

    def work() -> User:
        organisation_name = None
        if organisation_id is not None and _role(role) == Role.COORDINATOR:
            organisation = db.session.get(Organisation, organisation_id)
            if organisation is None or not organisation.active:
                raise Refused(_l("Choose an organisation from the list."), field="organisation")
            organisation_name = organisation.name
        user = add_user(
            email, role, None, name=name, organisation_name=organisation_name, created_by=by
        )
        passwords.queue_link(user, passwords.INVITE)
        return user

    try:
        return write_transaction(work)
    except IntegrityError as exc:  # two admins adding the same address at once
        raise Refused(_EMAIL_TAKEN, field="email") from exc


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id, populate_existing=True)
    if user is None:
        raise NotFound()
    return user


def set_user_active(user_id: int, active: bool, by: int) -> User:
    """Deactivate (the person can no longer log in, and every session ends) or reactivate."""

    def work() -> User:
        user = _user(user_id)
        if not active and user.id == by:
            raise Refused(_l("You cannot deactivate your own account."))
        if user.active != active:
            user.active = active
            user.end_sessions()
            audit.record(by, "user.activate" if active else "user.deactivate", user, {"email": user.email})
        return user

    return write_transaction(work)


def change_role(user_id: int, role: Role | str, organisation_id: int | None, by: int) -> User:
    """Give a user another role (and organisation, for a coordinator); their sessions end,
    so the new rights apply from their next log-in."""

    def work() -> User:
        user = _user(user_id)
        new_role = _role(role)
        if user.id == by and new_role != user.role:
            raise Refused(_l("You cannot change your own role."), field="role")
        organisation = None
        if new_role == Role.COORDINATOR:
            organisation = db.session.get(Organisation, organisation_id) if organisation_id else None
            if organisation is None or not organisation.active:
                raise Refused(_l("A coordinator belongs to an organisation: choose it."), field="organisation")
        new_org = organisation.id if organisation else None
        if (user.role, user.organisation_id) != (new_role, new_org):
            details = {
                "email": user.email,
                "from": user.role.value,
                "to": new_role.value,
                "organisation": organisation.name if organisation else None,
            }
            user.role, user.organisation_id = new_role, new_org
            user.end_sessions()
            audit.record(by, "user.role", user, details)
        return user

    return write_transaction(work)


def change_own_password(user_id: int, current: str, new: str) -> User:
    """A logged-in user changes their password; every session (this one too) ends."""
    check_password_length(new)

    def work() -> User:
        user = _user(user_id)
        if not user.check_password(current):
            raise Refused(_l("That is not your current password."), field="current_password")
        user.set_password(new)
        user.end_sessions()
        audit.record(user.id, "user.password_change", user, {"email": user.email})
        return user

    return write_transaction(work)


def end_sessions(user_id: int) -> None:
    """Log-out: this user's sessions end everywhere (a copied cookie stops working)."""

    def work() -> None:
        user = db.session.get(User, user_id)
        if user is not None:
            user.end_sessions()

    write_transaction(work)
