"""The mails of subscriptions: the confirmation link, "you already subscribe", the digest
and the announcement of free seats. Called inside the transaction that decides them.

Every dedupe key starts with ``subscription:<id>:`` (``key_prefix``), so unsubscribing
can take the person's mail out of the outbox with them, and names what it is about:
``confirm:<day>`` and ``exists:<day>`` (at most one of each a day, however often the
form is sent), ``digest:<period>``, ``announcement:<event>``. Digests and announcements
carry ``List-Unsubscribe`` and ``List-Unsubscribe-Post`` (RFC 8058 one-click).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from ..core import clock
from ..core.urls import absolute_url
from ..mail import outbox
from ..models import Event, EventStatus, Subscription
from ..registrations.notices import event_url, reply_to_for
from . import labels

CONFIRM = "subscription_confirm"
EXISTS = "subscription_exists"
DIGEST = "subscription_digest"
ANNOUNCEMENT = "subscription_announcement"


def key_prefix(subscription_id: int) -> str:
    """What every dedupe key of one subscriber's mail starts with."""
    return f"subscription:{subscription_id}:"


def subscription_url(subscription: Subscription) -> str:
    return absolute_url(f"/subscriptions/{subscription.manage_token}")


def unsubscribe_url(subscription: Subscription) -> str:
    return absolute_url(f"/subscriptions/{subscription.manage_token}/unsubscribe")


def confirm_url(subscription: Subscription) -> str:
    return absolute_url(f"/subscriptions/confirm/{subscription.confirm_token}")


def list_headers(subscription: Subscription) -> dict[str, str]:
    """RFC 2369 and RFC 8058: mail programs offer an "unsubscribe" button that POSTs
    ``List-Unsubscribe=One-Click`` to the URL (the MTA's DKIM signature should cover both)."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(subscription)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def _day(at: datetime | None = None) -> str:
    return clock.local(at or clock.now()).date().isoformat()


def _context(subscription: Subscription, **extra) -> dict:
    return {
        "subscription": subscription,
        "subscription_url": subscription_url(subscription),
        "unsubscribe_url": unsubscribe_url(subscription),
        "unconfirmed_days": int(current_app.config["SUBSCRIPTION_UNCONFIRMED_DAYS"]),
        "contact_email": None,
        **labels.template_helpers(),
        **extra,
    }


def confirmation_request(subscription: Subscription) -> bool:
    """The double opt-in link; at most one a day per address."""
    return outbox.enqueue(
        kind=CONFIRM,
        recipient=subscription.email,
        locale=subscription.locale,
        dedupe_key=f"{key_prefix(subscription.id)}confirm:{_day()}",
        context=_context(subscription, confirm_url=confirm_url(subscription)),
    )


def already_subscribed(subscription: Subscription) -> bool:
    """The subscribe form was sent for an address that already subscribes: its own link,
    to that address only (at most one a day)."""
    return outbox.enqueue(
        kind=EXISTS,
        recipient=subscription.email,
        locale=subscription.locale,
        dedupe_key=f"{key_prefix(subscription.id)}exists:{_day()}",
        context=_context(subscription),
    )


@dataclass(frozen=True)
class DigestEntry:
    """One event in a digest, as the mail shows it."""

    event: Event
    url: str
    starts_at: datetime
    ends_at: datetime
    sessions: int
    venue: str | None
    #: Seats a newcomer can get now; None while the event gauges interest.
    seats_left: int | None


def digest_entry(event: Event, confirmed: int, waitlisted: int) -> DigestEntry:
    first = event.sessions[0]
    seats = None
    if event.status != EventStatus.GAUGING:
        seats = 0 if waitlisted else max(event.capacity - confirmed, 0)
    return DigestEntry(
        event=event,
        url=event_url(event),
        starts_at=first.starts_at,
        ends_at=first.ends_at,
        sessions=len(event.sessions),
        venue=first.venue,
        seats_left=seats,
    )


def digest_key(subscription_id: int, period: str) -> str:
    return f"{key_prefix(subscription_id)}digest:{period}"


def digest(subscription: Subscription, entries: list[DigestEntry], period: str) -> bool:
    """The new events of one period, in one mail."""
    return outbox.enqueue(
        kind=DIGEST,
        recipient=subscription.email,
        locale=subscription.locale,
        dedupe_key=digest_key(subscription.id, period),
        context=_context(subscription, entries=entries, period=period),
        headers=list_headers(subscription),
        key_checked=False,
    )


def announcement_key(subscription_id: int, event_id: int) -> str:
    return f"{key_prefix(subscription_id)}announcement:{event_id}"


def announcement_context(subscription: Subscription, event: Event, seats_left: int) -> dict:
    return _context(
        subscription,
        event=event,
        sessions=list(event.sessions),
        event_url=event_url(event),
        contact_email=reply_to_for(event),
        seats_left=seats_left,
    )


def announcement(subscription: Subscription, event: Event, seats_left: int) -> bool:
    """Free seats at ``event``. The caller has recorded the delivery in this transaction
    (``subscription_delivery``), which is what proves no earlier one exists."""
    return outbox.enqueue(
        kind=ANNOUNCEMENT,
        recipient=subscription.email,
        locale=subscription.locale,
        dedupe_key=announcement_key(subscription.id, event.id),
        context=announcement_context(subscription, event, seats_left),
        reply_to=reply_to_for(event),
        event_id=event.id,
        headers=list_headers(subscription),
        key_checked=True,
    )
