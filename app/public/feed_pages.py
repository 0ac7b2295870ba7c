"""The listing for other programs and other sites: RSS and Atom feeds, the calendar
subscription (webcal), and the embeddable list for an ``<iframe>``.

Every one reads the listing's own query string (``listing_filters.read_filters``), so
``/events/feed.rss?kind=course&organisation=3`` holds exactly the events that
``/events?kind=course&organisation=3`` lists (upcoming ones, at most
``feeds.FEED_LIMIT``). Feeds are public and cacheable: ``Cache-Control: public``,
an ETag of their bytes (a matching ``If-None-Match`` gets 304), ``Vary: Accept-Language``.

The embeddable page (``/embed/events``) is the only page other sites may frame, and only
the origins in ``EMBED_ALLOWED_ORIGINS`` (``core.security.embeddable``). It is read-only
and keeps no state: no form, no session, no CSRF token, because a third-party frame gets
no cookies in today's browsers. Its links open in the top window (``target="_top"``), so
signing up happens on Kvarn's own page, first-party, where cookies and CSRF work.
"""

from __future__ import annotations

from flask import Response, abort, current_app, render_template, request, url_for

from ..core.i18n import current_language
from ..core.params import page_arg
from ..core.security import embeddable
from ..core.urls import absolute_url
from ..events import feeds, listing
from ..registrations import reads
from .listing_filters import filter_args, read_filters
from .views import bp

#: Seconds a browser or a shared cache may keep a feed without asking again.
CACHE_SECONDS = 600


def _filters() -> listing.Filters:
    """The listing's filters from the query string; refused ones are a 400."""
    reading = read_filters(request.args)
    if reading.filters is None:
        abort(400)
    return reading.filters


def _links(endpoint: str) -> feeds.FeedLinks:
    args = filter_args(request.args)
    if request.args.get("lang") in current_app.config["LANGUAGES"]:
        args["lang"] = request.args["lang"]
    return feeds.FeedLinks(
        self_url=absolute_url(url_for(endpoint, **args)),
        listing_url=absolute_url(url_for("public.events", **filter_args(request.args))),
    )


def _cacheable(data: bytes, mimetype: str, filename: str | None = None) -> Response:
    response = Response(data, mimetype=mimetype)
    if filename:
        response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.cache_control.public = True
    response.cache_control.max_age = CACHE_SECONDS
    response.vary.add("Accept-Language")
    response.add_etag()
    return response.make_conditional(request)


@bp.app_template_global()
def feed_links(args: dict[str, str]) -> dict[str, str]:
    """The listing's feed and subscription links for the filters in ``args`` (a
    listing page's query string), in the page's language, as absolute URLs."""
    wanted = filter_args(args)
    wanted["lang"] = current_language()
    https = absolute_url(url_for("public.feed_calendar", **wanted))
    return {
        "rss": absolute_url(url_for("public.feed_rss", **wanted)),
        "atom": absolute_url(url_for("public.feed_atom", **wanted)),
        "calendar": https,
        "webcal": "webcal://" + https.split("://", 1)[1],
    }


@bp.get("/events/feed.rss")
def feed_rss():
    """RSS 2.0 of the listing's upcoming events, with the listing's filters."""
    data = feeds.rss_bytes(_filters(), _links("public.feed_rss"))
    return _cacheable(data, "application/rss+xml")


@bp.get("/events/feed.atom")
def feed_atom():
    """Atom of the listing's upcoming events, with the listing's filters."""
    data = feeds.atom_bytes(_filters(), _links("public.feed_atom"))
    return _cacheable(data, "application/atom+xml")


@bp.get("/events/calendar.ics")
def feed_calendar():
    """The calendar subscription (webcal): every session of the listing's upcoming
    events, and the upcoming cancelled ones the filters match, marked so."""
    data = feeds.calendar_bytes(_filters())
    return _cacheable(data, "text/calendar", "kvarn-events.ics")


@bp.get("/embed/events")
@embeddable
def embed_events():
    """The listing for an ``<iframe>`` on another site: its own small layout, the
    filters from the query string, links that open Kvarn in the top window."""
    reading = read_filters(request.args)
    status = 200
    if reading.filters is None:
        status = 400
        found = listing.Page([], 1, 1, 0)
    else:
        found = listing.search(reading.filters, page_arg())
    counts = reads.counts_for(e.id for e in found.events)
    args = filter_args(request.args)
    if request.args.get("lang") in current_app.config["LANGUAGES"]:
        args["lang"] = request.args["lang"]
    return render_template(
        "public/embed_events.html",
        form=reading.form,
        page=found,
        counts=counts,
        args=args,
        listing_url=url_for("public.events", **filter_args(request.args)),
    ), status
