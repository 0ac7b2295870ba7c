"""The course the mail benchmarks send about: two days in Alingsås with an organisation,
added to the session of the caller's write transaction (imports are late: the caller sets
the environment before the app is imported)."""

from __future__ import annotations


def add_course(capacity: int, description: str = ""):
    """The event and its organisation, flushed (so both have ids)."""
    from datetime import timedelta

    from app.core import clock
    from app.core.extensions import db
    from app.models import Event, EventKind, EventSession, EventStatus, Organisation

    org = Organisation(name="Alingsås kommun")
    start = clock.now() + timedelta(days=20)
    event = Event(
        kind=EventKind.COURSE,
        title="Föräldraskapsstöd i praktiken",
        description=description,
        what_to_bring="Anteckningsblock",
        capacity=capacity,
        status=EventStatus.OPEN,
        contact_email="kursledare@kommun.example",
    )
    for day in range(2):
        event.sessions.append(
            EventSession(
                starts_at=start + timedelta(days=day),
                ends_at=start + timedelta(days=day, hours=7),
                venue="Alingsås kulturhus, Sal Fors",
            )
        )
    db.session.add_all([org, event])
    db.session.flush()
    return event, org
