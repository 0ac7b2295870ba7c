"""What each change tells whom, and with which data. Called inside the transaction of
the change (``seats``, ``reminders``, ``events``).

Each notice becomes one outbox message with a dedupe key that names the change,
so the same notice can never be queued twice. This module builds the template data
and the calendar entries from registrations and events; ``mail`` only renders,
stores and delivers what it is given.
"""

from __future__ import annotations

import hashlib
from email.utils import parseaddr

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from ..core import clock
from ..core.extensions import db
from ..core.i18n import format_span
from ..core.text import printable
from ..core.urls import absolute_url
from ..mail import calendar, outbox
from ..models import Event, EventSession, OutboxMessage, Registration, Role, Team, User
from . import first_mail
from .reads import team_facts, waitlist_position, waitlist_positions
from .statuses import SEATED

#: Kinds whose mail carries a calendar file by default, and with which METHOD.
ICS_METHOD = {
    "confirmation": "REQUEST",
    "promoted": "REQUEST",
    "event_changed": "REQUEST",
    "cancelled": "CANCEL",
    "event_cancelled": "CANCEL",
}

_DEFAULT = object()


# --- links and addresses ------------------------------------------------------------


def manage_url(registration: Registration) -> str:
    return absolute_url(f"/r/{registration.manage_token}")


def team_url(team: Team) -> str:
    return absolute_url(f"/t/{team.manage_token}")


def event_url(event: Event) -> str:
    return absolute_url(f"/events/{event.id}")


def reply_to_for(event: Event | None) -> str | None:
    """Replies go to the organiser: the event's contact address, else the organiser's."""
    if event is None:
        return None
    if event.contact_email:
        return event.contact_email
    return event.organiser.email if event.organiser is not None else None


# --- calendar files -------------------------------------------------------------------


def calendar_host() -> str:
    """The host part of every calendar UID (RFC 5545 suggests ``…@host``)."""
    return current_app.config["BASE_URL"].split("://")[-1].split("/")[0].split(":")[0]


def calendar_uid(registration: Registration, session: EventSession) -> str:
    """The UID of one session in one person's calendar: never changes."""
    return f"kvarn-registration-{registration.id}-session-{session.id}@{calendar_host()}"


def calendar_sequence(event: Event, method: str) -> int:
    """SEQUENCE follows ``ics_sequence`` (raised on every time or venue change); a
    cancellation uses one more, so it always outranks the last update."""
    return event.ics_sequence + 1 if method == "CANCEL" else event.ics_sequence


def calendar_organiser(event: Event) -> calendar.Person:
    """ORGANIZER of every calendar file of ``event``: its public contact address."""
    address = reply_to_for(event) or parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]
    return calendar.Person(address, current_app.config["SITE_NAME"])


def calendar_location(session: EventSession) -> str | None:
    """LOCATION: the venue and, when known, its street address (for the map link)."""
    parts = [printable(getattr(session, name, None)) for name in ("venue", "address")]
    return ", ".join(part for part in parts if part) or None


def calendar_summary(event: Event, index: int) -> str:
    """SUMMARY of the ``index``-th (1-based) session: numbered when there are several."""
    count = len(event.sessions)
    return printable(event.title if count == 1 else f"{event.title} ({index}/{count})")


def calendar_entries(
    registration: Registration, method: str = "REQUEST"
) -> list[calendar.CalendarEntry]:
    """One person's calendar entries, one per session, each with its own stable UID.

    No secret manage link goes in (calendars are often shared with a whole team); the
    public event page is the URL.
    """
    event = registration.event
    organiser = calendar_organiser(event)
    attendee = calendar.Person(registration.email, printable(registration.name))
    return [
        calendar.CalendarEntry(
            uid=calendar_uid(registration, session),
            sequence=calendar_sequence(event, method),
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            summary=calendar_summary(event, index),
            url=event_url(event),
            organiser=organiser,
            location=calendar_location(session),
            description=printable(event.description) or None,
            attendee=attendee,
            cancelled=method == "CANCEL",
        )
        for index, session in enumerate(event.sessions, start=1)
    ]


def calendar_attachments(registration: Registration, method: str = "REQUEST") -> list[dict]:
    """The calendar files of one mail: one iTIP object (one VEVENT, one UID) per session,
    each its own attachment, so every client takes every session (docs/calendar-files.md)."""
    return calendar.attachments(calendar_entries(registration, method), method)


# --- what changed, in words -------------------------------------------------------------


def describe_change(change) -> str:
    """One line about what changed, in the current (forced) locale.

    ``change`` is a ready sentence or a dict (see ``event_changed``).
    """
    if isinstance(change, str):
        return change
    what = change.get("what")
    session = change.get("session")
    old, new = change.get("old"), change.get("new")
    if what == "time":
        old_text = format_span(*old) if old else _("not set")
        new_text = format_span(*new) if new else _("not set")
        if session:
            return _(
                "Session %(number)d: the time is now %(new)s (was %(old)s).",
                number=session, new=new_text, old=old_text,
            )
        return _("The time is now %(new)s (was %(old)s).", new=new_text, old=old_text)
    if what == "venue":
        old_text = old or _("venue to be decided")
        new_text = new or _("venue to be decided")
        if session:
            return _(
                "Session %(number)d: the venue is now %(new)s (was %(old)s).",
                number=session, new=new_text, old=old_text,
            )
        return _("The venue is now %(new)s (was %(old)s).", new=new_text, old=old_text)
    if what == "title":
        return _("The event is now called %(new)s (was %(old)s).", new=new, old=old)
    return str(change.get("text", ""))


# --- queueing -----------------------------------------------------------------------


def registration_context(
    registration: Registration, calendar_method: str | None = None, position=_DEFAULT, **extra
) -> dict:
    """The data every registration mail is rendered from (text and HTML alike).

    ``position`` is the waitlist place when the caller knows it; else it is looked up.
    """
    event = registration.event
    if position is _DEFAULT:
        position = waitlist_position(registration)
    return {
        "registration": registration,
        "event": event,
        "sessions": list(event.sessions),
        "manage_url": manage_url(registration),
        "event_url": event_url(event),
        "position": position,
        "contact_email": reply_to_for(event),
        "calendar": calendar_method,
        "describe_change": describe_change,
        "team": team_facts(registration.team_id) if registration.team_id is not None else None,
        **extra,
    }


def enqueue_for_registration(
    kind: str,
    registration: Registration,
    dedupe_key: str,
    calendar_method=_DEFAULT,
    new_key: bool = False,
    **extra,
) -> bool:
    """Queue ``kind`` for one registration in its language.

    ``calendar_method`` is the .ics METHOD to attach ("REQUEST", "CANCEL") or None for
    no calendar file; by default it follows ``ICS_METHOD``. A calendar mail carries one
    file per session (``calendar_attachments``); the templates get their number as
    ``calendar_files``. ``new_key`` says the caller knows no message can have this key
    yet (it names a registration made in this transaction), which spares the look-up.
    """
    if not new_key and outbox.already_queued(dedupe_key):
        return False
    method = ICS_METHOD.get(kind) if calendar_method is _DEFAULT else calendar_method
    attachments = calendar_attachments(registration, method) if method else []
    event = registration.event
    return outbox.enqueue(
        kind=kind,
        recipient=registration.email,
        locale=registration.locale,
        dedupe_key=dedupe_key,
        context=registration_context(
            registration, calendar_method=method, calendar_files=len(attachments), **extra
        ),
        reply_to=reply_to_for(event),
        attachments=attachments,
        event_id=event.id,
        registration_id=registration.id,
        key_checked=True,
    )


def _staff_context(user: User | None, event: Event, **extra) -> dict:
    return {
        "user": user,
        "event": event,
        "sessions": list(event.sessions),
        "event_url": event_url(event),
        "contact_email": None,
        **extra,
    }


def enqueue_for_staff(kind: str, user: User, event: Event, dedupe_key: str, **extra) -> bool:
    return outbox.enqueue(
        kind=kind,
        recipient=user.email,
        locale="sv",
        dedupe_key=dedupe_key,
        context=_staff_context(user, event, **extra),
        event_id=event.id,
    )


def _key(kind: str, registration: Registration, *extra) -> str:
    parts = [kind, str(registration.id), *(str(e) for e in extra)]
    return ":".join(parts)


def registration_created(registration: Registration, position: int | None = None) -> None:
    """The first mail of a registration made in this transaction (``position``: its place
    on the waitlist, known to the caller)."""
    kind = {
        "confirmed": "confirmation",
        "waitlisted": "waitlisted",
        "interested": "interest_received",
    }[registration.status.value]
    method = ICS_METHOD.get(kind)
    attachments = (
        first_mail.calendar_files(
            registration, method, lambda person: calendar_attachments(person, method)
        )
        if method
        else []
    )

    def context_for(person: Registration, place: int | None) -> dict:
        return registration_context(
            person, calendar_method=method, position=place, calendar_files=len(attachments)
        )

    # Rendered from the event's stencil when it can be (first_mail), else per person.
    parts = first_mail.render(kind, registration, position, context_for, files=len(attachments))
    event = registration.event
    # The key names a registration made in this transaction: nothing can have it yet.
    outbox.enqueue(
        kind=kind,
        recipient=registration.email,
        locale=registration.locale,
        dedupe_key=_key(kind, registration),
        context=context_for(registration, position) if parts is None else {},
        rendered=parts,
        reply_to=reply_to_for(event),
        attachments=attachments,
        event_id=event.id,
        registration_id=registration.id,
        key_checked=True,
    )


def team_created(
    team: Team, members: list[Registration], not_signed_up: list[tuple[str, str, str]]
) -> None:
    """The contact's one summary of a team sign-up: every member's status (and place in
    line) and the team's link; ``not_signed_up`` lists (name, email, why) of refused rows."""
    event = team.event
    waiting = any(r.status.value == "waitlisted" for r in members)
    outbox.enqueue(
        kind="team_created",
        recipient=team.contact_email,
        locale=team.locale,
        dedupe_key=f"team_created:{team.id}",
        context={
            "event": event,
            "sessions": list(event.sessions),
            "event_url": event_url(event),
            "contact_email": reply_to_for(event),
            "contact_name": team.contact_name,
            "team": team_facts(team.id),
            "members": members,
            "positions": waitlist_positions(event.id) if waiting else {},
            "not_signed_up": not_signed_up,
            "manage_url": team_url(team),
        },
        reply_to=reply_to_for(event),
        event_id=event.id,
        key_checked=True,
    )


def already_registered(registration: Registration) -> None:
    # One reminder of the link per hour at most, however often the form is sent.
    hour = clock.now().strftime("%Y%m%d%H")
    enqueue_for_registration(
        "already_registered", registration, _key("already", registration, hour)
    )


def promoted(registration: Registration) -> None:
    enqueue_for_registration(
        "promoted", registration, _key("promoted", registration, registration.status_changed_at.timestamp())
    )


def _had_calendar(registration: Registration) -> bool:
    """Was this person ever sent a calendar entry (so there is one to cancel)?"""
    return (
        db.session.scalar(
            sa.select(OutboxMessage.id)
            .where(
                OutboxMessage.registration_id == registration.id,
                OutboxMessage.kind.in_(["confirmation", "promoted"]),
            )
            .limit(1)
        )
        is not None
    )


def registration_cancelled(registration: Registration) -> None:
    enqueue_for_registration(
        "cancelled",
        registration,
        _key("cancelled", registration),
        calendar_method="CANCEL" if _had_calendar(registration) else None,
    )


def event_cancelled(registration: Registration, message: str) -> None:
    enqueue_for_registration(
        "event_cancelled",
        registration,
        _key("event_cancelled", registration),
        calendar_method="CANCEL" if _had_calendar(registration) else None,
        message=message,
    )


def lecture_confirmed(registration: Registration) -> None:
    kind = "confirmation" if registration.status.value == "confirmed" else "waitlisted"
    enqueue_for_registration(kind, registration, _key(kind, registration, "gauged"))


def event_changed(registration: Registration, changes: list) -> None:
    """Tell one affected person (confirmed, waitlisted or interested) what changed.

    The caller raises ``event.ics_sequence`` first when time or venue changed, so
    the attached calendar file replaces the old entry. ``changes`` lists what
    changed, each item either a ready sentence (str) or a dict rendered in the
    recipient's language: ``{"what": "time", "session": 1, "old": (start, end),
    "new": (start, end)}``, ``{"what": "venue", "session": 1, "old": str | None,
    "new": str | None}`` or ``{"what": "title", "old": str, "new": str}``
    ("session" is the 1-based session number, or None for a one-session event).
    Only people with a seat get the updated calendar file.
    """
    event = registration.event
    digest = hashlib.sha256(repr(changes).encode()).hexdigest()[:12]
    enqueue_for_registration(
        "event_changed",
        registration,
        _key("changed", registration, event.ics_sequence, digest),
        calendar_method="REQUEST" if registration.status in SEATED else None,
        changes=changes,
    )


def reminder_key(registration: Registration, label: str) -> str:
    return _key("reminder", registration, label)


def reminder(registration: Registration, label: str) -> bool:
    """Queue a reminder; ``label`` names the round (e.g. "scheduled" or a timestamp)."""
    return enqueue_for_registration(
        "reminder", registration, reminder_key(registration, label)
    )


def _to_address(kind: str, address: str, event: Event, dedupe_key: str, **extra) -> bool:
    return outbox.enqueue(
        kind=kind,
        recipient=address,
        locale=event.language or "sv",
        dedupe_key=dedupe_key,
        context=_staff_context(None, event, **extra),
        event_id=event.id,
    )


def _organiser_address(event: Event) -> str | None:
    if event.organiser is not None and event.organiser.active:
        return event.organiser.email
    return event.contact_email


def threshold_reached(event: Event) -> None:
    """The organiser is always told; active coordinators too if the event says so."""
    address = _organiser_address(event)
    if address:
        _to_address(
            "threshold_reached", address, event, f"threshold:{event.id}:organiser"
        )
    if not event.notify_coordinators_on_threshold:
        return
    coordinators = db.session.scalars(
        sa.select(User).where(User.role == Role.COORDINATOR, User.active.is_(True))
    )
    for user in coordinators:
        if user.email != address:
            enqueue_for_staff(
                "threshold_reached", user, event, f"threshold:{event.id}:{user.id}"
            )


def interest_deadline_passed(event: Event, total: int, by_organisation: list[tuple[str, int]]) -> bool:
    """One mail to the organiser with the figures when the deadline passes undecided."""
    address = _organiser_address(event)
    if not address:
        return False
    return _to_address(
        "interest_deadline",
        address,
        event,
        f"deadline:{event.id}",
        total=total,
        by_organisation=by_organisation,
    )
