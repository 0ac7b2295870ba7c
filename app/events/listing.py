"""Which events are shown where: the public listing, a public event page, the staff list.

The one source of "listed" (``LISTED``): published events that take part in the
public's view. Drafts are the organiser's own; cancelled events are not listed but
their page stays reachable so that a link in a mail still explains what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..core import clock
from ..core.errors import NotFound
from ..core.extensions import db
from ..core.search import contains
from ..models import Event, EventKind, EventSession, EventStatus

#: Statuses of events in the public listing.
LISTED = (EventStatus.OPEN, EventStatus.GAUGING, EventStatus.CLOSED)
#: Statuses of events in the public archive of past events.
ARCHIVED = (EventStatus.OPEN, EventStatus.CLOSED, EventStatus.FINISHED, EventStatus.CANCELLED)
PER_PAGE = 20
#: Which part of the staff list to show.
STAFF_VIEWS = ("current", "past", "all")


@dataclass(frozen=True)
class Filters:
    """What a visitor asks the listing for (all optional); ``past`` is the archive."""

    q: str = ""
    organisation_id: int | None = None
    kind: EventKind | None = None
    date_from: date | None = None
    date_to: date | None = None
    past: bool = False


@dataclass(frozen=True)
class Page:
    events: list[Event]
    number: int
    pages: int
    total: int


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=clock.STOCKHOLM)


def _matches(event: Event, words: list[str]) -> bool:
    """Every word appears in the title, description, audience or a venue (any case;
    in Python, since SQLite folds only ASCII letters and Swedish has å, ä and ö)."""
    haystack = " ".join(
        [event.title, event.description or "", event.audience or ""]
        + [f"{s.venue or ''} {s.address or ''}" for s in event.sessions]
    ).casefold()
    return all(word in haystack for word in words)


def _word_found(word: str) -> sa.ColumnElement[bool]:
    """``word`` in the title, description, audience or a session's venue or address."""
    in_sessions = sa.select(EventSession.event_id).where(
        sa.or_(contains(EventSession.venue, word), contains(EventSession.address, word))
    )
    return sa.or_(
        contains(Event.title, word),
        contains(Event.description, word),
        contains(Event.audience, word),
        Event.id.in_(in_sessions),
    )


def search_conditions(filters: Filters, now: datetime) -> list[sa.ColumnElement[bool]]:
    """What ``filters`` asks of an event, as SQL over ``Event`` (its stored span,
    ``events.spans``: an event without sessions is neither upcoming nor past)."""
    if filters.past:
        where = [Event.status.in_(ARCHIVED), Event.span_end <= now]
    else:
        where = [Event.status.in_(LISTED), Event.span_end > now]
    if filters.kind is not None:
        where.append(Event.kind == filters.kind)
    if filters.organisation_id is not None:
        where.append(Event.organising_organisation_id == filters.organisation_id)
    if filters.date_from or filters.date_to:
        sessions = sa.select(EventSession.event_id)
        if filters.date_from:
            sessions = sessions.where(EventSession.ends_at >= _local_midnight(filters.date_from))
        if filters.date_to:
            sessions = sessions.where(
                EventSession.starts_at < _local_midnight(filters.date_to + timedelta(days=1))
            )
        where.append(Event.id.in_(sessions))
    where += [_word_found(word) for word in filters.q.split()]
    return where


def search(filters: Filters, page: int = 1) -> Page:
    """Public events for the listing or the archive, soonest (or latest past) first.

    Every filter and every search word (any case, in the title, description, audience or
    a venue) is decided by the database, which also counts and cuts out the page: three
    statements (count, page, its sessions) however many events there are.
    """
    where = search_conditions(filters, clock.now())
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Event).where(*where))
    pages = max(1, -(-total // PER_PAGE))
    if page > pages:
        raise NotFound()
    # Upcoming: soonest first; the archive: the latest to end first, read backwards along
    # the span's index (a page costs the same however long the archive grows).
    order = (Event.span_end.desc(), Event.id.desc()) if filters.past else (Event.span_start, Event.id)
    # The page's ids first, from the span's index alone (no table row read for the
    # events before or after the page), then those rows.
    ids = (
        sa.select(Event.id)
        .where(*where)
        .order_by(*order)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
        .subquery()
    )
    events = db.session.scalars(
        sa.select(Event)
        .join(ids, ids.c.id == Event.id)
        .order_by(*order)
        .options(
            sa.orm.selectinload(Event.sessions), sa.orm.joinedload(Event.organising_organisation)
        )
    )
    return Page(list(events), page, pages, total)


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
    query = sa.select(Event).options(sa.orm.selectinload(Event.sessions))
    current = sa.and_(
        Event.status != EventStatus.CANCELLED,
        sa.or_(Event.span_end.is_(None), Event.span_end > clock.now()),
    )
    if show == "current":
        query = query.where(current)
    elif show == "past":
        query = query.where(sa.not_(current))
    found = list(db.session.scalars(query))
    far = clock.now().replace(year=9999)
    found.sort(key=lambda e: e.starts_at or far, reverse=(show == "past"))
    return found
