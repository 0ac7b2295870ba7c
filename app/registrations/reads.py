"""Read-only views of registrations for pages, reports and mail: waitlist places (a team
kept together shares one, ``queue``), seat counts and teams, counted in the database.
Nothing here writes (that is ``seats``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ..core.extensions import db
from ..models import Registration, RegistrationStatus, Team
from . import queue
from .statuses import SEATED

S = RegistrationStatus


@dataclass(frozen=True)
class Counts:
    confirmed: int = 0
    waitlisted: int = 0
    interested: int = 0


def seat_count_columns() -> tuple:
    """SUM(CASE ...) columns counting an event's seated, waiting, and waiting team members
    (the first-fit rule applies when there are any), labelled ``seated``, ``waiting``,
    ``waiting_in_teams``: what a decision about a seat reads. One WHEN per status, not an
    IN list, which SQLAlchemy renders again on every execution."""
    status, team = Registration.status, Registration.team_id
    return (
        sa.func.sum(sa.case(*((status == s, 1) for s in SEATED), else_=0)).label("seated"),
        sa.func.sum(sa.case((status == S.WAITLISTED, 1), else_=0)).label("waiting"),
        sa.func.sum(
            sa.case((sa.and_(status == S.WAITLISTED, team.is_not(None)), 1), else_=0)
        ).label("waiting_in_teams"),
    )


def counts_by_status(rows) -> dict[Any, Counts]:
    """Counts per key from ``(key, status, count)`` rows (a GROUP BY of the key and the
    status: one count per index run, cheaper for the database than a SUM(CASE ...) per
    status over every row)."""
    tallies: dict[Any, list[int]] = {}
    for key, status, count in rows:
        tally = tallies.setdefault(key, [0, 0, 0])
        if status in SEATED:
            tally[0] += count
        elif status == S.WAITLISTED:
            tally[1] += count
        elif status == S.INTERESTED:
            tally[2] += count
    return {key: Counts(*tally) for key, tally in tallies.items()}


def counts_for(event_ids) -> dict[int, Counts]:
    """Confirmed, waitlisted and interested counts for many events in one query."""
    event_ids = list(event_ids)
    if not event_ids:
        return {}
    rows = db.session.execute(
        sa.select(Registration.event_id, Registration.status, sa.func.count())
        .where(Registration.event_id.in_(event_ids))
        .group_by(Registration.event_id, Registration.status)
    )
    return {event_id: Counts() for event_id in event_ids} | counts_by_status(rows)


def counts_of(event_id: int) -> Counts:
    return counts_for([event_id])[event_id]


def _kept(team=Team) -> sa.ColumnElement[bool]:
    return sa.and_(Registration.team_id.is_not(None), team.keep_together == sa.true())


def _in_order_before(created_at, id_, or_at: bool = False) -> sa.ColumnElement[bool]:
    """Registrations before ``(created_at, id_)`` in queue order (or at it, ``or_at``)."""
    return sa.or_(
        Registration.created_at < created_at,
        sa.and_(
            Registration.created_at == created_at,
            Registration.id <= id_ if or_at else Registration.id < id_,
        ),
    )


def waitlist_position(registration: Registration) -> int | None:
    """The person's place in line (1 = next), or None when not waiting. A team kept
    together counts as one place, for everyone ahead and for its own members."""
    if registration.status != S.WAITLISTED:
        return None
    ahead = _in_order_before(registration.created_at, registration.id)
    own_team = registration.team_id if registration.team_id is not None else -1
    alone, teams = db.session.execute(
        sa.select(
            sa.func.count(sa.case((sa.not_(_kept()), Registration.id))),
            sa.func.count(
                sa.distinct(
                    sa.case((sa.and_(_kept(), Registration.team_id != own_team), Registration.team_id))
                )
            ),
        )
        .select_from(Registration)
        .outerjoin(Team, Team.id == Registration.team_id)
        .where(
            Registration.event_id == registration.event_id,
            Registration.status == S.WAITLISTED,
            ahead,
        )
    ).one()
    return int(alone or 0) + int(teams or 0) + 1


def waiting_line(event_id: int, through: tuple[datetime, int] | None = None) -> list[queue.InLine]:
    """The event's waiting list in queue order, as ``queue`` reads it (one statement);
    with ``through`` (a ``(created_at, id)``) only as far as that place in the order."""
    # A Core statement on the session's connection, its rows made into tuples as they
    # come: the ORM's result layer cost more than the statement for thousands of rows.
    # What the session has pending is written first, as the ORM's autoflush would: a
    # status just changed under the lock (a cancellation) must count.
    db.session.flush()
    if through is None:
        rows = db.session.connection().execute(_WAITING_LINE, {"event_id": event_id})
    else:
        at, id_ = through
        rows = db.session.connection().execute(
            _WAITING_LINE_THROUGH, {"event_id": event_id, "at": at, "id": id_}
        )
    return list(map(queue.InLine._make, rows))


_WAITING_LINE = (
    sa.select(Registration.id, sa.case((Team.keep_together == sa.true(), Registration.team_id)))
    .outerjoin(Team, Team.id == Registration.team_id)
    .where(Registration.event_id == sa.bindparam("event_id"), Registration.status == S.WAITLISTED)
    .order_by(Registration.created_at, Registration.id)
)
_WAITING_LINE_THROUGH = _WAITING_LINE.where(
    _in_order_before(
        sa.bindparam("at", type_=Registration.created_at.type), sa.bindparam("id"), or_at=True
    )
)


def waitlist_positions(event_id: int, of: Iterable[Registration] | None = None) -> dict[int, int]:
    """Waiting registrations' places, in one query: {registration id: place}. Every one's,
    or with ``of`` at least those of ``of`` (a page of a list): the line is then read only
    as far as the last of them waiting, since a place depends only on who is ahead (a
    team kept together is placed at its first member, who is ahead of the others)."""
    if of is None:
        return queue.places(queue.units(waiting_line(event_id)))
    waiting = [(r.created_at, r.id) for r in of if r.status == S.WAITLISTED]
    if not waiting:
        return {}
    return queue.places(queue.units(waiting_line(event_id, through=max(waiting))))


@dataclass(frozen=True)
class TeamFacts:
    """A team as its members and its contact see it."""

    id: int
    keep_together: bool
    contact_name: str
    manage_token: str
    #: Members with a seat, waiting, interested (active members are their sum).
    seated: int
    waiting: int
    interested: int
    #: The team's place in line when it waits kept together (else None).
    position: int | None

    @property
    def size(self) -> int:
        return self.seated + self.waiting + self.interested


def team_facts(team_id: int) -> TeamFacts | None:
    """Size, statuses and place in line of one team (two statements)."""
    team = db.session.get(Team, team_id)
    if team is None:
        return None
    rows = db.session.execute(
        sa.select(Registration.team_id, Registration.status, sa.func.count())
        .where(Registration.team_id == team_id)
        .group_by(Registration.team_id, Registration.status)
    )
    counts = counts_by_status(rows).get(team_id, Counts())
    seated, waiting, interested = counts.confirmed, counts.waitlisted, counts.interested
    position = None
    if team.keep_together and waiting:
        first = db.session.scalar(
            sa.select(Registration)
            .where(Registration.team_id == team_id, Registration.status == S.WAITLISTED)
            .order_by(Registration.created_at, Registration.id)
            .limit(1)
        )
        position = waitlist_position(first)
    return TeamFacts(
        team.id,
        team.keep_together,
        team.contact_name,
        team.manage_token,
        int(seated or 0),
        int(waiting or 0),
        int(interested or 0),
        position,
    )


def team_members(team_id: int) -> list[Registration]:
    """A team's members in their order, cancelled ones included (they show as such)."""
    return list(
        db.session.scalars(
            sa.select(Registration)
            .where(Registration.team_id == team_id)
            .order_by(Registration.created_at, Registration.id)
        )
    )


@dataclass(frozen=True)
class EventTeam:
    """A team as staff lists show it: numbered within its event, in sign-up order."""

    id: int
    number: int
    contact_name: str
    keep_together: bool
    #: Members not cancelled.
    size: int


def event_teams(event_id: int) -> dict[int, EventTeam]:
    """Every team of an event, numbered 1, 2, … in sign-up order (one statement)."""
    active = sa.func.count(sa.case((Registration.status != S.CANCELLED, Registration.id)))
    rows = db.session.execute(
        sa.select(Team.id, Team.contact_name, Team.keep_together, active)
        .outerjoin(Registration, Registration.team_id == Team.id)
        .where(Team.event_id == event_id)
        .group_by(Team.id, Team.contact_name, Team.keep_together, Team.created_at)
        .order_by(Team.created_at, Team.id)
    )
    return {
        team_id: EventTeam(team_id, number, name, bool(keep), int(size or 0))
        for number, (team_id, name, keep, size) in enumerate(rows, start=1)
    }


def team_counts_for(event_ids) -> dict[int, tuple[int, int]]:
    """{event id: (teams with someone registered, people in them)} in one GROUP BY."""
    event_ids = list(event_ids)
    if not event_ids:
        return {}
    rows = db.session.execute(
        sa.select(
            Registration.event_id,
            sa.func.count(sa.distinct(Registration.team_id)),
            sa.func.count(Registration.team_id),
        )
        .where(
            Registration.event_id.in_(event_ids),
            Registration.team_id.is_not(None),
            Registration.status != S.CANCELLED,
        )
        .group_by(Registration.event_id)
    )
    return {event_id: (int(teams), int(people)) for event_id, teams, people in rows}


def team_by_token(token: str) -> Team | None:
    """The team a team link names (None for an unknown or malformed token)."""
    if not token or len(token) > 64:
        return None
    return db.session.scalar(sa.select(Team).where(Team.manage_token == token))


def by_manage_token(token: str) -> Registration | None:
    """The registration a personal link names (None for an unknown or malformed token)."""
    if not token or len(token) > 64:
        return None
    return db.session.scalar(sa.select(Registration).where(Registration.manage_token == token))


# --- lists in team order, read a page at a time (the "pages" work) ---------------------


def in_team_order(
    *where: sa.ColumnElement[bool], limit: int | None = None, offset: int = 0
) -> tuple[Any, tuple]:
    """The registrations matching ``where`` in queue order, decided by the database: a
    team's members together at the place of its first member among the matching rows,
    everyone else at their own ``(created_at, id)`` place.

    Returns ``(row, order_by)``: ``row`` is ``Registration`` over the matching rows (select
    its columns or itself and join what you need), ``order_by`` the ordering to pass to
    ``order_by``. With ``limit`` (and ``offset``) only that page's rows are there: the
    page is chosen from the narrow keys (``_team_order_keys``) before any whole row is
    read. Without, a large list can be read as a stream: no Python sees every row first.
    """
    keys = _team_order_keys(where)
    if limit is not None:
        keys = (
            sa.select(*keys.c)
            .order_by(keys.c.unit_at, keys.c.unit_id, keys.c.created_at, keys.c.id)
            .limit(limit)
            .offset(offset)
            .subquery("team_order_page")
        )
    keyed = (
        sa.select(Registration, keys.c.unit_at, keys.c.unit_id)
        .join(keys, keys.c.id == Registration.id)
        .subquery("in_team_order")
    )
    row = aliased(Registration, keyed)
    return row, (keyed.c.unit_at, keyed.c.unit_id, row.created_at, row.id)


def _team_order_keys(where: Iterable[sa.ColumnElement[bool]]) -> sa.Subquery:
    """Each matching registration's ``id`` and ``created_at`` and its unit's place,
    ``(unit_at, unit_id)``: its own ``(created_at, id)``, or for a team's member the first
    matching member's. Grouped, not windowed, and narrow (the columns are in
    ``ix_registration_event_status_order_team``): for a page of an event of 5,000
    registrations, ``min() OVER (PARTITION BY team)`` and ``first_value()`` over whole rows
    took about 55 ms on SQLite and 14 s on MariaDB, this about 13 ms and 20 ms."""
    matching = (
        sa.select(Registration.id, Registration.team_id, Registration.created_at)
        .where(*where)
        .cte("matching")
    )
    first_at = (
        sa.select(matching.c.team_id, sa.func.min(matching.c.created_at).label("first_at"))
        .where(matching.c.team_id.is_not(None))
        .group_by(matching.c.team_id)
        .subquery("team_first_at")
    )
    # The first member is the lowest id among those who came at the first moment.
    first = (
        sa.select(matching.c.team_id, first_at.c.first_at, sa.func.min(matching.c.id).label("first_id"))
        .join(
            first_at,
            sa.and_(
                first_at.c.team_id == matching.c.team_id,
                first_at.c.first_at == matching.c.created_at,
            ),
        )
        .group_by(matching.c.team_id, first_at.c.first_at)
        .subquery("team_first")
    )
    return (
        sa.select(
            matching.c.id,
            matching.c.created_at,
            sa.func.coalesce(first.c.first_at, matching.c.created_at).label("unit_at"),
            sa.func.coalesce(first.c.first_id, matching.c.id).label("unit_id"),
        )
        .outerjoin(first, first.c.team_id == matching.c.team_id)
        .subquery("team_order")
    )
