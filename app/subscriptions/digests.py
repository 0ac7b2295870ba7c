"""The digest of new events: daily or weekly, each event in each subscriber's digest once.

"New" is an event that became public (published or gauging interest, ``published_at``)
after the subscriber confirmed, is open or gauging, still ahead (its first session has
not started, registration has not closed), matches their filters (``matching``) and has
not been in one of their digests before. A period is a Stockholm day ("2026-12-01") or
ISO week ("2026-W49"): ``send_digests`` (cron, ``flask subscriptions send-digests``,
daily) covers every confirmed subscriber whose period has not been covered yet, each in
a transaction of its own that locks their row, records the events it carries
(``subscription_delivery``, whose primary key forbids a second time) and queues the mail
with the dedupe key of the period. So a run repeated, or two at once, sends nobody a
second digest and no event twice; weekly subscribers get theirs on the first run of a
week (Monday's, with a daily cron).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from ..core import clock
from ..core.database import write_transaction
from ..core.extensions import db
from ..models import (
    DeliveryKind,
    Event,
    EventSession,
    EventStatus,
    Subscription,
    SubscriptionDelivery,
    SubscriptionFrequency,
)
from ..registrations import reads
from . import matching, notices

F = SubscriptionFrequency
#: The most events one digest lists (the soonest first); the rest wait for the next.
DIGEST_LIMIT = 50
#: Events a digest may carry: public and taking sign-ups or interest.
DIGESTED = (EventStatus.OPEN, EventStatus.GAUGING)


def period_of(frequency: SubscriptionFrequency | str, at: datetime) -> str:
    """The digest period ``at`` falls in, in Stockholm time."""
    local = clock.local(at)
    if SubscriptionFrequency(frequency) == F.DAILY:
        return local.date().isoformat()
    year, week, _day = local.isocalendar()
    return f"{year}-W{week:02d}"


def due(now: datetime | None = None) -> list[int]:
    """Confirmed subscribers whose current period no digest run has covered yet."""
    now = now or clock.now()

    def uncovered(frequency: SubscriptionFrequency):
        period = period_of(frequency, now)
        return sa.and_(
            Subscription.frequency == frequency,
            sa.or_(Subscription.digest_period.is_(None), Subscription.digest_period != period),
        )

    return list(
        db.session.scalars(
            sa.select(Subscription.id)
            .where(
                Subscription.confirmed_at.is_not(None),
                sa.or_(uncovered(F.DAILY), uncovered(F.WEEKLY)),
            )
            .order_by(Subscription.id)
        )
    )


def new_events(subscription: Subscription, now: datetime, limit: int = DIGEST_LIMIT) -> list[Event]:
    """The events the subscriber's next digest carries, soonest first."""
    first_start = (
        sa.select(EventSession.event_id, sa.func.min(EventSession.starts_at).label("starts_at"))
        .group_by(EventSession.event_id)
        .subquery()
    )
    sent = sa.exists().where(
        SubscriptionDelivery.subscription_id == subscription.id,
        SubscriptionDelivery.event_id == Event.id,
        SubscriptionDelivery.kind == DeliveryKind.DIGEST,
    )
    return list(
        db.session.scalars(
            sa.select(Event)
            .join(first_start, first_start.c.event_id == Event.id)
            .where(
                Event.status.in_(DIGESTED),
                Event.published_at.is_not(None),
                Event.published_at > subscription.confirmed_at,
                first_start.c.starts_at > now,
                sa.or_(
                    Event.registration_closes_at.is_(None), Event.registration_closes_at > now
                ),
                matching.events_for(subscription.id),
                ~sent,
            )
            .order_by(first_start.c.starts_at, Event.id)
            .limit(limit)
            .options(
                sa.orm.selectinload(Event.sessions),
                sa.orm.selectinload(Event.organising_organisation),
            )
        )
    )


def _digest_for(subscription_id: int, now: datetime) -> int:
    """One subscriber's digest for the current period: how many events it carries (0:
    nothing new, or covered already by another run, or unsubscribed meanwhile)."""
    subscription = db.session.scalar(
        sa.select(Subscription)
        .where(Subscription.id == subscription_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if subscription is None or subscription.confirmed_at is None:
        return 0
    period = period_of(subscription.frequency, now)
    if subscription.digest_period == period:
        return 0
    subscription.digest_period = period
    events = new_events(subscription, now)
    if not events:
        return 0
    db.session.execute(
        sa.insert(SubscriptionDelivery),
        [
            {
                "subscription_id": subscription.id,
                "event_id": event.id,
                "kind": DeliveryKind.DIGEST,
                "created_at": now,
            }
            for event in events
        ],
    )
    counts = reads.counts_for(event.id for event in events)
    entries = [
        notices.digest_entry(event, counts[event.id].confirmed, counts[event.id].waitlisted)
        for event in events
    ]
    notices.digest(subscription, entries, period)
    subscription.last_digest_at = now
    return len(events)


@dataclass
class DigestRun:
    covered: int = 0  # subscribers whose period this run covered
    digests: int = 0  # digests queued
    events: int = 0  # event lines in them


def send_digests(now: datetime | None = None) -> DigestRun:
    """Queue the digests that are due (cron, daily; safe to repeat and to run twice at
    once). Each subscriber is one short write transaction."""
    now = now or clock.now()
    run = DigestRun()
    for subscription_id in due(now):
        carried = write_transaction(lambda subscription_id=subscription_id: _digest_for(subscription_id, now))
        run.covered += 1
        if carried:
            run.digests += 1
            run.events += carried
    return run
