"""The event lock: every decision about an event's seats is taken while holding it.

``lock_event`` runs ``SELECT ... FOR UPDATE`` on the event row (on SQLite the write
transaction itself began with ``BEGIN IMMEDIATE``) and refuses to run outside
``write_transaction``: a lock taken in a read transaction would protect nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..core.database import require_write_transaction
from ..core.errors import NotFound
from ..core.extensions import db
from ..models import Event

# Built once: SQLAlchemy then only looks up its compiled SQL on every sign-up.
_LOCK_EVENT = (
    sa.select(Event)
    .where(Event.id == sa.bindparam("event_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


def lock_event(event_id: int) -> Event:
    """The event, locked for the rest of this write transaction (``NotFound`` if none)."""
    require_write_transaction()
    event = db.session.execute(_LOCK_EVENT, {"event_id": event_id}).scalar_one_or_none()
    if event is None:
        raise NotFound(_l("There is no such event."))
    return event
