"""Calendar files (.ics), built with the icalendar package from plain entries.

A caller describes each entry (``CalendarEntry``: UID, SEQUENCE, times, place, who);
this module only writes them as one iCalendar object with a METHOD. UIDs must stay
stable for an update (METHOD:REQUEST with a higher SEQUENCE) or a cancellation
(METHOD:CANCEL) to replace the entry a calendar already holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from icalendar import Calendar, vCalAddress, vText
from icalendar import Event as VEvent

from ..core import clock

METHODS = ("REQUEST", "CANCEL", "PUBLISH")


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


def calendar_bytes(entries: list[CalendarEntry], method: str = "REQUEST") -> bytes:
    """One iCalendar object holding ``entries``, with ``method`` (REQUEST, CANCEL, PUBLISH)."""
    if method not in METHODS:
        raise ValueError(f"unknown calendar method {method!r}")
    cal = Calendar()
    cal.add("prodid", "-//Kvarn//Registration//SV")
    cal.add("version", "2.0")
    cal.add("method", method)
    stamp = clock.now()
    for entry in entries:
        cal.add_component(_vevent(entry, stamp))
    return cal.to_ical()


def _vevent(entry: CalendarEntry, stamp: datetime) -> VEvent:
    vevent = VEvent()
    vevent.add("uid", entry.uid)
    vevent.add("sequence", entry.sequence)
    vevent.add("dtstamp", stamp)
    vevent.add("dtstart", entry.starts_at)
    vevent.add("dtend", entry.ends_at)
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


def attachment(data: bytes, method: str) -> dict:
    """The outbox attachment for a calendar file with ``method``."""
    return {
        "filename": "cancel.ics" if method == "CANCEL" else "invite.ics",
        "content_type": f"text/calendar; method={method}; charset=utf-8",
        "data": data.decode("utf-8"),
    }
