"""What an event's kind and phase are called, for every page and mail alike.

A cancelled *event* is "Inställt" in Swedish while a cancelled *registration* is
"Avbokad": the two share the English word, so the event's labels carry a gettext
context ("event status").
"""

from __future__ import annotations

import functools

from flask_babel import get_locale, lazy_pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..core.i18n import format_moment
from ..models import Event, EventKind, EventSession, EventStatus

KIND_LABELS = {
    EventKind.COURSE: _l("Course"),
    EventKind.LECTURE: _l("Lecture"),
    EventKind.MEETING: _l("Meeting"),
    EventKind.CONFERENCE: _l("Conference"),
}

PHASE_LABELS = {
    EventStatus.DRAFT: lazy_pgettext("event status", "Draft"),
    EventStatus.GAUGING: lazy_pgettext("event status", "Gauging interest"),
    EventStatus.OPEN: lazy_pgettext("event status", "Open for registration"),
    EventStatus.CLOSED: lazy_pgettext("event status", "Registration closed"),
    EventStatus.FINISHED: lazy_pgettext("event status", "Finished"),
    EventStatus.CANCELLED: lazy_pgettext("event status", "Cancelled"),
}



def kind_label(kind: EventKind | str) -> str:
    return _label("kind", EventKind(kind), get_locale())


def phase_label(event: Event) -> str:
    """The event's status as the public sees it now ("Open for registration", ...)."""
    phase = event.phase()
    if phase == EventStatus.OPEN and event.registration_not_yet_open():
        return _("Registration opens %(when)s", when=format_moment(event.registration_opens_at))
    return _label("phase", phase, get_locale())


def phase_name(phase: EventStatus | str) -> str:
    """A phase's label without the event (e.g. a report row)."""
    return _label("phase", EventStatus(phase), get_locale())


_LABELS = {"kind": KIND_LABELS, "phase": PHASE_LABELS}


@functools.lru_cache(maxsize=64)
def _label(table: str, key, _locale) -> str:
    # Translated once per locale (a listing shows both labels on every card); called
    # while ``_locale`` is the current one.
    return str(_LABELS[table][key])


def venue_label(session: EventSession) -> str:
    """Where a session is held, or that it is still to be decided."""
    return session.venue or _("Venue to be decided")
