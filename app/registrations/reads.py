"""Read-only views of registrations for pages, reports and mail: waitlist places and
seat counts, counted in the database. Nothing here writes (that is ``seats``).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from ..core.extensions import db
from ..models import Registration, RegistrationStatus
from .statuses import SEATED

S = RegistrationStatus


@dataclass(frozen=True)
class Counts:
    confirmed: int = 0
    waitlisted: int = 0
    interested: int = 0


def count_columns() -> tuple:
    """SUM(CASE ...) columns counting seated, waitlisted and interested rows, in that order."""
    seated = [s.value for s in SEATED]
    return (
        sa.func.sum(sa.case((Registration.status.in_(seated), 1), else_=0)),
        sa.func.sum(sa.case((Registration.status == S.WAITLISTED, 1), else_=0)),
        sa.func.sum(sa.case((Registration.status == S.INTERESTED, 1), else_=0)),
    )


def counts_for(event_ids) -> dict[int, Counts]:
    """Confirmed, waitlisted and interested counts for many events in one query."""
    event_ids = list(event_ids)
    if not event_ids:
        return {}
    rows = db.session.execute(
        sa.select(Registration.event_id, *count_columns())
        .where(Registration.event_id.in_(event_ids))
        .group_by(Registration.event_id)
    )
    result = {event_id: Counts() for event_id in event_ids}
    for event_id, confirmed, waitlisted, interested in rows:
        result[event_id] = Counts(int(confirmed or 0), int(waitlisted or 0), int(interested or 0))
    return result


def counts_of(event_id: int) -> Counts:
    return counts_for([event_id])[event_id]


def waitlist_position(registration: Registration) -> int | None:
    """The person's place in the queue (1 = next), or None when not waiting."""
    if registration.status != S.WAITLISTED:
        return None
    ahead = db.session.scalar(
        sa.select(sa.func.count(Registration.id)).where(
            Registration.event_id == registration.event_id,
            Registration.status == S.WAITLISTED,
            sa.or_(
                Registration.created_at < registration.created_at,
                sa.and_(
                    Registration.created_at == registration.created_at,
                    Registration.id < registration.id,
                ),
            ),
        )
    )
    return ahead + 1


def waitlist_positions(event_id: int) -> dict[int, int]:
    """Every waiting registration's place, in one query: {registration id: place}."""
    waiting = db.session.scalars(
        sa.select(Registration.id)
        .where(Registration.event_id == event_id, Registration.status == S.WAITLISTED)
        .order_by(Registration.created_at, Registration.id)
    ).all()
    return {registration_id: n for n, registration_id in enumerate(waiting, start=1)}


def by_manage_token(token: str) -> Registration | None:
    """The registration a personal link names (None for an unknown or malformed token)."""
    if not token or len(token) > 64:
        return None
    return db.session.scalar(sa.select(Registration).where(Registration.manage_token == token))
