"""Organisations: the municipalities and bodies people belong to. Admins create, rename
and (de)activate them; each call is one audited transaction. Deactivated ones leave the
sign-up form but keep their history.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from ..audit import entries as audit
from ..core.database import write_transaction
from ..core.errors import NotFound, Refused
from ..core.extensions import db
from ..models import Organisation

ORGANISATION_NAME_MAX = 120


def active_organisations() -> list[tuple[int, str]]:
    """(id, name) of the organisations people can choose, in the admins' order."""
    rows = db.session.execute(
        sa.select(Organisation.id, Organisation.name)
        .where(Organisation.active.is_(True))
        .order_by(Organisation.sort_order, Organisation.name)
    )
    return [(row.id, row.name) for row in rows]


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise Refused(_l("Enter a name."), field="name")
    if len(name) > ORGANISATION_NAME_MAX:
        raise Refused(
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
        raise Refused(_TAKEN, field="name") from exc


def create_organisation(name: str, sort_order: int, by: int) -> Organisation:
    name = _clean_name(name)

    def work() -> Organisation:
        if _name_taken(name):
            raise Refused(_TAKEN, field="name")
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
            raise Refused(_TAKEN, field="name")
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
