"""Whose filters match which event: the one place of the rule, as SQL.

A subscription asks for kinds (rows of ``subscription_kind``) and arranging organisations
(rows of ``subscription_organisation``); no row of a sort means every kind, or every
organiser. An event without an arranging organisation reaches only those who take every
organiser. Both directions are correlated ``EXISTS`` on the filter tables' primary keys,
so "who does this event reach" and "which events are new to this subscriber" are
bounded index look-ups, never a scan of JSON.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..models import Event, EventKind, Subscription, SubscriptionKind, SubscriptionOrganisation


def _kind_ok(subscription_id, kind) -> sa.ColumnElement[bool]:
    every_kind = ~sa.exists().where(SubscriptionKind.subscription_id == subscription_id)
    this_kind = sa.exists().where(
        SubscriptionKind.subscription_id == subscription_id, SubscriptionKind.kind == kind
    )
    return sa.or_(every_kind, this_kind)


def organisation_ok(subscription_id, organisation_id) -> sa.ColumnElement[bool]:
    """The subscription takes events of ``organisation_id`` (a column or a value; None:
    an event that names no organisation, which only "every organiser" takes)."""
    every_organiser = ~sa.exists().where(
        SubscriptionOrganisation.subscription_id == subscription_id
    )
    if organisation_id is None:
        return every_organiser
    this_organiser = sa.exists().where(
        SubscriptionOrganisation.subscription_id == subscription_id,
        SubscriptionOrganisation.organisation_id == organisation_id,
    )
    return sa.or_(every_organiser, this_organiser)


def subscribers_of(event: Event) -> sa.ColumnElement[bool]:
    """A condition on ``Subscription``: confirmed, and its filters take ``event``."""
    return sa.and_(
        Subscription.confirmed_at.is_not(None),
        _kind_ok(Subscription.id, EventKind(event.kind)),
        organisation_ok(Subscription.id, event.organising_organisation_id),
    )


def events_for(subscription_id: int) -> sa.ColumnElement[bool]:
    """A condition on ``Event``: the subscription's filters take it."""
    return sa.and_(
        _kind_ok(subscription_id, Event.kind),
        organisation_ok(subscription_id, Event.organising_organisation_id),
    )
