"""Gauging interest: the deadline check that cron runs, and interest figures.

Turning interest into seats (confirm) and cancelling live in ``registrations.seats``.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..core import clock
from ..core.database import write_transaction
from ..core.extensions import db
from ..models import Event, EventStatus, Organisation, Registration, RegistrationStatus
from ..registrations import notices
from ..registrations.locking import lock_event


def interest_by_organisation(event_id: int) -> list[tuple[str, int]]:
    """(organisation name, interested count), largest first, counted in the database."""
    rows = db.session.execute(
        sa.select(Organisation.name, sa.func.count(Registration.id))
        .join(Registration, Registration.organisation_id == Organisation.id)
        .where(
            Registration.event_id == event_id,
            Registration.status == RegistrationStatus.INTERESTED,
        )
        .group_by(Organisation.name)
        .order_by(sa.func.count(Registration.id).desc(), Organisation.name)
    )
    return [(name, int(n)) for name, n in rows]


def notify_passed_deadlines() -> int:
    """Mail the organiser of each gauging event whose deadline passed undecided. Once each."""
    due = db.session.scalars(
        sa.select(Event.id).where(
            Event.status == EventStatus.GAUGING,
            Event.interest_deadline <= clock.now(),
            Event.deadline_notified_at.is_(None),
        )
    ).all()
    told = 0
    for event_id in due:

        def work(event_id: int = event_id) -> bool:
            event = lock_event(event_id)
            if event.status != EventStatus.GAUGING or event.deadline_notified_at is not None:
                return False  # decided, or another run got here first
            figures = interest_by_organisation(event.id)
            event.deadline_notified_at = clock.now()
            return notices.interest_deadline_passed(event, sum(n for _, n in figures), figures)

        if write_transaction(work):
            told += 1
    return told
