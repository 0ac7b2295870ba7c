"""Staff accounts: creating admins, organisers and coordinators.

Passwords are hashed with Werkzeug's default (``User.set_password``). A coordinator
belongs to exactly one organisation; the other roles belong to none.
"""

from __future__ import annotations

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from . import audit
from .database import write_transaction
from .extensions import db
from .models import Organisation, Role, User

PASSWORD_MIN = 10
PASSWORD_MAX = 200


class UserError(ValueError):
    """A refused account, with a message for the person running the command."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message = message
        self.field = field


def normalise_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise UserError(_l("Enter a valid email address."), field="email") from exc


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
        raise UserError(_l("Unknown role."), field="role") from exc
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise UserError(
            _l("The password must be %(min)d to %(max)d characters long.", min=PASSWORD_MIN, max=PASSWORD_MAX),
            field="password",
        )
    organisation = None
    if role == Role.COORDINATOR:
        if not organisation_name:
            raise UserError(_l("A coordinator belongs to an organisation: name it."), field="organisation")
        organisation = db.session.scalar(
            sa.select(Organisation).where(Organisation.name == organisation_name.strip())
        )
        if organisation is None:
            raise UserError(_l("There is no organisation with that name."), field="organisation")
    elif organisation_name:
        raise UserError(_l("Only coordinators belong to an organisation."), field="organisation")
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise UserError(_l("There is already a user with that email address."), field="email")

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
    """Create one staff user in its own transaction. Raises UserError when refused."""
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
        raise UserError(_l("There is already a user with that email address."), field="email") from exc
