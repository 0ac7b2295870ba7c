"""Subscribing to new events without an account, and the consent it rests on.

Owns the rules: an address is held only with confirmed consent (double opt-in: the
subscription starts unconfirmed and gets nothing until the link mailed to the address is
followed, with a button, so that a link scanner fetching it confirms nothing); the
subscribe form answers the same whether or not the address is known (a known address gets
its own link by mail, and nobody else can change its filters); unsubscribing deletes the
row with its filters, its delivery records and its mail still in the outbox; unconfirmed
addresses are deleted after ``SUBSCRIPTION_UNCONFIRMED_DAYS`` (``purge``), and so is the
record of which events a subscriber got once those events are over.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from ..audit import entries as audit
from ..core import clock
from ..core.database import write_transaction
from ..core.errors import NotFound, Refused
from ..core.extensions import db
from ..mail import outbox
from ..models import (
    EventKind,
    EventSession,
    Organisation,
    Subscription,
    SubscriptionDelivery,
    SubscriptionFrequency,
    SubscriptionKind,
    SubscriptionOrganisation,
)
from . import notices

EMAIL_MAX = 254
TOKEN_MAX = 64

@dataclass(frozen=True)
class Choice:
    """What a person asks for: how often, which kinds and which arranging organisations
    (an empty set means every kind, or every organiser)."""

    frequency: SubscriptionFrequency
    kinds: frozenset[EventKind] = frozenset()
    organisation_ids: frozenset[int] = frozenset()


class Outcome(enum.StrEnum):
    """What ``subscribe`` did (the page says the same for all three)."""

    STARTED = "started"  # a new, unconfirmed subscription; the link is mailed
    RESENT = "resent"  # still unconfirmed: the choice is updated, the link mailed again
    EXISTS = "exists"  # already confirmed: its own link is mailed, nothing changes


# --- reading ------------------------------------------------------------------------


def _token_ok(token: str) -> bool:
    return bool(token) and len(token) <= TOKEN_MAX


def by_manage_token(token: str) -> Subscription | None:
    """The subscription a personal link names (None for an unknown or malformed token)."""
    if not _token_ok(token):
        return None
    return db.session.scalar(sa.select(Subscription).where(Subscription.manage_token == token))


def _unconfirmed_days() -> float:
    return float(current_app.config["SUBSCRIPTION_UNCONFIRMED_DAYS"])


def link_expired(subscription: Subscription, now: datetime | None = None) -> bool:
    """An unconfirmed subscription older than the limit: its link no longer works (and
    ``purge`` deletes it)."""
    if subscription.confirmed_at is not None:
        return False
    return subscription.created_at < (now or clock.now()) - timedelta(days=_unconfirmed_days())


def by_confirm_token(token: str) -> Subscription | None:
    """The subscription a confirmation link names, while the link works."""
    if not _token_ok(token):
        return None
    subscription = db.session.scalar(
        sa.select(Subscription).where(Subscription.confirm_token == token)
    )
    return None if subscription is None or link_expired(subscription) else subscription


def _locked(where) -> Subscription | None:
    return db.session.scalar(
        sa.select(Subscription)
        .where(where)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


# --- changing -----------------------------------------------------------------------


def _address(email: str) -> str:
    address = (email or "").strip().lower()
    if not address or len(address) > EMAIL_MAX or "@" not in address:
        raise Refused(_l("Enter a valid email address, like name@kommun.se."), field="email")
    return address


def _check_organisations(ids: Iterable[int]) -> None:
    ids = set(ids)
    if not ids:
        return
    known = set(
        db.session.scalars(
            sa.select(Organisation.id).where(
                Organisation.id.in_(ids), Organisation.active.is_(True)
            )
        )
    )
    if known != ids:
        raise Refused(_l("Choose organisers from the list."), field="organisations")


def _apply(subscription: Subscription, choice: Choice) -> None:
    """Make the filter rows say ``choice`` (rows kept where they already do)."""
    subscription.frequency = SubscriptionFrequency(choice.frequency)
    kinds = {EventKind(kind) for kind in choice.kinds}
    subscription.kinds = [row for row in subscription.kinds if row.kind in kinds] + [
        SubscriptionKind(kind=kind)
        for kind in sorted(kinds - {row.kind for row in subscription.kinds})
    ]
    organisations = set(choice.organisation_ids)
    kept = [row for row in subscription.organisations if row.organisation_id in organisations]
    subscription.organisations = kept + [
        SubscriptionOrganisation(organisation_id=organisation_id)
        for organisation_id in sorted(organisations - {row.organisation_id for row in kept})
    ]


def subscribe(email: str, choice: Choice, locale: str) -> Outcome:
    """Ask for new events by email: one write transaction.

    A new address gets an unconfirmed subscription and the confirmation link; an address
    still unconfirmed gets its choice updated, its time limit restarted and the link again
    (at most one mail a day); a confirmed one only gets a mail with its own link.
    """
    address = _address(email)
    locale = locale if locale in current_app.config["LANGUAGES"] else "sv"

    def work() -> Outcome:
        _check_organisations(choice.organisation_ids)
        subscription = _locked(Subscription.email == address)
        if subscription is None:
            fresh = Subscription(email=address, locale=locale, created_at=clock.now())
            _apply(fresh, choice)
            try:
                with db.session.begin_nested():  # two requests for one address at once
                    db.session.add(fresh)
                    db.session.flush()
            except IntegrityError:
                subscription = _locked(Subscription.email == address)
                if subscription is None:
                    raise
            else:
                notices.confirmation_request(fresh)
                return Outcome.STARTED
        if subscription.confirmed_at is not None:
            notices.already_subscribed(subscription)
            return Outcome.EXISTS
        _apply(subscription, choice)
        subscription.locale = locale
        subscription.created_at = clock.now()
        notices.confirmation_request(subscription)
        return Outcome.RESENT

    return write_transaction(work)


def confirm(confirm_token: str) -> Subscription:
    """Consent given: the person followed the link and pressed the button. Confirming
    again changes nothing. ``NotFound`` for an unknown (or deleted) subscription."""
    if not _token_ok(confirm_token):
        raise NotFound()

    def work() -> Subscription:
        subscription = _locked(Subscription.confirm_token == confirm_token)
        if subscription is None or link_expired(subscription):
            raise NotFound()
        if subscription.confirmed_at is None:
            subscription.confirmed_at = clock.now()
        return subscription

    return write_transaction(work)


def change(manage_token: str, choice: Choice) -> Subscription:
    """The subscriber changes how often and what they get, from their personal page."""
    if not _token_ok(manage_token):
        raise NotFound()

    def work() -> Subscription:
        subscription = _locked(Subscription.manage_token == manage_token)
        if subscription is None:
            raise NotFound()
        _check_organisations(choice.organisation_ids)
        _apply(subscription, choice)
        return subscription

    return write_transaction(work)


def _erase(subscription_ids: list[int]) -> None:
    """Delete subscriptions with everything that names them, their mail included."""
    if not subscription_ids:
        return
    for model in (SubscriptionDelivery, SubscriptionKind, SubscriptionOrganisation):
        db.session.execute(
            sa.delete(model)
            .where(model.subscription_id.in_(subscription_ids))
            .execution_options(synchronize_session=False)
        )
    for subscription_id in subscription_ids:
        outbox.discard(notices.key_prefix(subscription_id))
    db.session.execute(
        sa.delete(Subscription)
        .where(Subscription.id.in_(subscription_ids))
        .execution_options(synchronize_session=False)
    )


def unsubscribe(manage_token: str) -> bool:
    """Stop at once: the address and all that belongs to it are deleted. Returns whether
    there was a subscription (unsubscribing twice is not an error)."""
    if not _token_ok(manage_token):
        return False

    def work() -> bool:
        subscription = _locked(Subscription.manage_token == manage_token)
        if subscription is None:
            return False
        subscription_id = subscription.id
        db.session.expunge(subscription)
        _erase([subscription_id])
        return True

    return write_transaction(work)


@dataclass(frozen=True)
class Purged:
    unconfirmed: int
    delivery_records: int


def purge(now: datetime | None = None, days: float | None = None) -> Purged:
    """Delete subscriptions not confirmed within ``days`` (default the setting) and the
    delivery records of events that are over (nothing can be sent about them any more).
    Audited when anything was deleted. Safe to run as often as you like."""
    now = now or clock.now()
    if days is None:
        days = _unconfirmed_days()
    cutoff = now - timedelta(days=days)

    def work() -> Purged:
        stale = list(
            db.session.scalars(
                sa.select(Subscription.id).where(
                    Subscription.confirmed_at.is_(None), Subscription.created_at < cutoff
                )
            )
        )
        _erase(stale)
        upcoming = sa.select(EventSession.event_id).where(EventSession.ends_at > now)
        finished = db.session.execute(
            sa.delete(SubscriptionDelivery)
            .where(SubscriptionDelivery.event_id.not_in(upcoming))
            .execution_options(synchronize_session=False)
        )
        result = Purged(len(stale), finished.rowcount or 0)
        if result.unconfirmed or result.delivery_records:
            audit.record(
                None,
                "subscriptions.purge",
                None,
                {
                    "unconfirmed": result.unconfirmed,
                    "delivery_records": result.delivery_records,
                    "older_than_days": days,
                },
            )
        return result

    return write_transaction(work)
