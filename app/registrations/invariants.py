"""The rules that must never break (docs/architecture.md), checked from what the
database holds: an independent reading, not the seats module's own decisions.

``rule_violations(event_id)`` returns the broken rules as sentences. The tests (storm,
state machine, through ``tests/rules.py``), the rush benchmark and ``flask seats check``
use it. It reads with plain queries in the current app context and changes nothing.
Checked, for one event:

1. seats taken (confirmed, attended, no-show) <= capacity;
2. no waiting unit fits in the free seats (a unit is one person, or a team kept together:
   it may sit out only while it does not fit), and nobody waits in an event that is not
   open or closed; waiting is first come, first served: nobody holds a seat ahead of an
   earlier person waiting alone in ``(created_at, id)`` order, except people promoted by
   hand (audit ``registration.promote``) or added at the door (``registration.walk_in``)
   — the waiting teams kept together that are passed over are exactly those that do not
   fit (first fit), and members of a team split since
   (audit ``team.split``) may have been passed over while it was kept;
3. at most one active registration per (event, email), and ``active_email`` says exactly
   which rows are active;
4. a cancelled event has no active registration;
5. the team rule: the active members of a team kept together all have seats, all wait, or
   all are interested — never some of each.
6. a registration is attended exactly while it is checked in at a session of the event.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import sqlalchemy as sa

from ..core.extensions import db
from ..models import (
    AuditEntry,
    Event,
    EventStatus,
    Registration,
    RegistrationStatus,
    SessionAttendance,
    Team,
)
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
            Team.keep_together,
        )
        .outerjoin(Team, Team.id == Registration.team_id)
        .where(Registration.event_id == event_id)
        .order_by(Registration.created_at, Registration.id)
    ).all()

    def kept(r) -> bool:
        return r.team_id is not None and bool(r.keep_together)

    problems: list[str] = []

    seated = [r for r in rows if r.status in SEATED]
    waiting = [r for r in rows if r.status == S.WAITLISTED]
    if len(seated) > event.capacity:
        problems.append(f"{len(seated)} seats taken but capacity is {event.capacity}")

    free = event.capacity - len(seated)
    if waiting and event.status not in (EventStatus.OPEN, EventStatus.CLOSED):
        problems.append(f"{len(waiting)} waitlisted in an event that is {event.status.value}")
    elif waiting and free > 0 and event.phase() != EventStatus.FINISHED:
        teams: dict[int, int] = Counter(r.team_id for r in waiting if kept(r))
        alone = [r.id for r in waiting if not kept(r)]
        fitting = [team for team, size in teams.items() if size <= free]
        if alone or fitting:
            problems.append(
                f"{free} seat(s) free while registrations {alone} and teams {fitting} wait"
            )

    hand_promoted = set(
        db.session.scalars(
            sa.select(AuditEntry.object_id).where(
                # Given a seat by hand, or at the door (a walk-in gets a seat of its own).
                AuditEntry.action.in_(["registration.promote", "registration.walk_in"]),
                AuditEntry.object_type == "registration",
                AuditEntry.object_id.in_([r.id for r in rows] or [-1]),
            )
        )
    )
    # Members of a team that was kept together and later split may have been passed over
    # then (first fit), so people behind them may hold seats rightly.
    team_ids = {r.team_id for r in rows if r.team_id is not None}
    split = set(
        db.session.scalars(
            sa.select(AuditEntry.object_id).where(
                AuditEntry.action == "team.split",
                AuditEntry.object_type == "team",
                AuditEntry.object_id.in_(team_ids or {-1}),
            )
        )
    )
    first_waiting = next(
        (
            i
            for i, r in enumerate(rows)
            if r.status == S.WAITLISTED and not kept(r) and r.team_id not in split
        ),
        None,
    )
    if first_waiting is not None:
        jumped = [
            r.id
            for r in rows[first_waiting + 1 :]
            if r.status in SEATED and r.id not in hand_promoted
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

    placed = defaultdict(set)
    for r in rows:
        if kept(r) and r.status != S.CANCELLED:
            placed[r.team_id].add("seated" if r.status in SEATED else r.status.value)
    for team_id, kinds in sorted(placed.items()):
        if len(kinds) > 1:
            problems.append(f"team {team_id} is kept together but its members are {sorted(kinds)}")

    if event.status == EventStatus.CANCELLED and active:
        problems.append(
            f"the event is cancelled but {sum(map(len, active.values()))} registrations are active"
        )

    checked_in = set(
        db.session.scalars(
            sa.select(SessionAttendance.registration_id)
            .join(Registration, Registration.id == SessionAttendance.registration_id)
            .where(Registration.event_id == event_id)
        )
    )
    attended = {r.id for r in rows if r.status == S.ATTENDED}
    if attended != checked_in:
        problems.append(
            f"registrations {sorted(attended - checked_in)} are attended without a check-in and "
            f"{sorted(checked_in - attended)} are checked in without being attended"
        )
    return problems
