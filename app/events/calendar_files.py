""""Add to calendar" downloads: .ics files for the event page and the personal page.

Both are METHOD:PUBLISH files holding every session (a file to import, not an
invitation; see docs/calendar-files.md). Neither carries the secret manage link
(``/r/<token>``): calendars are shared, forwarded and synced to phones.

- ``event_calendar_bytes(event)``: the public file. No attendee and nothing about
  anyone registered; UIDs per event and session, so a second download replaces the
  first import instead of doubling it.
- ``registration_calendar_bytes(registration)``: the personal page's file. The same
  UIDs as the entries the person's mails carry (``notices.calendar_uid``), so it
  matches, and is later updated or cancelled by, what the mails say; no attendee.

- ``subscription_calendar_bytes(events, …)``: the calendar subscription (webcal) of
  the listing's upcoming events: one PUBLISH object holding every session of every
  event, with the UIDs of the event pages' files, so an event imported from its page
  and then seen in the subscription is one entry, not two.

SEQUENCE follows ``event.ics_sequence`` (raised on every time or venue change); a
cancelled event's file says STATUS:CANCELLED with one more, the rule of the mailed
cancellations (``notices.calendar_sequence``), and its SUMMARY begins "Inställt:"
(Outlook shows an imported or subscribed entry's STATUS nowhere). Times are UTC; the
public files name Europe/Stockholm as their zone (X-WR-TIMEZONE).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..core import clock
from ..core.errors import NotFound
from ..core.text import printable
from ..mail import calendar
from ..models import Event, EventSession, EventStatus, Registration, RegistrationStatus
from ..registrations import notices
from ..registrations.statuses import SEATED
from .statuses import phase_name

#: The zone the public files name (their times are UTC instants).
ZONE = clock.STOCKHOLM.key


def event_calendar_uid(event: Event, session: EventSession) -> str:
    """The UID of one session in the public file: never changes."""
    return f"kvarn-event-{event.id}-session-{session.id}@{notices.calendar_host()}"


def _summary(event: Event, index: int) -> str:
    summary = notices.calendar_summary(event, index)
    if event.status == EventStatus.CANCELLED:
        return f"{phase_name(EventStatus.CANCELLED)}: {summary}"
    return summary


def _entries(event: Event, uid, cancelled: bool) -> list[calendar.CalendarEntry]:
    method = "CANCEL" if cancelled else "PUBLISH"
    organiser = notices.calendar_organiser(event)
    return [
        calendar.CalendarEntry(
            uid=uid(session),
            sequence=notices.calendar_sequence(event, method),
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            summary=_summary(event, index),
            url=notices.event_url(event),
            organiser=organiser,
            location=notices.calendar_location(session),
            description=printable(event.description) or None,
            attendee=None,
            cancelled=cancelled,
        )
        for index, session in enumerate(event.sessions, start=1)
    ]


def _file(event: Event, uid, cancelled: bool) -> bytes:
    if not event.sessions:
        raise NotFound()
    entries = _entries(event, uid, cancelled)
    return calendar.calendar_bytes(entries, "PUBLISH", name=printable(event.title), timezone=ZONE)


def event_calendar_bytes(event: Event) -> bytes:
    """The public .ics of ``event``: METHOD:PUBLISH, one VEVENT per session, no attendee,
    no personal data. Raises ``NotFound`` for a draft or an event without sessions."""
    if not event.is_public:
        raise NotFound()
    cancelled = event.status == EventStatus.CANCELLED
    return _file(event, lambda session: event_calendar_uid(event, session), cancelled)


def registration_calendar_bytes(registration: Registration) -> bytes:
    """The personal page's .ics: METHOD:PUBLISH with the UIDs of the person's mailed
    entries, no attendee, no manage link. STATUS:CANCELLED once the registration or the
    event is cancelled. Raises ``NotFound`` while the person holds no seat (waiting
    list, interest): nothing of theirs belongs in a calendar yet."""
    event = registration.event
    cancelled = (
        registration.status == RegistrationStatus.CANCELLED
        or event.status == EventStatus.CANCELLED
    )
    if not cancelled and registration.status not in SEATED:
        raise NotFound()
    return _file(
        event, lambda session: notices.calendar_uid(registration, session), cancelled
    )


def subscription_calendar_bytes(
    events: list[Event], name: str, description: str, refresh: timedelta, stamp: datetime
) -> bytes:
    """The calendar subscription of ``events`` (public ones; a cancelled one is
    STATUS:CANCELLED): every session with the UID of its event page's file. ``stamp``
    (DTSTAMP) is when the content last changed, so unchanged content gives the same
    bytes. Drafts are refused (``NotFound``): nothing unpublished goes out."""
    entries: list[calendar.CalendarEntry] = []
    for event in events:
        if not event.is_public:
            raise NotFound()
        cancelled = event.status == EventStatus.CANCELLED
        entries += _entries(
            event, lambda session, event=event: event_calendar_uid(event, session), cancelled
        )
    return calendar.subscription_bytes(
        entries, name=name, description=description, timezone=ZONE, refresh=refresh, stamp=stamp
    )
