"""What a sign-up reads under the event lock, read with Core statements, as copies that
are never attached to the session.

A sign-up decides from the event row (locked), its sessions, the counts, an earlier
registration and the person's organisation, and its first mail shows the event with its
organiser and organising organisation. Read as ORM entities they cost the unit of work's
bookkeeping, the identity map and a lazy load each, several times the statements
themselves. Here ``read_for_sign_up`` locks the event row (``FOR UPDATE`` where the
database has it), then reads the counts, an earlier registration, the organisation and the
names the mail shows in one statement, and the sessions in another. The rows are built
into *transient* ``Event``, ``EventSession``, ``User`` and ``Organisation`` objects, so
that the rules written for the models (``Event.phase``, ``registrations.statuses``) and the
mail templates read them unchanged; the organisation's and the new registration's, made
for every sign-up, get their values put straight into their state (``_loaded``) rather
than through the attribute events of ``Model(**values)``.

They are snapshots, shared by the sign-ups that read the same rows: never change one,
never add one to the session (an ``Event`` with an id would be inserted again). A change
to the event goes through its entity (``db.session.get``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.attributes import instance_dict

from ..core.database import require_write_transaction
from ..core.errors import NotFound
from ..core.extensions import db
from ..models import Event, EventSession, Organisation, Registration, User
from . import reads

_EVENT = Event.__table__
_USER = User.__table__
_ORGANISATION = Organisation.__table__


def _attributes(model) -> list[tuple[str, str]]:
    """(attribute, column) of every column a model maps."""
    return [(prop.key, prop.columns[0].key) for prop in sa.inspect(model).column_attrs]


_EVENT_ATTRIBUTES = _attributes(Event)
_SESSION_ATTRIBUTES = _attributes(EventSession)


def _scalar(column, of_id):
    return sa.select(column).where(column.table.c.id == of_id).scalar_subquery()


# The locking statement reads the event row and nothing else. On PostgreSQL a statement
# that waited for the lock still reads every other table as it was before the wait (READ
# COMMITTED re-checks only the locked row), so the sessions, the names the mail shows and
# the counts come from the statements after it, each of which sees everything committed
# before it began. (On SQLite ``BEGIN IMMEDIATE`` already serialises the writers.)
_LOCKED_EVENT = sa.select(*_EVENT.c).where(_EVENT.c.id == sa.bindparam("event_id")).with_for_update()
_SESSION = EventSession.__table__
_SESSIONS = (
    sa.select(_SESSION)
    .where(_SESSION.c.event_id == sa.bindparam("event_id"))
    .order_by(_SESSION.c.starts_at, _SESSION.c.id)
)
_REGISTRATION = Registration.__table__
_SAME_EMAIL = _REGISTRATION.alias("earlier")
_FACTS = sa.select(
    *reads.seat_count_columns(),
    # By their unique indexes, so that the counts read only the covering index
    # (event, organisation, status, team) and never the table.
    sa.select(_SAME_EMAIL.c.id)
    .where(_SAME_EMAIL.c.event_id == sa.bindparam("event_id"))
    .where(_SAME_EMAIL.c.active_email == sa.bindparam("email"))
    .scalar_subquery()
    .label("same_email_id"),
    sa.select(_SAME_EMAIL.c.id)
    .where(_SAME_EMAIL.c.submission_key == sa.bindparam("submission_key"))
    .scalar_subquery()
    .label("same_key_id"),
    _scalar(_ORGANISATION.c.active, sa.bindparam("organisation_id")).label("organisation_active"),
    _scalar(_ORGANISATION.c.name, sa.bindparam("organisation_id")).label("organisation_name"),
    # What the event's mail shows of its organiser and organising organisation.
    _scalar(_USER.c.name, sa.bindparam("organiser_id")).label("organiser_name"),
    _scalar(_USER.c.email, sa.bindparam("organiser_id")).label("organiser_email"),
    _scalar(_ORGANISATION.c.name, sa.bindparam("organising_id")).label("organising_name"),
).where(_REGISTRATION.c.event_id == sa.bindparam("event_id"))


@dataclass(frozen=True)
class SignUpFacts:
    """What the decision needs besides the event, read under its lock."""

    seated: int
    waiting: int
    #: How many of the waiting are team members (the first-fit rule then applies).
    waiting_in_teams: int
    #: The active registration of this email for this event, if any.
    same_email_id: int | None
    #: The registration that this form's key made, if any (of any event).
    same_key_id: int | None
    #: The organisation chosen, as a snapshot; None when there is no such organisation.
    organisation: Organisation | None


def read_for_sign_up(
    event_id: int, email: str, submission_key: str | None, organisation_id: int | None
) -> tuple[Event, SignUpFacts]:
    """Lock the event for the rest of this write transaction and read what a sign-up
    decides from: the event as a snapshot with its sessions, organiser and organising
    organisation, and the counts, an earlier registration by email or form key and the
    chosen organisation (``NotFound`` if there is no such event). Three statements: the
    lock, then the rest in one, then the sessions."""
    require_write_transaction()
    connection = db.session.connection()
    row = connection.execute(_LOCKED_EVENT, {"event_id": event_id}).one_or_none()
    if row is None:
        raise NotFound(_l("There is no such event."))
    facts = connection.execute(
        _FACTS,
        {
            "event_id": event_id,
            "email": email,
            "submission_key": submission_key,
            "organisation_id": organisation_id,
            "organiser_id": row.organiser_id,
            "organising_id": row.organising_organisation_id,
        },
    ).one()
    sessions = tuple(connection.execute(_SESSIONS, {"event_id": event_id}))
    names = (facts.organiser_name, facts.organiser_email, facts.organising_name)
    organisation = (
        _organisation(organisation_id, facts.organisation_name, bool(facts.organisation_active))
        if facts.organisation_name is not None
        else None
    )
    return _event_from(row, names, sessions), SignUpFacts(
        int(facts.seated or 0),
        int(facts.waiting or 0),
        int(facts.waiting_in_teams or 0),
        facts.same_email_id,
        facts.same_key_id,
        organisation,
    )


def _loaded(model, **values):
    """A transient ``model`` holding ``values`` as if loaded from its row: set in the
    instance's state at once, without the attribute events (history, backrefs) that
    ``model(**values)`` fires for each one — a registration's snapshot cost 35 µs that way,
    2 µs this way. Reading it is reading an entity; it has nothing pending to write."""
    made = sa.inspect(model).class_manager.new_instance()
    instance_dict(made).update(values)
    return made


@functools.lru_cache(maxsize=256)
def _organisation(organisation_id: int, name: str, active: bool) -> Organisation:
    """The chosen organisation's snapshot, shared by the sign-ups that read the same values."""
    return _loaded(Organisation, id=organisation_id, name=name, active=active)


@functools.lru_cache(maxsize=256)
def _event_from(row: sa.Row, names: tuple, sessions: tuple[sa.Row, ...]) -> Event:
    """The snapshot of the event's row, its organiser's and organising organisation's
    names and its sessions. Cached by their values: a snapshot is never changed, and the
    same values make the same snapshot (any change reads new values)."""
    organiser_name, organiser_email, organising_name = names
    event = Event(**{key: row._mapping[column] for key, column in _EVENT_ATTRIBUTES})
    if event.organiser_id is not None:
        event.organiser = User(id=event.organiser_id, name=organiser_name, email=organiser_email)
    if event.organising_organisation_id is not None:
        event.organising_organisation = Organisation(
            id=event.organising_organisation_id, name=organising_name
        )
    event.sessions = [
        EventSession(**{key: session._mapping[column] for key, column in _SESSION_ATTRIBUTES})
        for session in sessions
    ]
    return event


def registration(event: Event, organisation: Organisation, **columns) -> Registration:
    """A snapshot of a registration row just inserted (``columns``, its id among them),
    with the event and organisation snapshots it belongs to."""
    return _loaded(Registration, **columns, event=event, organisation=organisation)
