"""What a sign-up reads under the event lock, read with Core statements, as copies that
are never attached to the session.

A sign-up decides from the event row (locked), its sessions and the person's
organisation, and its first mail shows the event with its organiser and organising
organisation. Read as ORM entities they cost a unit of work's bookkeeping, the identity
map and a lazy load each, several times the statements themselves. Here one statement
reads the event row (``FOR UPDATE`` where the database has it) with the names the mail
shows, one the sessions, one the organisation, and the rows are built into *transient*
``Event``, ``EventSession``, ``User`` and ``Organisation`` objects, so that the rules
written for the models (``Event.phase``, ``registrations.statuses``) and the mail
templates read them unchanged.

They are snapshots, shared by the sign-ups that read the same rows: never change one,
never add one to the session (an ``Event`` with an id would be inserted again). A change
to the event goes through its entity (``db.session.get``).
"""

from __future__ import annotations

import functools

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..core.database import require_write_transaction
from ..core.errors import NotFound
from ..core.extensions import db
from ..models import Event, EventSession, Organisation, Registration, User

_EVENT = Event.__table__
_USER = User.__table__
_ORGANISATION = Organisation.__table__


def _attributes(model) -> list[tuple[str, str]]:
    """(attribute, column) of every column a model maps."""
    return [(prop.key, prop.columns[0].key) for prop in sa.inspect(model).column_attrs]


_EVENT_ATTRIBUTES = _attributes(Event)
_SESSION_ATTRIBUTES = _attributes(EventSession)
_REGISTRATION_COLUMNS = {key for key, _ in _attributes(Registration)}


def _scalar(column, of_id):
    return sa.select(column).where(column.table.c.id == of_id).scalar_subquery()


# Scalar subqueries in the column list are read, not locked: PostgreSQL and MariaDB lock
# only the rows of the FROM tables (MariaDB: "a locking read clause in an outer statement
# does not lock the rows of a table in a nested subquery"), so the organiser and the
# organising organisation are never held by a sign-up.
_LOCKED_EVENT = (
    sa.select(
        *_EVENT.c,
        _scalar(_USER.c.name, _EVENT.c.organiser_id).label("kvarn_organiser_name"),
        _scalar(_USER.c.email, _EVENT.c.organiser_id).label("kvarn_organiser_email"),
        _scalar(_ORGANISATION.c.name, _EVENT.c.organising_organisation_id).label(
            "kvarn_organising_name"
        ),
    )
    .where(_EVENT.c.id == sa.bindparam("event_id"))
    .with_for_update()
)
_SESSIONS = (
    sa.select(EventSession.__table__)
    .where(EventSession.__table__.c.event_id == sa.bindparam("event_id"))
    .order_by(EventSession.__table__.c.starts_at, EventSession.__table__.c.id)
)
_ORGANISATION_ROW = sa.select(_ORGANISATION).where(_ORGANISATION.c.id == sa.bindparam("id"))


def locked_event(event_id: int) -> Event:
    """The event, locked for the rest of this write transaction, as a snapshot with its
    sessions, organiser and organising organisation (``NotFound`` if there is none)."""
    require_write_transaction()
    connection = db.session.connection()
    row = connection.execute(_LOCKED_EVENT, {"event_id": event_id}).one_or_none()
    if row is None:
        raise NotFound(_l("There is no such event."))
    sessions = tuple(connection.execute(_SESSIONS, {"event_id": event_id}))
    return _event_from(row, sessions)


@functools.lru_cache(maxsize=256)
def _event_from(row: sa.Row, sessions: tuple[sa.Row, ...]) -> Event:
    """The snapshot of these rows. Cached by their values: a snapshot is never changed,
    and the same values make the same snapshot (a changed event reads new values)."""
    values = row._mapping
    event = Event(**{key: values[column] for key, column in _EVENT_ATTRIBUTES})
    if event.organiser_id is not None:
        event.organiser = User(
            id=event.organiser_id,
            name=values["kvarn_organiser_name"],
            email=values["kvarn_organiser_email"],
        )
    if event.organising_organisation_id is not None:
        event.organising_organisation = Organisation(
            id=event.organising_organisation_id, name=values["kvarn_organising_name"]
        )
    event.sessions = [
        EventSession(**{key: session._mapping[column] for key, column in _SESSION_ATTRIBUTES})
        for session in sessions
    ]
    return event


def organisation(organisation_id: int | None) -> Organisation | None:
    """The organisation as a snapshot, or None if there is none by that id."""
    if organisation_id is None:
        return None
    row = db.session.connection().execute(_ORGANISATION_ROW, {"id": organisation_id}).one_or_none()
    return Organisation(**row._mapping) if row is not None else None


def registration(event: Event, organisation: Organisation, **columns) -> Registration:
    """A snapshot of a registration row just inserted (``columns``, its id among them),
    with the event and organisation snapshots it belongs to."""
    unknown = set(columns) - _REGISTRATION_COLUMNS
    if unknown:
        raise TypeError(f"not columns of a registration: {sorted(unknown)}")
    made = Registration(**columns)
    made.event = event
    made.organisation = organisation
    return made
