"""The printable poster of an event for the staff room: title, dates, venue, seats left
and a QR code (segno) to the public event page. Only for an event people can still sign
up for or register interest in: a poster of anything else would lead nowhere useful.
"""

from __future__ import annotations

from dataclasses import dataclass

import segno
from flask_babel import lazy_gettext as _l

from ..core.errors import Refused
from ..events import listing
from ..models import Event, EventStatus
from ..registrations import reads
from ..registrations.notices import event_url
from ..registrations.reads import Counts
from .announcements import free_seats

POSTED = (EventStatus.OPEN, EventStatus.GAUGING)


@dataclass(frozen=True)
class Poster:
    event: Event
    url: str
    qr_svg_data_uri: str
    counts: Counts
    #: Seats a newcomer can get now (None while the event gauges interest).
    seats_left: int | None


def qr_data_uri(url: str) -> str:
    """The QR code of ``url`` as an SVG data URI (black on white, a wide quiet zone so a
    phone reads it from a printed page)."""
    return segno.make(url, error="m").svg_data_uri(scale=10, border=4, dark="#000", light="#fff")


def poster(event_id: int) -> Poster:
    """The poster's facts; ``NotFound`` for no event, ``Refused`` for a draft or an event
    that is over, closed or cancelled."""
    event = listing.any_event(event_id)
    if event.phase() not in POSTED:
        raise Refused(_l("A poster is only made for an event that people can still sign up for."))
    counts = reads.counts_of(event.id)
    url = event_url(event)
    seats = None if event.status == EventStatus.GAUGING else free_seats(event, counts)
    return Poster(event, url, qr_data_uri(url), counts, seats)
