"""Staff accounts: creating admins, organisers and coordinators, activating and
deactivating them, and their passwords. Each call is one audited transaction.

Passwords are hashed with Werkzeug's default (``User.set_password``). A coordinator
belongs to exactly one organisation; the other roles belong to none. ``flask
create-user`` and the admin pages share these rules.
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
from ..models import Organisation, Role, User

PASSWORD_MIN = 10
PASSWORD_MAX = 200


_EMAIL_TAKEN = _l("There is already a user with that email address.")


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


def normalise_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise Refused(_l("Enter a valid email address."), field="email") from exc


def add_user(
    email: str,
    role: Role | str,
    password: str,
    *,
    name: str = "",
    organisation_name: str | None = None,
    created_by: int | None = None,
) -> User:
    """Add a user inside the caller's write transaction (checks everything first)."""
    email = normalise_email(email)
    try:
        role = Role(role)
    except ValueError as exc:
        raise Refused(_l("Unknown role."), field="role") from exc
    check_password_length(password)
    organisation = None
    if role == Role.COORDINATOR:
        if not organisation_name:
            raise Refused(_l("A coordinator belongs to an organisation: name it."), field="organisation")
        organisation = db.session.scalar(
            sa.select(Organisation).where(Organisation.name == organisation_name.strip())
        )
        if organisation is None:
            raise Refused(_l("There is no organisation with that name."), field="organisation")
    elif organisation_name:
        raise Refused(_l("Only coordinators belong to an organisation."), field="organisation")
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise Refused(_EMAIL_TAKEN, field="email")

    user = User(
        email=email,
        name=(name or "").strip() or email.split("@", 1)[0],
        role=role,
        organisation_id=organisation.id if organisation else None,
        active=True,
    )
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


def create_user_by_admin(
    email: str,
    name: str,
    role: Role | str,
    password: str,
    organisation_id: int | None,
    by: int,
) -> User:
    """Create a staff account from the admin pages (audited as "user.create")."""

    def work() -> User:
        organisation_name = None
        if organisation_id is not None and Role(role) == Role.COORDINATOR:
            organisation = db.session.get(Organisation, organisation_id)
            if organisation is None or not organisation.active:
                raise Refused(_l("Choose an organisation from the list."), field="organisation")
            organisation_name = organisation.name
        return add_user(
            email, role, password, name=name, organisation_name=organisation_name, created_by=by
        )

    try:
        return write_transaction(work)
    except IntegrityError as exc:  # two admins adding the same address at once
        raise Refused(_EMAIL_TAKEN, field="email") from exc


def set_user_active(user_id: int, active: bool, by: int) -> User:
    """Deactivate (the person can no longer log in, and is logged out) or reactivate."""

    def work() -> User:
        user = db.session.get(User, user_id)
        if user is None:
            raise NotFound()
        if not active and user.id == by:
            raise Refused(_l("You cannot deactivate your own account."))
        if user.active != active:
            user.active = active
            audit.record(by, "user.activate" if active else "user.deactivate", user, {"email": user.email})
        return user

    return write_transaction(work)


def reset_password(user_id: int, password: str, by: int) -> User:
    """Set a new password chosen by the admin (it is never written to the audit log)."""
    check_password_length(password)

    def work() -> User:
        user = db.session.get(User, user_id)
        if user is None:
            raise NotFound()
        user.set_password(password)
        audit.record(by, "user.password_reset", user, {"email": user.email})
        return user

    return write_transaction(work)
