"""Calendar files (.ics), built with the icalendar package from plain entries.

A caller describes each entry (``CalendarEntry``: UID, SEQUENCE, times, place, who);
this module only writes them. UIDs must stay stable for an update (METHOD:REQUEST with
a higher SEQUENCE) or a cancellation (METHOD:CANCEL) to replace the entry a calendar
already holds.

The structure follows docs/calendar-files.md:

- an invitation or a cancellation (REQUEST, CANCEL) is one iTIP object per UID, so a
  course of several sessions becomes several objects, one attachment each
  (``attachments``); ``calendar_bytes`` refuses REQUEST/CANCEL entries of different
  UIDs, because Outlook and Gmail read only the first VEVENT of such an object;
- a download to import (PUBLISH) may hold every session in one object;
- times are written in UTC (``…Z``): no VTIMEZONE is needed and every client shows
  them in the reader's own zone; a PUBLISH file may name its zone (X-WR-TIMEZONE,
  the zone Google and Apple give a calendar made from it);
- a subscription (``subscription_bytes``) is a PUBLISH object of many UIDs that a
  client fetches again and again (REFRESH-INTERVAL, X-PUBLISHED-TTL); it may be empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, vCalAddress, vDuration, vText
from icalendar import Event as VEvent

from ..core import clock

METHODS = ("REQUEST", "CANCEL", "PUBLISH")
#: Methods whose object is an iTIP scheduling message about one UID.
SCHEDULING_METHODS = ("REQUEST", "CANCEL")


@dataclass(frozen=True)
class Person:
    email: str
    name: str


@dataclass(frozen=True)
class CalendarEntry:
    uid: str
    sequence: int
    starts_at: datetime
    ends_at: datetime
    summary: str
    url: str
    organiser: Person
    location: str | None = None
    description: str | None = None
    attendee: Person | None = None
    cancelled: bool = False


def calendar_bytes(
    entries: list[CalendarEntry],
    method: str = "REQUEST",
    name: str | None = None,
    timezone: str | None = None,
) -> bytes:
    """One iCalendar object holding ``entries``, with ``method`` (REQUEST, CANCEL, PUBLISH).

    A REQUEST or CANCEL object is about one UID: entries of different UIDs are refused
    (send them as separate objects, ``attachments``). ``name`` titles a PUBLISH file
    (X-WR-CALNAME, the name Outlook and Apple give a calendar opened from it) and
    ``timezone`` (an IANA name) is its X-WR-TIMEZONE; the times stay in UTC.
    """
    if method not in METHODS:
        raise ValueError(f"unknown calendar method {method!r}")
    if not entries:
        raise ValueError("a calendar object needs at least one entry")
    if method in SCHEDULING_METHODS and len({entry.uid for entry in entries}) > 1:
        raise ValueError(f"a {method} object is about one UID; send one object per UID")
    cal = _calendar(method)
    if method == "PUBLISH":
        if name:
            cal.add("x-wr-calname", name)
        if timezone:
            cal.add("x-wr-timezone", timezone)
    stamp = _utc(clock.now())
    for entry in entries:
        cal.add_component(_vevent(entry, stamp))
    return cal.to_ical()


def subscription_bytes(
    entries: list[CalendarEntry],
    name: str,
    description: str,
    timezone: str,
    refresh: timedelta,
    stamp: datetime,
) -> bytes:
    """A calendar to subscribe to (webcal): METHOD:PUBLISH, every entry with its own UID,
    named (X-WR-CALNAME, NAME), described (X-WR-CALDESC, DESCRIPTION), with its zone
    (X-WR-TIMEZONE) and how often to fetch it again (REFRESH-INTERVAL of RFC 7986 and
    Outlook's X-PUBLISHED-TTL). ``stamp`` is every entry's DTSTAMP (when the content
    last changed), so the same content gives the same bytes (and ETag). May be empty:
    a subscription whose filters match nothing yet is still a calendar."""
    cal = _calendar("PUBLISH")
    cal.add("name", name)
    cal.add("x-wr-calname", name)
    cal.add("description", description)
    cal.add("x-wr-caldesc", description)
    cal.add("x-wr-timezone", timezone)
    cal.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vDuration(refresh))
    stamp = _utc(stamp)
    for entry in entries:
        cal.add_component(_vevent(entry, stamp))
    return cal.to_ical()


def _calendar(method: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", "-//Kvarn//Registration//SV")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    return cal


def _utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive time would be "floating" (each reader's own wall clock)."""
    if value.tzinfo is None:
        raise ValueError("calendar times must be timezone-aware")
    return value.astimezone(UTC)


def _vevent(entry: CalendarEntry, stamp: datetime) -> VEvent:
    vevent = VEvent()
    vevent.add("uid", entry.uid)
    vevent.add("sequence", entry.sequence)
    vevent.add("dtstamp", stamp)
    vevent.add("dtstart", _utc(entry.starts_at))
    vevent.add("dtend", _utc(entry.ends_at))
    vevent.add("summary", entry.summary)
    if entry.location:
        vevent.add("location", entry.location)
    if entry.description:
        vevent.add("description", entry.description)
    vevent.add("url", entry.url)
    organiser = vCalAddress(f"mailto:{entry.organiser.email}")
    organiser.params["cn"] = vText(entry.organiser.name)
    vevent.add("organizer", organiser)
    if entry.attendee is not None:
        attendee = vCalAddress(f"mailto:{entry.attendee.email}")
        attendee.params["cn"] = vText(entry.attendee.name)
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["partstat"] = vText("ACCEPTED")
        attendee.params["rsvp"] = vText("FALSE")
        vevent.add("attendee", attendee)
    vevent.add("status", "CANCELLED" if entry.cancelled else "CONFIRMED")
    vevent.add("transp", "OPAQUE")
    return vevent


def filename(method: str, index: int | None = None) -> str:
    """``invite.ics`` / ``cancel.ics``; numbered (``invite-2.ics``) when there are several."""
    stem = "cancel" if method == "CANCEL" else "invite"
    return f"{stem}.ics" if index is None else f"{stem}-{index}.ics"


def attachment(data: bytes, method: str, name: str | None = None) -> dict:
    """The outbox attachment for a calendar file with ``method`` (named ``name``, else
    ``invite.ics`` / ``cancel.ics``)."""
    return {
        "filename": name or filename(method),
        "content_type": f"text/calendar; method={method}; charset=utf-8",
        "data": data.decode("utf-8"),
    }


def attachments(entries: list[CalendarEntry], method: str) -> list[dict]:
    """The outbox attachments for ``entries``: one iCalendar object, one VEVENT, per UID,
    in the order given; a single one is ``invite.ics``, several ``invite-1.ics``, …"""
    by_uid: dict[str, list[CalendarEntry]] = {}
    for entry in entries:
        by_uid.setdefault(entry.uid, []).append(entry)
    groups = list(by_uid.values())
    if len(groups) == 1:
        return [attachment(calendar_bytes(groups[0], method), method)]
    return [
        attachment(calendar_bytes(group, method), method, filename(method, index))
        for index, group in enumerate(groups, start=1)
    ]
