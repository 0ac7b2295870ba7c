"""The signed links mailed for a person's own data: one to download it, one to erase it.

A link names a registration (the personal link the person asked from) and a digest of the
address it was mailed to, never the address itself (links end up in server logs); it works
for ``PRIVACY_LINK_HOURS`` and only while that registration still has that address. Each
purpose has its own salt, so a download link can never erase anything.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer

from ..core import clock
from ..core.errors import Refused
from ..core.extensions import db
from ..models import Registration
from ..registrations.seats import ERASED_DOMAIN

OWN_DATA = "own-data"
ERASURE = "erasure"
PURPOSES = (OWN_DATA, ERASURE)
#: A link longer than this was never made here.
MAX_LENGTH = 300

BAD_LINK = _l(
    "This link does not work any more: it has expired, it has been used, or the registration "
    "has changed. Ask for a new one from your personal page."
)


class LinkRefused(Refused):
    """A link that does not work (any more): the page says so, with status 410."""

    def __init__(self) -> None:
        super().__init__(BAD_LINK)


class LinkUsed(LinkRefused):
    """The link's registration has been erased already (by this link, or by the
    retention rules): there is nothing left to show or erase."""


@dataclass(frozen=True)
class Link:
    registration: Registration
    #: The address the link was mailed to (the registration's address).
    email: str


def hours() -> int:
    return int(current_app.config["PRIVACY_LINK_HOURS"])


def _serializer(purpose: str) -> URLSafeSerializer:
    if purpose not in PURPOSES:
        raise ValueError(purpose)
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"kvarn-privacy-{purpose}")


def _digest(email: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, email.encode(), hashlib.sha256).hexdigest()[:32]


def make(purpose: str, registration: Registration) -> str:
    """The signed token of a link for ``registration`` (mailed to its address)."""
    issued = int(clock.now().timestamp())
    return _serializer(purpose).dumps([registration.id, _digest(registration.email), issued])


def read(purpose: str, token: str) -> Link:
    """The registration and address a token names, or ``Refused`` (expired, forged, used)."""
    if not token or len(token) > MAX_LENGTH:
        raise LinkRefused()
    try:
        registration_id, digest, issued = _serializer(purpose).loads(token)
        registration_id, issued = int(registration_id), int(issued)
    except (BadSignature, ValueError, TypeError):
        raise LinkRefused() from None
    if clock.now().timestamp() - issued > hours() * 3600 or not 0 < registration_id < 2**31:
        raise LinkRefused()
    registration = db.session.get(Registration, registration_id)
    if registration is None:
        raise LinkRefused()
    if registration.email.endswith("@" + ERASED_DOMAIN):
        raise LinkUsed()
    if not hmac.compare_digest(_digest(registration.email), str(digest)):
        raise LinkRefused()  # moved to another address meanwhile
    return Link(registration, registration.email)
