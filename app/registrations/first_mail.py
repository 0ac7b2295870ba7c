"""The first mail of a sign-up (confirmation, waiting list, interest received) from a
stencil rendered once per event version and language, not three templates per person.

In a morning rush hundreds of people sign up for the same event within minutes, and
their first mails differ only in a few values: the person's name, address, organisation,
work team and needs, the personal link and the place in line. ``mail.stencil`` renders
the templates once with a placeholder for each (HTML-escaped where the template would
escape them) and fills one person's values in. What decides the rest of the mail is the
stencil's key: the kind, the language, everything of the event the mail shows (its
version), which optional lines the person's mail has (work team, needs, a place in line)
and the calendar files. Anything unusual — a team member (whose mail tells of the team),
a value the stencil could not carry exactly — is rendered per person as before, so every
mail is byte for byte what the templates make (tests/test_first_mail.py compares them).
"""

from __future__ import annotations

import re
import secrets
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC

from flask import current_app
from icalendar import vText
from icalendar.parser import Contentline, Parameters

from ..core import clock
from ..core.extensions import db
from ..core.text import printable
from ..mail.stencil import Stencil
from ..models import Event, Organisation, Registration

#: The mails a stencil serves: the first mail of a registration made now.
KINDS = ("confirmation", "waitlisted", "interest_received")
PERSONAL = ("name", "email", "organisation", "work_team", "needs", "token", "position")
#: Stencils kept per app (a few per event and language; old versions fall out).
CACHE_SIZE = 256


def _cache() -> OrderedDict:
    return current_app.extensions.setdefault("kvarn_first_mail", OrderedDict())


def _remember(key: tuple, build: Callable[[], object]):
    cache = _cache()
    found = cache.get(key)
    if found is None:
        found = cache[key] = build()
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return found


def _event_version(event: Event) -> tuple:
    """Everything of the event a first mail shows: a change makes a new stencil."""
    organiser = event.organiser
    arranged = event.organising_organisation
    return (
        event.id,
        event.updated_at,
        event.ics_sequence,
        event.title,
        event.what_to_bring,
        event.contact_email,
        organiser.name if organiser is not None else None,
        organiser.email if organiser is not None else None,
        arranged.name if arranged is not None else None,
        tuple((s.id, s.starts_at, s.ends_at, s.venue, s.address) for s in event.sessions),
    )


def _fits(registration: Registration) -> bool:
    """Whether the stencil carries this person's values exactly as the templates would:
    the text part folds runs of blank lines (``outbox._tidy_text``), so free text with
    them, or a value that could be mistaken for a placeholder, is rendered per person."""
    values = (registration.name, registration.email, registration.work_team, registration.needs)
    return registration.team_id is None and not any(
        "\n\n\n" in (value or "") or "kvarnstencil" in (value or "") for value in values
    )


def _stand_in(event: Event, registration: Registration, values: Mapping[str, str]) -> Registration:
    """A made-up registration carrying the placeholders, never to be stored."""
    person = Registration(
        id=0,
        event_id=event.id,
        name=values["name"],
        email=values["email"],
        work_team=values["work_team"] if registration.work_team else "",
        needs=values["needs"] if registration.needs else "",
        locale=registration.locale,
        status=registration.status,
        created_at=registration.created_at,
        status_changed_at=registration.status_changed_at,
        manage_token=values["token"],
    )
    person.event = event
    person.organisation = Organisation(name=values["organisation"])
    for stand_in in (person, person.organisation):
        if stand_in in db.session:
            db.session.expunge(stand_in)
    return person


def render(
    kind: str,
    registration: Registration,
    position: int | None,
    context_for: Callable[[Registration, int | None], dict],
    **extra,
) -> tuple[str, str, str] | None:
    """Subject, text and HTML of ``kind`` for ``registration`` from a stencil, or None when
    this mail is to be rendered per person. ``context_for(person, position)`` is the
    caller's template context (``notices.registration_context``); ``extra`` are the
    context values every mail of this key shares (e.g. the number of calendar files)."""
    if kind not in KINDS or not _fits(registration):
        return None
    event = registration.event
    key = (
        kind,
        registration.locale,
        _event_version(event),
        bool(registration.work_team),
        bool(registration.needs),
        position is not None,
        tuple(sorted(extra.items())),
    )

    def build() -> Stencil:
        def context_with(values: Mapping[str, str]) -> dict:
            person = _stand_in(event, registration, values)
            return context_for(person, values["position"] if position is not None else None)

        with db.session.no_autoflush:
            return Stencil(kind, registration.locale, context_with, PERSONAL, numbers=("position",))

    try:
        stencil = _remember(key, build)
    except ValueError:  # a template changed a placeholder: this mail is made per person
        return None
    return stencil.fill(
        {
            "name": registration.name,
            "email": registration.email,
            "organisation": registration.organisation.name,
            "work_team": registration.work_team or "",
            "needs": registration.needs or "",
            "token": registration.manage_token,
            "position": position if position is not None else 0,
        }
    )


# --- the calendar files ------------------------------------------------------------------

_DTSTAMP = re.compile(r"DTSTAMP:\d{8}T\d{6}Z$")


class _CalendarStencil:
    """The calendar attachments of one event version and METHOD, made by ``build`` for a
    stand-in whose id, name and address are placeholders; ``fill`` gives one person's
    files byte for byte as icalendar writes them: the content lines unfolded, the person's
    UID part, ATTENDEE (its CN parameter encoded by icalendar itself) and DTSTAMP put in,
    and each line folded again by icalendar's own ``Contentline``."""

    def __init__(self, build: Callable[[Registration], list[dict]], event: Event) -> None:
        self.id_token = 10**18 + secrets.randbelow(9 * 10**18)
        self.name_token = f"kvarnstencil{secrets.token_hex(12)}"
        self.email_token = f"kvarnstencil{secrets.token_hex(12)}@stencil.invalid"
        person = Registration(id=self.id_token, name=self.name_token, email=self.email_token)
        person.event = event
        if person in db.session:
            db.session.expunge(person)
        self.files = [
            {**file, "data": file["data"].replace("\r\n ", "")} for file in build(person)
        ]
        for file in self.files:
            if file["data"].count(f"CN={self.name_token}") != file["data"].count(self.name_token):
                raise ValueError("the calendar uses the name outside ATTENDEE;CN")

        # Per file, its lines: those without a personal value folded once here, the rest
        # (UID, ATTENDEE, DTSTAMP) kept as format strings to fill and fold per person.
        slots = {
            f"CN={self.name_token}": "{cn}",
            self.email_token: "{email}",
            str(self.id_token): "{id}",
        }
        self._lines = []
        for file in self.files:
            lines = []
            for line in file["data"].replace("\r\n", "\n").split("\n"):
                personal = line.startswith("DTSTAMP:") or any(token in line for token in slots)
                if not personal:
                    lines.append((False, _folded(line)))
                    continue
                template = "{dtstamp}" if _DTSTAMP.match(line) else line.replace("{", "{{").replace("}", "}}")
                for token, slot in slots.items():
                    template = template.replace(token, slot)
                lines.append((True, template))
            self._lines.append(lines)

    def fill(self, registration: Registration) -> list[dict]:
        values = {
            "cn": Parameters({"CN": vText(printable(registration.name))}).to_ical().decode(),
            "email": registration.email,
            "id": str(registration.id),
            "dtstamp": "DTSTAMP:" + clock.now().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"),
        }
        return [
            {
                **file,
                "data": "\r\n".join(
                    _folded(line.format_map(values)) if personal else line
                    for personal, line in lines
                ),
            }
            for file, lines in zip(self.files, self._lines, strict=True)
        ]


def _folded(line: str) -> str:
    """One content line folded at 75 octets, by icalendar's own code."""
    if len(line) < 75 and len(line.encode("utf-8")) < 75:
        return line  # short enough: icalendar leaves it as it is
    return Contentline(line).to_ical().decode("utf-8")


def calendar_files(
    registration: Registration, method: str, build: Callable[[Registration], list[dict]]
) -> list[dict]:
    """The calendar attachments of ``registration``'s first mail from the event's calendar
    stencil (``build(person)`` makes them per person: ``notices.calendar_attachments``)."""
    if "kvarnstencil" in (registration.name or "") + (registration.email or ""):
        return build(registration)
    event = registration.event
    key = ("calendar", method, _event_version(event))
    stencil = _remember(key, lambda: _CalendarStencil(build, event))
    return stencil.fill(registration)
