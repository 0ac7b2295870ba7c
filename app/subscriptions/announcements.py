"""Announcing free seats to subscribers: the last seats of a course, filled.

Owns the rules: only an event open for registration with seats a newcomer can get (free
seats and nobody waiting) is announced; it goes to the confirmed subscribers whose filters
take the event (``matching``): for an organiser or admin all of them, for a coordinator
only those whose organiser filter takes the coordinator's own organisation (named, or
"every organiser"); and never twice to one subscriber for one event, however often or
by whom it is sent: one write transaction holds the event lock, records each delivery
(``subscription_delivery``, primary key subscriber-event-kind) and queues the mail (dedupe
key ``subscription:<id>:announcement:<event>``), and writes the audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..accounts.roles import ORGANISERS
from ..audit import entries as audit
from ..core import clock
from ..core.database import write_transaction
from ..core.errors import NotFound, Refused
from ..core.extensions import db
from ..mail import outbox
from ..models import (
    DeliveryKind,
    Event,
    EventStatus,
    OutboxMessage,
    Subscription,
    SubscriptionDelivery,
    SubscriptionFrequency,
    User,
)
from ..registrations import reads
from ..registrations.locking import lock_event
from ..registrations.reads import Counts
from . import matching, notices


@dataclass(frozen=True)
class Audience:
    """Whom an announcement may reach: every matching subscriber (``organisation_id``
    None), or those of them whose filters take this organisation (a coordinator's)."""

    organisation_id: int | None = None


def audience_of(user: User) -> Audience:
    """An organiser's or admin's reach is everyone; a coordinator's is their organisation."""
    if user.role in ORGANISERS:
        return Audience(None)
    if user.organisation_id is None:
        raise Refused(_l("Your account belongs to no organisation, so there is nobody to announce to."))
    return Audience(user.organisation_id)


def free_seats(event: Event, counts: Counts) -> int:
    """Seats a newcomer can get now: none while anybody waits."""
    if counts.waitlisted:
        return 0
    return max(event.capacity - counts.confirmed, 0)


def refusal(event: Event, counts: Counts):
    """Why ``event`` cannot be announced now (a message), or None if it can."""
    if event.phase() != EventStatus.OPEN or event.registration_not_yet_open():
        return _l("Only an event that is open for registration can be announced.")
    if free_seats(event, counts) < 1:
        return _l("The event has no free seats. Announce it when seats are free and nobody waits.")
    return None


def _recipients(event: Event, audience: Audience):
    announced = sa.exists().where(
        SubscriptionDelivery.subscription_id == Subscription.id,
        SubscriptionDelivery.event_id == event.id,
        SubscriptionDelivery.kind == DeliveryKind.ANNOUNCEMENT,
    )
    conditions = [matching.subscribers_of(event), ~announced]
    if audience.organisation_id is not None:
        conditions.append(matching.organisation_ok(Subscription.id, audience.organisation_id))
    return sa.and_(*conditions)


def recipient_count(event_id: int, audience: Audience) -> int:
    """How many would get the announcement if it were sent now (nobody who already has it)."""
    event = db.session.get(Event, event_id)
    if event is None:
        raise NotFound(_l("There is no such event."))
    return db.session.scalar(
        sa.select(sa.func.count(Subscription.id)).where(_recipients(event, audience))
    ) or 0


def announced_count(event_id: int) -> int:
    """How many subscribers have had this event announced, by anyone."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(SubscriptionDelivery).where(
            SubscriptionDelivery.event_id == event_id,
            SubscriptionDelivery.kind == DeliveryKind.ANNOUNCEMENT,
        )
    ) or 0


def announce(event_id: int, user_id: int | None, audience: Audience) -> int:
    """Queue the announcement to everyone in ``audience`` who has not had it: one write
    transaction under the event lock. Returns how many were queued now; refuses an event
    that cannot be announced (``refusal``)."""

    def work() -> int:
        event = lock_event(event_id)
        counts = reads.counts_of(event.id)
        reason = refusal(event, counts)
        if reason is not None:
            raise Refused(reason)
        seats = free_seats(event, counts)
        # Locked (in id order), so that an unsubscribe at this moment either finishes first
        # (the row is then skipped) or waits for this transaction (and erases what it wrote).
        subscribers = list(
            db.session.scalars(
                sa.select(Subscription)
                .where(_recipients(event, audience))
                .order_by(Subscription.id)
                .with_for_update(of=Subscription)
            )
        )
        if subscribers:
            now = clock.now()
            db.session.execute(
                sa.insert(SubscriptionDelivery),
                [
                    {
                        "subscription_id": subscriber.id,
                        "event_id": event.id,
                        "kind": DeliveryKind.ANNOUNCEMENT,
                        "created_at": now,
                    }
                    for subscriber in subscribers
                ],
            )
            for subscriber in subscribers:
                notices.announcement(subscriber, event, seats)
        audit.record(
            user_id,
            "event.announce",
            event,
            {
                "queued": len(subscribers),
                "free_seats": seats,
                "organisation_id": audience.organisation_id,
            },
        )
        return len(subscribers)

    return write_transaction(work)


def progress(event_id: int) -> dict[str, int]:
    """The event's announcements by outbox status."""
    rows = db.session.execute(
        sa.select(OutboxMessage.status, sa.func.count(OutboxMessage.id))
        .where(OutboxMessage.event_id == event_id, OutboxMessage.kind == notices.ANNOUNCEMENT)
        .group_by(OutboxMessage.status)
    )
    counts = {"pending": 0, "sending": 0, "sent": 0, "failed": 0}
    for status, count in rows:
        counts[status.value] = int(count)
    return counts


def _sample_subscriber(locale: str) -> Subscription:
    """A made-up subscriber, never added to the session, for previews (a real one's mail
    carries their personal link, which staff must not see)."""
    return Subscription(
        id=0,
        email="anna.andersson@example.org",
        locale=locale,
        frequency=SubscriptionFrequency.WEEKLY,
        manage_token="example-link",
        confirm_token="example-link",
    )


def preview(event_id: int, locale: str = "sv") -> tuple[str, str, str]:
    """Subject, text and HTML of the announcement, to a made-up subscriber. Queues nothing."""
    event = db.session.get(Event, event_id)
    if event is None:
        raise NotFound(_l("There is no such event."))
    counts = reads.counts_of(event.id)
    with db.session.no_autoflush:
        context = notices.announcement_context(
            _sample_subscriber(locale), event, free_seats(event, counts)
        )
        return outbox.render(notices.ANNOUNCEMENT, locale, context)
