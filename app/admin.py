"""Admin services: organisations and staff accounts. Each call is one audited transaction.

Creating a user goes through ``app.users`` (the same rules as ``flask create-user``).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from . import audit, users
from .database import write_transaction
from .extensions import db
from .models import Organisation, Role, User

ORGANISATION_NAME_MAX = 120


class AdminError(ValueError):
    """A refused change, with a message for the admin and the form field it concerns."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message = message
        self.field = field


class NotFound(AdminError):
    def __init__(self):
        super().__init__(_l("Not found."))


# --- organisations ---------------------------------------------------------------


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise AdminError(_l("Enter a name."), field="name")
    if len(name) > ORGANISATION_NAME_MAX:
        raise AdminError(
            _l("Use at most %(max)d characters.", max=ORGANISATION_NAME_MAX), field="name"
        )
    return name


def _name_taken(name: str, except_id: int | None = None) -> bool:
    query = sa.select(Organisation.id).where(sa.func.lower(Organisation.name) == name.lower())
    if except_id is not None:
        query = query.where(Organisation.id != except_id)
    return db.session.scalar(query) is not None


_TAKEN = _l("There is already an organisation with that name.")


def _commit(work):
    """Run ``work`` in a write transaction; a unique-name race reads as the same refusal."""
    try:
        return write_transaction(work)
    except IntegrityError as exc:
        raise AdminError(_TAKEN, field="name") from exc


def create_organisation(name: str, sort_order: int, by: int) -> Organisation:
    name = _clean_name(name)

    def work() -> Organisation:
        if _name_taken(name):
            raise AdminError(_TAKEN, field="name")
        organisation = Organisation(name=name, sort_order=sort_order, active=True)
        db.session.add(organisation)
        db.session.flush()
        audit.record(by, "organisation.create", organisation, {"name": name, "sort_order": sort_order})
        return organisation

    return _commit(work)


def update_organisation(organisation_id: int, name: str, sort_order: int, by: int) -> Organisation:
    """Rename (and re-sort). Registrations keep pointing at the same organisation."""
    name = _clean_name(name)

    def work() -> Organisation:
        organisation = db.session.get(Organisation, organisation_id)
        if organisation is None:
            raise NotFound()
        if _name_taken(name, except_id=organisation.id):
            raise AdminError(_TAKEN, field="name")
        changes = {}
        if organisation.name != name:
            changes["name"] = {"from": organisation.name, "to": name}
            organisation.name = name
        if organisation.sort_order != sort_order:
            changes["sort_order"] = {"from": organisation.sort_order, "to": sort_order}
            organisation.sort_order = sort_order
        if changes:
            audit.record(by, "organisation.update", organisation, changes)
        return organisation

    return _commit(work)


def set_organisation_active(organisation_id: int, active: bool, by: int) -> Organisation:
    """Deactivated organisations leave the sign-up list; their history stays."""

    def work() -> Organisation:
        organisation = db.session.get(Organisation, organisation_id)
        if organisation is None:
            raise NotFound()
        if organisation.active != active:
            organisation.active = active
            action = "organisation.activate" if active else "organisation.deactivate"
            audit.record(by, action, organisation, {"name": organisation.name})
        return organisation

    return write_transaction(work)


# --- staff users ------------------------------------------------------------------


def create_user(
    email: str,
    name: str,
    role: Role | str,
    password: str,
    organisation_id: int | None,
    by: int,
) -> User:
    """Create a staff account (audited as "user.create" by ``app.users``)."""

    def work() -> User:
        organisation_name = None
        if organisation_id is not None and Role(role) == Role.COORDINATOR:
            organisation = db.session.get(Organisation, organisation_id)
            if organisation is None or not organisation.active:
                raise AdminError(_l("Choose an organisation from the list."), field="organisation")
            organisation_name = organisation.name
        try:
            return users.add_user(
                email,
                role,
                password,
                name=name,
                organisation_name=organisation_name,
                created_by=by,
            )
        except users.UserError as exc:
            raise AdminError(exc.message, field=exc.field) from exc

    try:
        return write_transaction(work)
    except IntegrityError as exc:  # two admins adding the same address at once
        raise AdminError(
            _l("There is already a user with that email address."), field="email"
        ) from exc


def set_user_active(user_id: int, active: bool, by: int) -> User:
    """Deactivate (the person can no longer log in, and is logged out) or reactivate."""

    def work() -> User:
        user = db.session.get(User, user_id)
        if user is None:
            raise NotFound()
        if not active and user.id == by:
            raise AdminError(_l("You cannot deactivate your own account."))
        if user.active != active:
            user.active = active
            audit.record(by, "user.activate" if active else "user.deactivate", user, {"email": user.email})
        return user

    return write_transaction(work)


def reset_password(user_id: int, password: str, by: int) -> User:
    """Set a new password chosen by the admin (it is never written to the audit log)."""
    if not users.PASSWORD_MIN <= len(password) <= users.PASSWORD_MAX:
        raise AdminError(
            _l(
                "The password must be %(min)d to %(max)d characters long.",
                min=users.PASSWORD_MIN,
                max=users.PASSWORD_MAX,
            ),
            field="password",
        )

    def work() -> User:
        user = db.session.get(User, user_id)
        if user is None:
            raise NotFound()
        user.set_password(password)
        audit.record(by, "user.password_reset", user, {"email": user.email})
        return user

    return write_transaction(work)
