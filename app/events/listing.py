"""Which events are shown where: the public listing, a public event page, the staff list.

The one source of "listed" (``LISTED``): published events that take part in the
public's view. Drafts are the organiser's own; cancelled events are not listed but
their page stays reachable so that a link in a mail still explains what happened.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..core import clock
from ..core.errors import NotFound
from ..core.extensions import db
from ..models import Event, EventKind, EventSession, EventStatus

#: Statuses of events in the public listing.
LISTED = (EventStatus.OPEN, EventStatus.GAUGING, EventStatus.CLOSED)
#: Which part of the staff list to show.
STAFF_VIEWS = ("current", "past", "all")


def _last_end():
    return (
        sa.select(EventSession.event_id, sa.func.max(EventSession.ends_at).label("ends_at"))
        .group_by(EventSession.event_id)
        .subquery()
    )


def upcoming_public(kind: EventKind | None = None) -> list[Event]:
    """Listed events that have not ended, soonest first (sessions loaded)."""
    last_end = _last_end()
    query = (
        sa.select(Event)
        .join(last_end, last_end.c.event_id == Event.id)
        .where(Event.status.in_(LISTED), last_end.c.ends_at > clock.now())
        .options(sa.orm.selectinload(Event.sessions))
    )
    if kind is not None:
        query = query.where(Event.kind == kind)
    return sorted(db.session.scalars(query), key=lambda e: e.starts_at)


def public_event(event_id: int) -> Event:
    """An event anyone may see (everything but a draft); ``NotFound`` otherwise."""
    event = db.session.get(Event, event_id)
    if event is None or not event.is_public:
        raise NotFound(_l("There is no such event."))
    return event


def any_event(event_id: int) -> Event:
    """An event for staff, drafts included; ``NotFound`` otherwise."""
    event = db.session.get(Event, event_id)
    if event is None:
        raise NotFound(_l("There is no such event."))
    return event


def staff_events(show: str) -> list[Event]:
    """The organisers' list: "current" (not cancelled, not over), "past" or "all"."""
    last_end = _last_end()
    query = (
        sa.select(Event)
        .outerjoin(last_end, last_end.c.event_id == Event.id)
        .options(sa.orm.selectinload(Event.sessions))
    )
    current = sa.and_(
        Event.status != EventStatus.CANCELLED,
        sa.or_(last_end.c.ends_at.is_(None), last_end.c.ends_at > clock.now()),
    )
    if show == "current":
        query = query.where(current)
    elif show == "past":
        query = query.where(sa.not_(current))
    found = list(db.session.scalars(query))
    far = clock.now().replace(year=9999)
    found.sort(key=lambda e: e.starts_at or far, reverse=(show == "past"))
    return found
