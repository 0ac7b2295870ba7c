"""The rules that must never break (docs/architecture.md), checked from what the
database holds: an independent reading, not the seats module's own decisions.

``rule_violations(event_id)`` returns the broken rules as sentences. The tests (storm,
state machine, through ``tests/rules.py``), the rush benchmark and ``flask seats check``
use it. It reads with plain queries in the current app context and changes nothing.
Checked, for one event:

1. seats taken (confirmed, attended, no-show) <= capacity;
2. no waitlisted person while a seat is free (a waiting team may sit out only if it does
   not fit), and nobody waits in an event that is not open or closed;
   waiting is first come, first served: nobody holds a seat ahead of an earlier waitlisted
   person in ``(created_at, id)`` order, except people promoted by hand (audit
   ``registration.promote``) and team members (first fit);
3. at most one active registration per (event, email), and ``active_email`` says exactly
   which rows are active;
4. a cancelled event has no active registration.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import sqlalchemy as sa

from ..core.extensions import db
from ..models import AuditEntry, Event, EventStatus, Registration, RegistrationStatus
from .statuses import SEATED

S = RegistrationStatus


def rule_violations(event_id: int) -> list[str]:
    """Every broken rule for the event, as a sentence; an empty list when all hold."""
    event = db.session.execute(
        sa.select(Event).where(Event.id == event_id).execution_options(populate_existing=True)
    ).scalar_one()
    rows = db.session.execute(
        sa.select(
            Registration.id,
            Registration.email,
            Registration.active_email,
            Registration.status,
            Registration.team_id,
        )
        .where(Registration.event_id == event_id)
        .order_by(Registration.created_at, Registration.id)
    ).all()
    problems: list[str] = []

    seated = [r for r in rows if r.status in SEATED]
    waiting = [r for r in rows if r.status == S.WAITLISTED]
    if len(seated) > event.capacity:
        problems.append(f"{len(seated)} seats taken but capacity is {event.capacity}")

    free = event.capacity - len(seated)
    if waiting and event.status not in (EventStatus.OPEN, EventStatus.CLOSED):
        problems.append(f"{len(waiting)} waitlisted in an event that is {event.status.value}")
    elif waiting and free > 0 and event.phase() != EventStatus.FINISHED:
        teams: dict[int, int] = Counter(r.team_id for r in waiting if r.team_id is not None)
        alone = [r.id for r in waiting if r.team_id is None]
        fitting = [team for team, size in teams.items() if size <= free]
        if alone or fitting:
            problems.append(
                f"{free} seat(s) free while registrations {alone} and teams {fitting} wait"
            )

    hand_promoted = set(
        db.session.scalars(
            sa.select(AuditEntry.object_id).where(
                AuditEntry.action == "registration.promote",
                AuditEntry.object_type == "registration",
                AuditEntry.object_id.in_([r.id for r in rows] or [-1]),
            )
        )
    )
    first_waiting = next((i for i, r in enumerate(rows) if r.status == S.WAITLISTED), None)
    if first_waiting is not None:
        jumped = [
            r.id
            for r in rows[first_waiting + 1 :]
            if r.status in SEATED and r.id not in hand_promoted and r.team_id is None
        ]
        if jumped:
            problems.append(
                f"registrations {jumped} hold seats although registration "
                f"{rows[first_waiting].id} came earlier and still waits"
            )

    active = defaultdict(list)
    for r in rows:
        if r.status != S.CANCELLED:
            active[r.email.strip().lower()].append(r.id)
        expected = None if r.status == S.CANCELLED else r.email
        if r.active_email != expected:
            problems.append(
                f"registration {r.id} is {r.status.value} but active_email is {r.active_email!r}"
            )
    for email, ids in active.items():
        if len(ids) > 1:
            problems.append(f"{email} has {len(ids)} active registrations: {ids}")

    if event.status == EventStatus.CANCELLED and active:
        problems.append(
            f"the event is cancelled but {sum(map(len, active.values()))} registrations are active"
        )
    return problems
