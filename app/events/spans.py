"""An event's stored span: ``Event.span_start`` and ``Event.span_end`` are the first start
and the last end of its sessions (None without sessions), kept so on every flush.

The listing, the feeds, the staff list and the coordinator's dashboard filter and order
events by when they happen. Computed from the sessions, that is an aggregate over every
session of every event, past ones included, in every such query: its cost grows with the
archive. Stored on the event and indexed (``ix_event_span``), the upcoming events are one
index range, whatever the archive holds.

This module owns the rule. Its flush hook sees every session added, changed or removed
through the ORM (the event editor, the demo, the tests) and writes the two columns of
the events concerned in the same flush, so they are never out of step within a
transaction. A bulk insert of sessions outside the ORM writes them itself
(``devtools.scale``). ``Event.starts_at`` and ``Event.ends_at`` still read the loaded
sessions, so they are current even before a flush.
"""

from __future__ import annotations

from datetime import datetime
from itertools import chain

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from ..models import Event, EventSession


def span_of(sessions: list[EventSession]) -> tuple[datetime | None, datetime | None]:
    """The first start and the last end of ``sessions``; (None, None) for none."""
    if not sessions:
        return None, None
    return min(s.starts_at for s in sessions), max(s.ends_at for s in sessions)


def _sessions_changed(event: Event) -> bool:
    return sa.inspect(event).attrs.sessions.history.has_changes()


def _touched(row: EventSession) -> bool:
    attrs = sa.inspect(row).attrs
    return any(attrs[name].history.has_changes() for name in ("starts_at", "ends_at", "event_id", "event"))


def _owned_by(row: EventSession, event: Event) -> bool:
    """Whether ``row`` is a session of ``event`` once flushed: an event id set by hand
    wins, then the relationship as changed (None: taken out of the event's sessions, an
    orphan the flush deletes), then as loaded, then the stored id."""
    attrs = sa.inspect(row).attrs
    given = attrs.event_id.history.added
    if given and given[0] is not None:
        return given[0] == event.id
    if attrs.event.history.has_changes() or row.event is not None:
        return row.event is event
    return row.event_id is not None and row.event_id == event.id


def _events_of(session: Session, row: EventSession) -> set[Event]:
    """The events a changed session belongs to, now and before the change."""
    attrs = sa.inspect(row).attrs
    found = {row.event, *attrs.event.history.deleted}
    for event_id in (*attrs.event_id.history.added, *attrs.event_id.history.deleted, row.event_id):
        if event_id is not None:
            found.add(session.get(Event, event_id))
    return {event for event in found if event is not None}


def _events_to_update(session: Session) -> set[Event]:
    events: set[Event] = set()
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, Event):
            if obj in session.new or _sessions_changed(obj):
                events.add(obj)
        elif isinstance(obj, EventSession) and (
            obj in session.new or obj in session.deleted or _touched(obj)
        ):
            events |= _events_of(session, obj)
    return {event for event in events if event not in session.deleted}


def _sessions_of(session: Session, event: Event) -> list[EventSession]:
    """The event's sessions as the flush will leave them."""
    rows = set(event.sessions)
    rows.update(obj for obj in chain(session.new, session.dirty) if isinstance(obj, EventSession))
    return [row for row in rows if row not in session.deleted and _owned_by(row, event)]


def keep_spans(session: Session, _flush_context, _instances) -> None:
    """Before a flush: the span of every event whose sessions changed, from its sessions."""
    for event in _events_to_update(session):
        start, end = span_of(_sessions_of(session, event))
        if event.span_start != start:
            event.span_start = start
        if event.span_end != end:
            event.span_end = end


def init_app(_app: Flask) -> None:
    if not sa.event.contains(Session, "before_flush", keep_spans):
        sa.event.listen(Session, "before_flush", keep_spans)
