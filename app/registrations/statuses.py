"""What each registration status allows, and what it is called: the one source.

The seats module enforces these rules; views, templates, exports and mail read them
from here instead of repeating status lists (docs/architecture.md, "one source").
"""

from __future__ import annotations

import functools

from flask_babel import get_locale, gettext, ngettext
from flask_babel import lazy_gettext as _l

from ..models import Event, EventStatus, Registration, RegistrationStatus

S = RegistrationStatus

#: Statuses that hold a seat.
SEATED = (S.CONFIRMED, S.ATTENDED, S.NO_SHOW)
#: Statuses the person (or staff) may still cancel, while the event is not over.
CANCELLABLE = (S.CONFIRMED, S.WAITLISTED, S.INTERESTED)
#: Everyone a change of time or venue concerns: every active registration.
AFFECTED = (*SEATED, S.WAITLISTED, S.INTERESTED)
#: Event statuses in which seats are handed out (promotion, by hand or from the queue).
SEAT_GIVING_EVENTS = (EventStatus.OPEN, EventStatus.CLOSED)

#: One name per status, for staff pages, exports and the person's own page alike.
LABELS = {
    S.INTERESTED: _l("Interested"),
    S.CONFIRMED: _l("Seat"),
    S.WAITLISTED: _l("Waiting list"),
    S.CANCELLED: _l("Cancelled"),
    S.ATTENDED: _l("Attended"),
    S.NO_SHOW: _l("Did not attend"),
}


def label(status: RegistrationStatus | str) -> str:
    return _label(S(status), get_locale())


@functools.lru_cache(maxsize=32)
def _label(status: RegistrationStatus, _locale) -> str:
    # Translated once per locale (a staff list shows one on every row); called while
    # ``_locale`` is the current one.
    return str(LABELS[status])


def can_cancel(registration: Registration, event: Event) -> bool:
    """Whether this registration may be cancelled now (by its owner or by staff)."""
    return registration.status in CANCELLABLE and event.phase() != EventStatus.FINISHED


def can_promote_by_hand(registration: Registration, event: Event) -> bool:
    """Whether staff may give this person a seat ahead of the queue."""
    return registration.status == S.WAITLISTED and event.status in SEAT_GIVING_EVENTS


def team_sentence(team) -> str:
    """One sentence about a person's team (``reads.TeamFacts``), for their page and mail:
    "your team of 4, kept together, waiting as number 2"."""
    size = team.size
    if team.keep_together and team.position is not None:
        return ngettext(
            "Your team of %(num)d is kept together and waits as number %(position)d: "
            "everyone gets a seat at the same time.",
            "Your team of %(num)d is kept together and waits as number %(position)d: "
            "everyone gets a seat at the same time.",
            size,
            position=team.position,
        )
    if team.keep_together and team.interested and not team.seated:
        return ngettext(
            "Your team of %(num)d showed interest together and will be kept together.",
            "Your team of %(num)d showed interest together and will be kept together.",
            size,
        )
    if team.keep_together:
        return ngettext(
            "Your team of %(num)d is kept together and has seats.",
            "Your team of %(num)d is kept together and has seats.",
            size,
        )
    return ngettext(
        "Your team of %(num)d: %(seated)d with a seat, %(waiting)d waiting, each placed in turn.",
        "Your team of %(num)d: %(seated)d with a seat, %(waiting)d waiting, each placed in turn.",
        size,
        seated=team.seated,
        waiting=team.waiting,
    )


def team_label(team, with_contact: bool = True) -> str:
    """A team's short name in staff lists and exports (``reads.EventTeam``):
    "Team 2 (Anna Andersson, 4, kept together)". Without the contact's name for someone who
    may not see every name (a coordinator: the contact may be from another organisation)."""
    if not with_contact:
        if team.keep_together:
            return gettext("Team %(number)d (%(size)d, kept together)", number=team.number, size=team.size)
        return gettext("Team %(number)d (%(size)d)", number=team.number, size=team.size)
    if team.keep_together:
        return gettext(
            "Team %(number)d (%(contact)s, %(size)d, kept together)",
            number=team.number,
            contact=team.contact_name,
            size=team.size,
        )
    return gettext(
        "Team %(number)d (%(contact)s, %(size)d)",
        number=team.number,
        contact=team.contact_name,
        size=team.size,
    )
