"""The listing as feeds: RSS 2.0 and Atom (feedgen) and a calendar to subscribe to.

Owns the rule "a feed shows what the listing shows": the events of a feed are the
listing's own (``listing.search`` with the same ``Filters``), soonest first, only
upcoming ones and at most ``FEED_LIMIT``. The calendar subscription adds the upcoming
*cancelled* events the same filters match, marked STATUS:CANCELLED, so that a calendar
that holds one is told (a news feed simply stops showing it; its page says "Inställt").

Everything here is read-only and deterministic: the same events give the same bytes
(the feed's "updated" and the calendar's DTSTAMP are the latest change of its events,
never "now"), so the pages can answer with an ETag and let caches keep them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from feedgen.feed import FeedGenerator
from flask import current_app, render_template
from flask_babel import format_date
from flask_babel import gettext as _

from ..core import clock
from ..core.extensions import db
from ..core.i18n import current_language, format_span
from ..core.text import printable
from ..models import Event, EventSession, EventStatus, Organisation
from ..registrations import notices
from . import calendar_files, listing
from .statuses import kind_label, phase_label

#: The most events one feed holds (the soonest); the listing itself pages on.
FEED_LIMIT = 100
#: How long a reader, a calendar or a cache may keep a feed before asking again.
REFRESH = timedelta(hours=1)


@dataclass(frozen=True)
class FeedLinks:
    """Where a feed lives and what it mirrors, as absolute URLs."""

    self_url: str
    listing_url: str


def upcoming(filters: listing.Filters) -> list[Event]:
    """The listing's upcoming events for ``filters``, in its order, at most FEED_LIMIT."""
    wanted = listing.Filters(
        q=filters.q,
        organisation_id=filters.organisation_id,
        kind=filters.kind,
        date_from=filters.date_from,
        date_to=filters.date_to,
        past=False,
    )
    found: list[Event] = []
    number = 1
    while len(found) < FEED_LIMIT:
        page = listing.search(wanted, number)
        found += page.events
        if number >= page.pages:
            break
        number += 1
    return found[:FEED_LIMIT]


def cancelled_upcoming(filters: listing.Filters) -> list[Event]:
    """Cancelled events that have not ended and that ``filters`` match as the listing
    matches its own (kind, organiser, sessions on the dates, every word), soonest first."""
    query = (
        sa.select(Event)
        .where(Event.status == EventStatus.CANCELLED, Event.span_end > clock.now())
        .options(sa.orm.selectinload(Event.sessions))
    )
    if filters.kind is not None:
        query = query.where(Event.kind == filters.kind)
    if filters.organisation_id is not None:
        query = query.where(Event.organising_organisation_id == filters.organisation_id)
    if filters.date_from or filters.date_to:
        sessions = sa.select(EventSession.event_id)
        if filters.date_from:
            sessions = sessions.where(
                EventSession.ends_at >= listing._local_midnight(filters.date_from)
            )
        if filters.date_to:
            sessions = sessions.where(
                EventSession.starts_at
                < listing._local_midnight(filters.date_to + timedelta(days=1))
            )
        query = query.where(Event.id.in_(sessions))
    found = list(db.session.scalars(query))
    words = filters.q.casefold().split()
    if words:
        found = [event for event in found if listing._matches(event, words)]
    found.sort(key=lambda e: e.starts_at)
    return found[:FEED_LIMIT]


def last_change(events: list[Event]) -> datetime:
    """When the content last changed: the latest ``updated_at`` of ``events``; for an
    empty feed, today's Stockholm midnight (so an empty feed too is stable all day)."""
    stamps = [event.updated_at for event in events if event.updated_at is not None]
    if stamps:
        return max(stamps).replace(microsecond=0)
    today = clock.local(clock.now()).date()
    return datetime.combine(today, time(0), tzinfo=clock.STOCKHOLM)


def describe(filters: listing.Filters) -> str:
    """The filters in words ("Kurs · Alingsås kommun · ”barn”"); empty when none."""
    parts = []
    if filters.kind is not None:
        parts.append(kind_label(filters.kind))
    if filters.organisation_id is not None:
        organisation = db.session.get(Organisation, filters.organisation_id)
        if organisation is not None:
            parts.append(organisation.name)
    if filters.q.strip():
        parts.append(f"”{' '.join(filters.q.split())}”")
    if filters.date_from:
        parts.append(_("from %(date)s", date=_day(filters.date_from)))
    if filters.date_to:
        parts.append(_("until %(date)s", date=_day(filters.date_to)))
    return " · ".join(parts)


def _day(day: date) -> str:
    return format_date(day, "d MMMM y")


def title(filters: listing.Filters) -> str:
    """The feed's (and subscribed calendar's) name: the site, and the filters if any."""
    site = current_app.config["SITE_NAME"]
    described = describe(filters)
    name = f"{site}: {_('Upcoming events')}"
    return f"{name} ({described})" if described else name


def description(filters: listing.Filters) -> str:
    described = describe(filters)
    text = _(
        "Courses, lectures and meetings published in %(site)s that have not taken place "
        "yet, soonest first.",
        site=current_app.config["SITE_NAME"],
    )
    return f"{text} {described}." if described else text


def _summary(event: Event) -> str:
    """One plain line: kind, status, when and where the first session is."""
    parts = [kind_label(event.kind), phase_label(event)]
    if event.organising_organisation is not None:
        parts.append(event.organising_organisation.name)
    first = event.sessions[0] if event.sessions else None
    line = " · ".join(parts)
    if first is not None:
        where = first.venue or _("Venue to be decided")
        line += f". {format_span(first.starts_at, first.ends_at)}, {where}"
        if len(event.sessions) > 1:
            line += " " + _("(first of %(count)d sessions)", count=len(event.sessions))
    return printable(line)


def _generator(filters: listing.Filters, links: FeedLinks, events: list[Event]) -> FeedGenerator:
    feed = FeedGenerator()
    feed.id(links.self_url)
    # XML refuses control characters: every text goes through ``printable`` (rows
    # stored before the input guard may hold some).
    feed.title(printable(title(filters)))
    feed.description(printable(description(filters)))
    feed.subtitle(printable(description(filters)))
    feed.author(name=current_app.config["SITE_NAME"])
    # feedgen gives RSS's one <link> the last link set: the listing, after "self".
    feed.link(href=links.self_url, rel="self")
    feed.link(href=links.listing_url, rel="alternate")
    feed.language(current_language())
    feed.generator("Kvarn")
    feed.ttl(int(REFRESH.total_seconds() // 60))
    feed.updated(last_change(events))
    for event in events:
        url = notices.event_url(event)
        entry = feed.add_entry(order="append")
        entry.id(url)
        entry.guid(url, permalink=True)
        entry.title(printable(event.title))
        entry.link(href=url, rel="alternate")
        entry.summary(_summary(event))
        html = render_template("public/feed_entry.html", event=event, url=url)
        entry.content(printable(html), type="html")
        entry.category(term=event.kind.value, label=kind_label(event.kind))
        entry.published(event.created_at.replace(microsecond=0))
        entry.updated(event.updated_at.replace(microsecond=0))
    return feed


def rss_bytes(filters: listing.Filters, links: FeedLinks) -> bytes:
    """The RSS 2.0 feed of the listing's upcoming events for ``filters``."""
    return _generator(filters, links, upcoming(filters)).rss_str(pretty=False)


def atom_bytes(filters: listing.Filters, links: FeedLinks) -> bytes:
    """The Atom feed of the listing's upcoming events for ``filters``."""
    return _generator(filters, links, upcoming(filters)).atom_str(pretty=False)


def calendar_bytes(filters: listing.Filters) -> bytes:
    """The calendar subscription for ``filters``: the listing's upcoming events, and the
    cancelled ones the filters match (STATUS:CANCELLED), with the event pages' UIDs."""
    events = upcoming(filters)
    cancelled = cancelled_upcoming(filters)
    everything = sorted(events + cancelled, key=lambda e: (e.starts_at, e.id))
    return calendar_files.subscription_calendar_bytes(
        everything,
        name=printable(title(filters)),
        description=printable(description(filters)),
        refresh=REFRESH,
        stamp=last_change(everything),
    )
