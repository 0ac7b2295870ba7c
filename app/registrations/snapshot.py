"""What a sign-up reads under the event lock, read with Core statements, as copies that
are never attached to the session.

A sign-up decides from the event row (locked), its sessions, the counts, an earlier
registration and the person's organisation, and its first mail shows the event with its
organiser and organising organisation. Read as ORM entities they cost the unit of work's
bookkeeping, the identity map and a lazy load each, several times the statements
themselves. Here one statement reads the event row (``FOR UPDATE`` where the database
has it) with its sessions and the names the mail shows (``locked_event``), and one the
rest (``sign_up_facts``). The rows are built into *transient* ``Event``, ``EventSession``,
``User`` and ``Organisation`` objects, so that the rules written for the models
(``Event.phase``, ``registrations.statuses``) and the mail templates read them unchanged.

They are snapshots, shared by the sign-ups that read the same rows: never change one,
never add one to the session (an ``Event`` with an id would be inserted again). A change
to the event goes through its entity (``db.session.get``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..core.database import require_write_transaction
from ..core.errors import NotFound
from ..core.extensions import db
from ..models import Event, EventSession, Organisation, Registration, RegistrationStatus, User
from .statuses import SEATED

S = RegistrationStatus

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
_SESSION = EventSession.__table__
_LOCKED_EVENT = (
    sa.select(
        *_EVENT.c,
        _scalar(_USER.c.name, _EVENT.c.organiser_id).label("kvarn_organiser_name"),
        _scalar(_USER.c.email, _EVENT.c.organiser_id).label("kvarn_organiser_email"),
        _scalar(_ORGANISATION.c.name, _EVENT.c.organising_organisation_id).label(
            "kvarn_organising_name"
        ),
        *(column.label(f"kvarn_session_{column.key}") for column in _SESSION.c),
    )
    .select_from(_EVENT.outerjoin(_SESSION, _SESSION.c.event_id == _EVENT.c.id))
    .where(_EVENT.c.id == sa.bindparam("event_id"))
    .order_by(_SESSION.c.starts_at, _SESSION.c.id)
    # Only the event row is locked (PostgreSQL would refuse to lock the outer join's
    # nullable side; MariaDB, which has no OF, also locks the event's session rows,
    # which are only ever changed under the event lock anyway).
    .with_for_update(of=_EVENT)
)
_REGISTRATION = Registration.__table__
_SAME_EMAIL = _REGISTRATION.alias("earlier")
_SEATED = [status.value for status in SEATED]
_FACTS = sa.select(
    # One WHEN per seated status: an IN list would be re-rendered on every execution.
    sa.func.sum(
        sa.case(*((_REGISTRATION.c.status == status, 1) for status in _SEATED), else_=0)
    ).label("seated"),
    sa.func.sum(sa.case((_REGISTRATION.c.status == S.WAITLISTED.value, 1), else_=0)).label(
        "waiting"
    ),
    sa.func.sum(
        sa.case(
            (
                sa.and_(
                    _REGISTRATION.c.status == S.WAITLISTED.value,
                    _REGISTRATION.c.team_id.is_not(None),
                ),
                1,
            ),
            else_=0,
        )
    ).label("waiting_in_teams"),
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
).where(_REGISTRATION.c.event_id == sa.bindparam("event_id"))


def locked_event(event_id: int) -> Event:
    """The event, locked for the rest of this write transaction, as a snapshot with its
    sessions, organiser and organising organisation (``NotFound`` if there is none)."""
    require_write_transaction()
    rows = tuple(db.session.connection().execute(_LOCKED_EVENT, {"event_id": event_id}))
    if not rows:
        raise NotFound(_l("There is no such event."))
    return _event_from(rows)


@functools.lru_cache(maxsize=256)
def _event_from(rows: tuple[sa.Row, ...]) -> Event:
    """The snapshot of the event's rows (one per session). Cached by their values: a
    snapshot is never changed, and the same values make the same snapshot (a changed
    event, session, organiser or organisation reads new values)."""
    values = rows[0]._mapping
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
        EventSession(
            **{key: row._mapping[f"kvarn_session_{column}"] for key, column in _SESSION_ATTRIBUTES}
        )
        for row in rows
        if row._mapping["kvarn_session_id"] is not None
    ]
    return event


@dataclass(frozen=True)
class SignUpFacts:
    """What the decision needs besides the event, read in one statement under its lock."""

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


def sign_up_facts(
    event_id: int, email: str, submission_key: str | None, organisation_id: int | None
) -> SignUpFacts:
    """The counts, an earlier registration by email or form key and the organisation, in
    one statement. Read after the lock is held: on PostgreSQL and MariaDB at READ
    COMMITTED each statement sees what was committed before it began, so the counts are
    those of every sign-up before this one."""
    row = db.session.connection().execute(
        _FACTS,
        {
            "event_id": event_id,
            "email": email,
            "submission_key": submission_key,
            "organisation_id": organisation_id,
        },
    ).one()
    organisation = (
        Organisation(id=organisation_id, name=row.organisation_name, active=bool(row.organisation_active))
        if row.organisation_name is not None
        else None
    )
    return SignUpFacts(
        int(row.seated or 0),
        int(row.waiting or 0),
        int(row.waiting_in_teams or 0),
        row.same_email_id,
        row.same_key_id,
        organisation,
    )


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
