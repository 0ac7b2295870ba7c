"""Calendar files (.ics) for registrations, built with the icalendar package.

The UID is stable per registration so an update or cancellation replaces the
entry a calendar already holds; SEQUENCE follows the event's ``ics_sequence``.
The secret manage link is never put in the file (calendars are often shared).
"""

from __future__ import annotations

from flask import current_app
from icalendar import Calendar, Event as VEvent, vText

from . import clock
from .models import Event, Registration


def uid_for(registration: Registration, session_index: int) -> str:
    host = current_app.config["BASE_URL"].split("://")[-1].split("/")[0].split(":")[0]
    return f"kvarn-registration-{registration.id}-session-{session_index}@{host}"


def calendar_bytes(registration: Registration, method: str = "REQUEST") -> bytes:
    """A calendar with one VEVENT per session. ``method`` is REQUEST or CANCEL."""
    event: Event = registration.event
    cal = Calendar()
    cal.add("prodid", "-//Kvarn//Registration//SV")
    cal.add("version", "2.0")
    cal.add("method", method)
    organiser_email = event.contact_email or current_app.config["MAIL_DEFAULT_SENDER"]
    for index, session in enumerate(event.sessions, start=1):
        vevent = VEvent()
        vevent.add("uid", uid_for(registration, index))
        vevent.add("sequence", event.ics_sequence)
        vevent.add("dtstamp", clock.now())
        vevent.add("dtstart", session.starts_at)
        vevent.add("dtend", session.ends_at)
        title = event.title if len(event.sessions) == 1 else f"{event.title} ({index}/{len(event.sessions)})"
        vevent.add("summary", title)
        if session.venue:
            vevent["location"] = vText(session.venue)
        if event.description:
            vevent.add("description", event.description)
        vevent.add("organizer", f"mailto:{_address_only(organiser_email)}")
        vevent.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
        cal.add_component(vevent)
    return cal.to_ical()


def _address_only(value: str) -> str:
    if "<" in value and value.endswith(">"):
        return value.rsplit("<", 1)[1][:-1]
    return value
