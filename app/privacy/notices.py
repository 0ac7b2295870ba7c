"""The mails of a person's own data: the download link, the erasure link, the receipt.

Each is queued in the transaction of the request (``own_data``, ``erasure``) through the
outbox, in the person's language. The two links go to the registration's own address:
whoever holds a personal link has not shown that they own the address (anyone can sign up
with any address), so only a link mailed there opens the person's data across events.
"""

from __future__ import annotations

import uuid

from flask import current_app

from ..core import clock
from ..core.urls import absolute_url
from ..mail import outbox
from ..models import Registration
from . import links


def _contact() -> str | None:
    config = current_app.config
    return (config.get("DPO_EMAIL") or config.get("CONTACT_EMAIL") or None) or None


def _hour() -> str:
    return clock.now().strftime("%Y%m%d%H")


def own_data_link(registration: Registration) -> bool:
    """The link to download everything held about the registration's address."""
    token = links.make(links.OWN_DATA, registration)
    return outbox.enqueue(
        kind="own_data_link",
        recipient=registration.email,
        locale=registration.locale,
        dedupe_key=f"own-data:{registration.id}:{_hour()}",
        context={
            "registration": registration,
            "action_url": absolute_url(f"/r/data/{token}/kvarn-data.json"),
            "hours": links.hours(),
            "contact_email": _contact(),
        },
        registration_id=registration.id,
    )


def erasure_link(registration: Registration, registrations: int, events: int) -> bool:
    """The link that confirms the erasure of every registration of the address."""
    token = links.make(links.ERASURE, registration)
    return outbox.enqueue(
        kind="erasure_confirm",
        recipient=registration.email,
        locale=registration.locale,
        dedupe_key=f"erasure-request:{registration.id}:{_hour()}",
        context={
            "registration": registration,
            "action_url": absolute_url(f"/r/erase/{token}"),
            "hours": links.hours(),
            "registrations": registrations,
            "events": events,
            "contact_email": _contact(),
        },
        registration_id=registration.id,
    )


def erasure_done(address: str, locale: str, registrations: int, events: int, cancelled: int) -> bool:
    """The receipt, to the address being erased: counts only, no name, no link. Filed
    under no registration; its recipient goes once it is sent (``forgetting``)."""
    return outbox.enqueue(
        kind="erasure_done",
        recipient=address,
        locale=locale,
        dedupe_key=f"erasure-done:{uuid.uuid4().hex}",
        context={
            "registration": None,
            "action_url": None,
            "registrations": registrations,
            "events": events,
            "cancelled": cancelled,
            "contact_email": _contact(),
        },
        key_checked=True,
    )
