"""The listing's feeds: RSS 2.0 and Atom (read back with feedparser), the calendar
subscription and the event pages' calendar files (read back with icalendar), and the
embeddable list, each compared with the listing's own events for the same filters.

- A feed holds exactly the events the listing shows for the same query string, in the
  listing's order (upcoming only, at most ``FEED_LIMIT``): drafts, past and cancelled
  events never; the calendar subscription adds the upcoming cancelled events the
  filters match, STATUS:CANCELLED, and uses the UIDs of the event pages' files.
- Feeds are cacheable: the same content gives the same bytes and ETag, an
  ``If-None-Match`` gets 304, a change gives a new ETag.
- Every listing page links its feeds (``<link rel="alternate">`` and a visible
  "Subscribe" section) with its own filters.
- Only the embeddable page may be framed, and only by the configured origins.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import feedparser
import pytest
from icalendar import Calendar

from app import create_app
from app.core import clock, security
from app.core.database import write_transaction
from app.core.extensions import db
from app.events import feeds
from app.models import Event, EventKind, EventStatus
from app.registrations import seats
from app.registrations.locking import lock_event
from tests import factories as f
from tests.plugins.databases import base_config

HOST = "kvarn.test"
UID = re.compile(rf"^kvarn-event-(\d+)-session-(\d+)@{re.escape(HOST)}$")


# --- a world of events -------------------------------------------------------------


def today_plus(days: int) -> str:
    return (clock.local(clock.now()) + timedelta(days=days)).date().isoformat()


def build_events() -> dict:
    """Events of two organisers, every kind, on three dates, with the cases a feed
    must leave out (a draft, a past event) and one the calendar must mark (cancelled)."""
    alingsas, lerum = f.organisation("Alingsås kommun"), f.organisation("Lerums kommun")
    made = {
        "course_a": f.event(
            title="Föräldraskap i praktiken",
            description="Om barn och samtal.",
            organising_organisation_id=alingsas.id,
            days_ahead=10,
            sessions=3,
        ),
        "lecture_a": f.event(
            title="Skärmtid och sömn",
            kind=EventKind.LECTURE,
            status=EventStatus.GAUGING,
            interest_threshold=5,
            organising_organisation_id=alingsas.id,
            days_ahead=20,
        ),
        "course_b": f.event(
            title="Samtal med barn",
            description="Metoder för skolsköterskor.",
            organising_organisation_id=lerum.id,
            days_ahead=40,
        ),
        "meeting_b": f.event(
            title="Nätverksträff",
            kind=EventKind.MEETING,
            status=EventStatus.CLOSED,
            organising_organisation_id=lerum.id,
            days_ahead=5,
        ),
        "draft": f.event(title="Utkast om barn", status=EventStatus.DRAFT, days_ahead=12),
        "past": f.event(title="Förra månadens kurs om barn", days_ahead=-30),
        "cancelled": f.event(
            title="Inställd kurs om barn",
            organising_organisation_id=alingsas.id,
            days_ahead=15,
            sessions=2,
        ),
    }
    seats.cancel_event(made["cancelled"].id, None, "Kursledaren är sjuk.")
    return {
        "orgs": {"alingsas": alingsas.id, "lerum": lerum.id},
        "ids": {name: event.id for name, event in made.items()},
    }


def filter_cases(world: dict) -> list[dict[str, str]]:
    orgs = world["orgs"]
    return [
        {},
        {"kind": "course"},
        {"kind": "lecture"},
        {"organisation": str(orgs["alingsas"])},
        {"organisation": str(orgs["lerum"]), "kind": "course"},
        {"q": "barn"},
        {"q": "SAMTAL barn"},
        {"date_from": today_plus(15), "date_to": today_plus(30)},
        {"date_from": today_plus(8)},
        {"kind": "not-a-kind"},  # an unknown kind is no filter, as in the listing
        {"kind": "conference"},  # nothing matches
    ]


def query(args: dict[str, str], **more: str) -> str:
    return urlencode({**args, "lang": "en", **more})


# --- reading the pages back ------------------------------------------------------------


def listed_ids(client, args: dict[str, str], path: str = "/events") -> list[int]:
    """The event ids the listing (or the embeddable list) shows, in order, every page."""
    ids, page = [], 1
    while True:
        response = client.get(f"{path}?{query(args, page=str(page))}")
        assert response.status_code == 200, (path, args, response.status_code)
        html = response.get_data(as_text=True)
        ids += [int(n) for n in re.findall(r'<h2><a href="/events/(\d+)"', html)]
        if 'rel="next"' not in html:
            return ids
        page += 1


def event_id_of(link: str) -> int:
    match = re.fullmatch(rf"http://{re.escape(HOST)}/events/(\d+)", link)
    assert match, link
    return int(match.group(1))


def parsed_feed(client, path: str, args: dict[str, str], version: str):
    response = client.get(f"{path}?{query(args)}")
    assert response.status_code == 200, (path, args)
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == version
    return response, parsed


def parsed_calendar(data: bytes) -> Calendar:
    [cal] = Calendar.from_ical(data.decode("utf-8"), multiple=True)
    return cal


def check_utc(cal: Calendar, raw: str) -> None:
    """Times are UTC instants (…Z), never floating, never a TZID."""
    assert "TZID" not in raw and not cal.walk("VTIMEZONE")
    for vevent in cal.walk("VEVENT"):
        for name in ("DTSTART", "DTEND", "DTSTAMP"):
            assert vevent.decoded(name).utcoffset() == timedelta(0), name


def page_uids(client, event_id: int) -> list[str]:
    """The UIDs of the event page's own calendar file (``public.event_calendar``)."""
    response = client.get(f"/events/{event_id}/calendar.ics?lang=en")
    assert response.status_code == 200
    cal = parsed_calendar(response.data)
    check_utc(cal, response.get_data(as_text=True))
    assert str(cal["X-WR-TIMEZONE"]) == "Europe/Stockholm"
    return [str(v["UID"]) for v in cal.walk("VEVENT")]


# --- the feeds hold the listing's events ------------------------------------------------


def test_every_feed_holds_the_listings_events_for_the_same_filters(db_app):
    world = build_events()
    ids = world["ids"]
    client = db_app.test_client()
    seen_any = set()
    for args in filter_cases(world):
        listed = listed_ids(client, args)
        seen_any.update(listed)
        assert ids["draft"] not in listed and ids["past"] not in listed
        assert ids["cancelled"] not in listed

        _response, rss = parsed_feed(client, "/events/feed.rss", args, "rss20")
        assert [event_id_of(e.link) for e in rss.entries] == listed, ("rss", args)
        assert [e.id for e in rss.entries] == [e.link for e in rss.entries]  # guid: the page

        _response, atom = parsed_feed(client, "/events/feed.atom", args, "atom10")
        assert [event_id_of(e.link) for e in atom.entries] == listed, ("atom", args)
        for entry in atom.entries:
            event = db.session.get(Event, event_id_of(entry.link))
            assert entry.title == event.title
            assert "Read more and sign up" in entry.content[0].value

        assert listed_ids(client, args, "/embed/events") == listed, ("embed", args)

        response = client.get(f"/events/calendar.ics?{query(args)}")
        assert response.status_code == 200
        assert response.mimetype == "text/calendar"
        cal = parsed_calendar(response.data)
        check_utc(cal, response.get_data(as_text=True))
        confirmed = [v for v in cal.walk("VEVENT") if str(v["STATUS"]) == "CONFIRMED"]
        cancelled = [v for v in cal.walk("VEVENT") if str(v["STATUS"]) == "CANCELLED"]
        assert len(confirmed) + len(cancelled) == len(cal.walk("VEVENT"))
        # Every session of every listed event, with its event page's UIDs.
        expected = sorted(uid for event_id in listed for uid in page_uids(client, event_id))
        assert sorted(str(v["UID"]) for v in confirmed) == expected, ("ics", args)
        # The cancelled event is there, marked, exactly when the filters match it.
        cancelled_ids = {int(UID.match(str(v["UID"])).group(1)) for v in cancelled}
        assert cancelled_ids <= {ids["cancelled"]}
        if cancelled:
            assert sorted(str(v["UID"]) for v in cancelled) == sorted(page_uids(client, ids["cancelled"]))
            assert all(str(v["SUMMARY"]).startswith("Cancelled: ") for v in cancelled)

    # The cases are not empty: every upcoming public event was in some feed.
    assert seen_any == {ids[n] for n in ("course_a", "lecture_a", "course_b", "meeting_b")}


def test_the_filters_pick_what_the_listing_picks(app):
    """The comparison above could pass with feeds that ignore the filters if the listing
    did too: spell out a few answers."""
    world = build_events()
    ids, orgs = world["ids"], world["orgs"]
    client = app.test_client()

    def rss_ids(args):
        return [event_id_of(e.link) for e in parsed_feed(client, "/events/feed.rss", args, "rss20")[1].entries]

    assert rss_ids({}) == [ids["meeting_b"], ids["course_a"], ids["lecture_a"], ids["course_b"]]
    assert rss_ids({"kind": "course"}) == [ids["course_a"], ids["course_b"]]
    assert rss_ids({"organisation": str(orgs["lerum"]), "kind": "course"}) == [ids["course_b"]]
    assert rss_ids({"q": "SAMTAL barn"}) == [ids["course_a"], ids["course_b"]]
    assert rss_ids({"date_from": today_plus(15), "date_to": today_plus(30)}) == [ids["lecture_a"]]
    assert rss_ids({"kind": "conference"}) == []

    def cancelled_in_calendar(args):
        cal = parsed_calendar(client.get(f"/events/calendar.ics?{query(args)}").data)
        return {str(v["UID"]) for v in cal.walk("VEVENT") if str(v["STATUS"]) == "CANCELLED"}

    assert len(cancelled_in_calendar({"q": "barn"})) == 2  # its two sessions
    assert cancelled_in_calendar({"q": "barn", "kind": "lecture"}) == set()
    assert cancelled_in_calendar({"organisation": str(orgs["lerum"])}) == set()
    assert cancelled_in_calendar({"date_from": today_plus(30)}) == set()
    assert len(cancelled_in_calendar({"date_to": today_plus(16)})) == 2


def test_a_feed_is_bounded_and_keeps_the_listings_order_across_its_pages(app, monkeypatch):
    start = clock.now()
    for n in range(25):  # more than one listing page (20)
        f.event(title=f"Kurs {n:02d}", days_ahead=30 - n)
    client = app.test_client()
    listed = listed_ids(client, {})
    assert len(listed) == 25
    monkeypatch.setattr(feeds, "FEED_LIMIT", 22)
    _response, rss = parsed_feed(client, "/events/feed.rss", {}, "rss20")
    assert [event_id_of(e.link) for e in rss.entries] == listed[:22]
    cal = parsed_calendar(client.get("/events/calendar.ics").data)
    assert len(cal.walk("VEVENT")) == 22
    assert all(v.decoded("DTSTART") > start for v in cal.walk("VEVENT"))  # upcoming only


def test_refused_filters_are_refused_by_the_feeds_as_by_the_listing(app):
    client = app.test_client()
    for args in (
        {"date_from": "2030-01-02", "date_to": "2030-01-01"},
        {"date_from": "not-a-date"},
        {"q": "x" * 101},
        {"date_from": "0001-01-01"},
    ):
        assert client.get(f"/events?{query(args)}").status_code == 400, args
        for path in ("/events/feed.rss", "/events/feed.atom", "/events/calendar.ics", "/embed/events"):
            response = client.get(f"{path}?{query(args)}")
            assert response.status_code == 400, (path, args)


# --- what the calendar subscription says ------------------------------------------


def change_venue(event_id: int, venue: str) -> None:
    """Move the first session, as an event edit does: a new SEQUENCE."""

    def work():
        event = lock_event(event_id)
        event.sessions[0].venue = venue
        event.ics_sequence += 1

    write_transaction(work)


def test_the_subscription_is_a_calendar_for_outlook_google_and_apple(db_app):
    org = f.organisation("Alingsås kommun")
    course = f.event(title="Föräldraskap & lek", sessions=2, organising_organisation_id=org.id)
    client = db_app.test_client()
    response = client.get(f"/events/calendar.ics?organisation={org.id}&lang=en")
    raw = response.get_data(as_text=True)
    cal = parsed_calendar(response.data)
    assert str(cal["METHOD"]) == "PUBLISH" and str(cal["VERSION"]) == "2.0"
    assert str(cal["X-WR-CALNAME"]) == "Kvarn: Upcoming events (Alingsås kommun)"
    assert str(cal["NAME"]) == str(cal["X-WR-CALNAME"])
    assert "X-WR-CALDESC" in cal
    assert str(cal["X-WR-TIMEZONE"]) == "Europe/Stockholm"
    assert cal.decoded("REFRESH-INTERVAL") == feeds.REFRESH
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in raw
    assert "X-PUBLISHED-TTL:PT1H" in raw
    check_utc(cal, raw)
    vevents = cal.walk("VEVENT")
    event = db.session.get(Event, course.id)
    assert [v.decoded("DTSTART") for v in vevents] == [
        s.starts_at.replace(microsecond=0) for s in event.sessions
    ]
    assert [str(v["SUMMARY"]) for v in vevents] == ["Föräldraskap & lek (1/2)", "Föräldraskap & lek (2/2)"]
    assert {str(v["URL"]) for v in vevents} == {f"http://{HOST}/events/{course.id}"}
    assert {int(v["SEQUENCE"]) for v in vevents} == {0}
    assert "ATTENDEE" not in raw and "/r/" not in raw
    uids = [str(v["UID"]) for v in vevents]
    assert uids == page_uids(client, course.id)

    # A venue change: the same UIDs, a higher SEQUENCE, in the feed and the page's file.
    change_venue(course.id, "Kulturhuset")
    cal = parsed_calendar(client.get(f"/events/calendar.ics?organisation={org.id}").data)
    assert [str(v["UID"]) for v in cal.walk("VEVENT")] == uids
    assert {int(v["SEQUENCE"]) for v in cal.walk("VEVENT")} == {1}
    assert str(cal.walk("VEVENT")[0]["LOCATION"]) == "Kulturhuset"

    # Cancelled: still there until it would have ended, marked, outranking the update.
    seats.cancel_event(course.id, None, "")
    db.session.expire_all()
    for path in (f"/events/calendar.ics?organisation={org.id}&lang=en", f"/events/{course.id}/calendar.ics?lang=en"):
        response = client.get(path)
        cal = parsed_calendar(response.data)
        check_utc(cal, response.get_data(as_text=True))
        assert [str(v["UID"]) for v in cal.walk("VEVENT")] == uids, path
        assert {str(v["STATUS"]) for v in cal.walk("VEVENT")} == {"CANCELLED"}, path
        assert {int(v["SEQUENCE"]) for v in cal.walk("VEVENT")} == {2}, path
        assert all(str(v["SUMMARY"]).startswith("Cancelled: Föräldraskap") for v in cal.walk("VEVENT"))
    swedish = parsed_calendar(client.get(f"/events/{course.id}/calendar.ics?lang=sv").data)
    assert str(swedish.walk("VEVENT")[0]["SUMMARY"]).startswith("Inställt: ")


def test_an_empty_subscription_is_still_a_calendar(app):
    response = app.test_client().get("/events/calendar.ics?kind=conference")
    assert response.status_code == 200
    cal = parsed_calendar(response.data)
    assert cal.walk("VEVENT") == []
    assert str(cal["METHOD"]) == "PUBLISH" and "X-WR-CALNAME" in cal


# --- caching -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/events/feed.rss", "/events/feed.atom", "/events/calendar.ics"])
def test_feeds_are_cacheable_and_change_when_the_events_do(app, path):
    f.event(title="Kurs ett")
    client = app.test_client()
    first = client.get(path)
    assert first.status_code == 200
    assert first.cache_control.public and first.cache_control.max_age > 0
    assert "Accept-Language" in first.headers["Vary"]
    etag = first.headers["ETag"]
    assert etag

    clock.travel(timedelta(minutes=3))  # later, nothing changed: the same bytes
    again = client.get(path)
    assert again.data == first.data and again.headers["ETag"] == etag
    unchanged = client.get(path, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.data == b""

    f.event(title="Kurs två")
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert b"Kurs tv" in changed.data


# --- the listing links its feeds -----------------------------------------------------


ALTERNATE = re.compile(r'<link rel="alternate" type="([^"]+)" href="([^"]+)"')


def feed_args(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url.replace("&amp;", "&")).query)


def test_every_listing_page_links_its_feeds_with_its_filters(app):
    org = f.organisation("Alingsås kommun")
    for n in range(22):  # two pages
        f.event(title=f"Kurs {n}", organising_organisation_id=org.id)
    client = app.test_client()
    for url in (
        "/events?lang=en",
        f"/events?lang=en&kind=course&organisation={org.id}&q=kurs",
        f"/events?lang=en&kind=course&organisation={org.id}&page=2",
        "/events/past?lang=en&kind=course",
    ):
        html = client.get(url).get_data(as_text=True)
        given = {k: v for k, v in parse_qs(urlsplit(url).query).items() if k not in ("page", "lang")}
        links = dict(ALTERNATE.findall(html))
        assert set(links) == {"application/rss+xml", "application/atom+xml", "text/calendar"}, url
        assert links["application/rss+xml"].startswith(f"http://{HOST}/events/feed.rss")
        assert links["application/atom+xml"].startswith(f"http://{HOST}/events/feed.atom")
        assert links["text/calendar"].startswith(f"http://{HOST}/events/calendar.ics")
        for link in links.values():
            args = feed_args(link)
            assert args.pop("lang") == ["en"]  # the feed in the page's language
            assert args == given, (url, link)
        # The visible "Subscribe" section: a link to it, webcal, the https address, the feeds.
        assert '<a href="#subscribe">Subscribe</a>' in html
        section = html.split('id="subscribe"', 1)[1]
        webcal = re.search(r'href="(webcal://[^"]+)"', section).group(1)
        assert webcal.replace("&amp;", "&") == "webcal://" + links["text/calendar"].replace("&amp;", "&").split("://", 1)[1]
        for link in links.values():
            assert f'href="{link}"' in section
        # The links answer.
        for link in links.values():
            path = link.replace("&amp;", "&").removeprefix(f"http://{HOST}")
            assert client.get(path).status_code == 200, path

    swedish = client.get("/events?lang=sv").get_data(as_text=True)
    assert "lang=sv" in dict(ALTERNATE.findall(swedish))["application/rss+xml"]

    refused = client.get("/events?lang=en&date_from=2030-01-02&date_to=2030-01-01")
    assert refused.status_code == 400
    assert not ALTERNATE.findall(refused.get_data(as_text=True))


def test_a_feed_is_in_the_language_asked_for(app):
    org = f.organisation("Alingsås kommun")
    f.event(title="Kurs", organising_organisation_id=org.id)
    client = app.test_client()
    english = parsed_feed(client, "/events/feed.atom", {"kind": "course"}, "atom10")[1]
    assert english.feed.title == "Kvarn: Upcoming events (Course)"
    assert english.entries[0].summary.startswith("Course · Open for registration · Alingsås kommun.")
    swedish = feedparser.parse(client.get("/events/feed.atom?kind=course&lang=sv").data)
    assert swedish.feed.language == "sv"
    assert swedish.entries[0].summary.startswith("Kurs · ")


# --- framing -------------------------------------------------------------------------

ALLOWED = "https://intranat.alingsas.example"


@pytest.fixture
def app_config():
    return {"EMBED_ALLOWED_ORIGINS": f"{ALLOWED}/, http://127.0.0.1:8081"}


def test_only_the_embeddable_page_may_be_framed_and_only_by_the_listed_origins(app):
    f.event(title="Kurs")
    client = app.test_client()
    embed = client.get("/embed/events?lang=en")
    assert embed.status_code == 200
    policy = embed.headers["Content-Security-Policy"]
    assert f"frame-ancestors {ALLOWED} http://127.0.0.1:8081" in policy
    assert policy.count("frame-ancestors") == 1
    assert "X-Frame-Options" not in embed.headers
    html = embed.get_data(as_text=True)
    assert '<base target="_top">' in html  # links open Kvarn in the top window
    assert "<form" not in html and "csrf" not in html.lower()
    assert "Set-Cookie" not in embed.headers
    for path in ("/events", "/events/feed.rss", "/events/calendar.ics"):
        response = client.get(path)
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path
        assert response.headers["X-Frame-Options"] == "DENY", path


def test_with_no_origins_listed_the_embeddable_page_is_framed_by_nobody(app):
    app.config["EMBED_ALLOWED_ORIGINS"] = []
    response = app.test_client().get("/embed/events")
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_origins_setting_is_read_strictly():
    assert security.embed_origins(None) == []
    assert security.embed_origins("") == []
    assert security.embed_origins("https://A.example.se/ http://127.0.0.1:8000,https://a.example.se") == [
        "https://a.example.se",
        "http://127.0.0.1:8000",
    ]
    assert security.embed_origins(["https://*.alingsas.se"]) == ["https://*.alingsas.se"]
    for wrong in ("*", "https://a.se/path", "a.se", "'self'", "https://a.se;script-src", "ftp://a.se", "https://"):
        with pytest.raises(ValueError):
            security.embed_origins(wrong)
    with pytest.raises(ValueError):
        security.embed_origins([42])


def test_a_wrong_origin_stops_the_app_at_start(tmp_root):
    with pytest.raises(ValueError, match="EMBED_ALLOWED_ORIGINS"):
        create_app({**base_config(f"sqlite:///{tmp_root / 'x.sqlite3'}"), "EMBED_ALLOWED_ORIGINS": "https://a.se/intranet"})


def test_the_stamp_is_the_latest_change_not_now(app):
    ev = f.event(title="Kurs")
    event = db.session.get(Event, ev.id)
    assert feeds.last_change([event]) == event.updated_at.replace(microsecond=0)
    empty = feeds.last_change([])
    assert empty.tzinfo is not None and empty <= datetime.now(UTC)
    assert empty == feeds.last_change([])  # the same all day


def test_control_characters_already_stored_never_break_a_feed(app):
    """Rows written before the input guard (or by hand) still make well-formed feeds."""
    org = f.organisation("Alingsås kommun")
    ev = f.event(title="Kurs", organising_organisation_id=org.id)

    def spoil():
        event = db.session.get(Event, ev.id)
        event.title = "Kurs\x0bom barn\x01"
        event.description = "Rad ett\x0bRad två\x1f"
        event.audience = "Alla\x07"
        event.sessions[0].venue = "Sal\x1b 1"
        event.organising_organisation.name = "Alingsås\x02 kommun"

    write_transaction(spoil)
    client = app.test_client()
    for path, version in (("/events/feed.rss", "rss20"), ("/events/feed.atom", "atom10")):
        _response, parsed = parsed_feed(client, path, {"organisation": str(org.id)}, version)
        assert [e.title for e in parsed.entries] == ["Kurs\nom barn"]
    response = client.get(f"/events/calendar.ics?organisation={org.id}")
    assert response.status_code == 200
    [vevent] = parsed_calendar(response.data).walk("VEVENT")
    assert "\x1b" not in str(vevent["LOCATION"])
