"""Calendar files (.ics) for registrations, built with the icalendar package.

One VEVENT per session. Its UID is stable per registration and session, so an
update (METHOD:REQUEST with a higher SEQUENCE) or a cancellation (METHOD:CANCEL)
replaces the entry a calendar already holds. SEQUENCE follows the event's
``ics_sequence``, which is raised whenever time or venue changes; a cancellation
uses one more than that, so it always outranks the last update.

The secret manage link is never put in the file (calendars are often shared
with a whole team); the public event page is.
"""

from __future__ import annotations

from email.utils import parseaddr

from flask import current_app
from icalendar import Calendar, vCalAddress, vText
from icalendar import Event as VEvent

from . import clock
from .models import Event, EventSession, Registration

METHODS = ("REQUEST", "CANCEL")


def _host() -> str:
    return current_app.config["BASE_URL"].split("://")[-1].split("/")[0].split(":")[0]


def uid_for(registration: Registration, session: EventSession) -> str:
    """The UID of one session in one person's calendar: never changes."""
    return f"kvarn-registration-{registration.id}-session-{session.id}@{_host()}"


def sequence_for(event: Event, method: str) -> int:
    return event.ics_sequence + 1 if method == "CANCEL" else event.ics_sequence


def organiser_address(event: Event) -> str:
    if event.contact_email:
        return event.contact_email
    if event.organiser is not None:
        return event.organiser.email
    return parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]


def calendar_bytes(registration: Registration, method: str = "REQUEST") -> bytes:
    """A calendar with one VEVENT per session. ``method`` is REQUEST or CANCEL."""
    if method not in METHODS:
        raise ValueError(f"unknown calendar method {method!r}")
    event: Event = registration.event
    base_url = current_app.config["BASE_URL"].rstrip("/")
    cal = Calendar()
    cal.add("prodid", "-//Kvarn//Registration//SV")
    cal.add("version", "2.0")
    cal.add("method", method)
    organiser = vCalAddress(f"mailto:{organiser_address(event)}")
    organiser.params["cn"] = vText(current_app.config["SITE_NAME"])
    count = len(event.sessions)
    stamp = clock.now()
    for index, session in enumerate(event.sessions, start=1):
        vevent = VEvent()
        vevent.add("uid", uid_for(registration, session))
        vevent.add("sequence", sequence_for(event, method))
        vevent.add("dtstamp", stamp)
        vevent.add("dtstart", session.starts_at)
        vevent.add("dtend", session.ends_at)
        vevent.add("summary", event.title if count == 1 else f"{event.title} ({index}/{count})")
        if session.venue:
            vevent.add("location", session.venue)
        if event.description:
            vevent.add("description", event.description)
        vevent.add("url", f"{base_url}/events/{event.id}")
        vevent.add("organizer", organiser)
        attendee = vCalAddress(f"mailto:{registration.email}")
        attendee.params["cn"] = vText(registration.name)
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["partstat"] = vText("ACCEPTED")
        attendee.params["rsvp"] = vText("FALSE")
        vevent.add("attendee", attendee)
        vevent.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
        vevent.add("transp", "OPAQUE")
        cal.add_component(vevent)
    return cal.to_ical()
