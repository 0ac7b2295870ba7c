"""What each registration status allows, and what it is called: the one source.

The seats module enforces these rules; views, templates, exports and mail read them
from here instead of repeating status lists (docs/architecture.md, "one source").
"""

from __future__ import annotations

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
    return str(LABELS[S(status)])


def can_cancel(registration: Registration, event: Event) -> bool:
    """Whether this registration may be cancelled now (by its owner or by staff)."""
    return registration.status in CANCELLABLE and event.phase() != EventStatus.FINISHED


def can_promote_by_hand(registration: Registration, event: Event) -> bool:
    """Whether staff may give this person a seat ahead of the queue."""
    return registration.status == S.WAITLISTED and event.status in SEAT_GIVING_EVENTS
