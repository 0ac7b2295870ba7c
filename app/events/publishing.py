"""Publishing and the event's own status: draft → open or gauging, open ⇄ closed.

Confirming a gauged event, cancelling one and changing capacity change registrations,
so they live in ``registrations.seats``. Each function is one audited write transaction
that holds the event lock.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..audit import entries as audit
from ..core import clock
from ..core.database import write_transaction
from ..core.errors import Refused
from ..core.i18n import format_moment
from ..models import Event, EventStatus
from ..registrations.locking import lock_event


def _transition(event_id: int, user_id: int, action: str, check, target: EventStatus) -> Event:
    def work() -> Event:
        event = lock_event(event_id)
        details = check(event) or {}
        previous = event.status
        event.status = target
        if previous == EventStatus.DRAFT and event.published_at is None:
            event.published_at = clock.now()  # first public: what digests call "new"
        audit.record(user_id, action, event, {"from": previous.value, **details})
        return event

    return write_transaction(work)


def _check_publishable(event: Event) -> None:
    if event.status != EventStatus.DRAFT:
        raise Refused(_l("Only a draft can be published."))
    if not event.sessions:
        raise Refused(_l("Add at least one session before publishing."))
    if event.ends_at <= clock.now():
        raise Refused(_l("The event has already taken place; change its dates first."))
    if event.capacity < 1:
        raise Refused(_l("Set a capacity of at least 1 before publishing."))


def publish(event_id: int, user_id: int) -> Event:
    """Draft → open: the event is listed and takes sign-ups (from its opening time)."""
    return _transition(event_id, user_id, "event.publish", _check_publishable, EventStatus.OPEN)


def publish_gauging(event_id: int, user_id: int) -> Event:
    """Draft → gauging: the event is listed and people register interest."""

    def check(event: Event) -> dict:
        _check_publishable(event)
        if not event.interest_threshold:
            raise Refused(_l("Set an interest threshold before gauging interest."))
        if not event.interest_deadline or event.interest_deadline <= clock.now():
            raise Refused(_l("Set an interest deadline in the future before gauging interest."))
        if event.interest_deadline >= event.starts_at:
            raise Refused(_l("The interest deadline must come before the event starts."))
        return {
            "interest_threshold": event.interest_threshold,
            "interest_deadline": event.interest_deadline.isoformat(),
        }

    return _transition(event_id, user_id, "event.gauge", check, EventStatus.GAUGING)


def close(event_id: int, user_id: int) -> Event:
    """Open → closed: no more sign-ups; cancellations still pass seats on to the waitlist."""

    def check(event: Event) -> None:
        if event.phase() != EventStatus.OPEN:
            raise Refused(_l("Only an open event can be closed."))

    return _transition(event_id, user_id, "event.close", check, EventStatus.CLOSED)


def reopen(event_id: int, user_id: int) -> Event:
    """Closed → open again, if the registration window has not passed."""

    def check(event: Event) -> None:
        if event.status != EventStatus.CLOSED or event.phase() == EventStatus.FINISHED:
            raise Refused(_l("Only a closed event can be reopened."))
        closes = event.registration_closes_at
        if closes and closes <= clock.now():
            raise Refused(
                _l(
                    "Registration closed %(when)s. Move the closing time forward first.",
                    when=format_moment(closes),
                )
            )

    return _transition(event_id, user_id, "event.reopen", check, EventStatus.OPEN)
