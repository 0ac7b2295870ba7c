"""A storm of real OS processes at one event: the seats module decides as if one at a time.

Four spawned processes, each with its own app (and engine and connection pool) on the
test database, start 15 threads each and release them together. 60 sign-ups hit an event
with 10 seats; then the 10 people with seats cancel at once. Arrival order is the order
the database serialised the sign-ups in: ``(created_at, id)``, both assigned under the
event lock. The checks: exactly 10 seats, positions 1..50 in that order, that order agrees
with the wall clock (a call that returned before another started is ahead of it), and the
10 cancellations promote exactly the first 10 who waited, with one "promoted" mail each.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
import traceback
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.core.extensions import db
from app.models import OutboxMessage, Registration, RegistrationStatus, Team
from app.registrations import reads, seats
from tests import factories as f
from tests.rules import assert_rules

S = RegistrationStatus

PROCESSES = 4
THREADS = 15  # per process: 60 callers at once
CAPACITY = 10
SIGNUPS = PROCESSES * THREADS
TIMEOUT = 90  # seconds for any one wait on the children

CHILD_KEYS = ("SQLALCHEMY_DATABASE_URI", "TESTING", "SECRET_KEY", "BASE_URL", "MAIL_DEFAULT_SENDER")


def _call(app, task: tuple) -> dict:
    """One sign-up, cancellation or confirm in its own app context, timed on the wall clock."""
    kind, arg, event_id, org_id = task
    with app.app_context():
        started = time.time()
        try:
            if kind == "sign_up":
                result = seats.sign_up(
                    event_id,
                    seats.SignUp(name=arg, email=f"{arg}@storm.test", organisation_id=org_id),
                )
                outcome = result.outcome.value
                reg_id = result.registration.id if result.registration else None
            elif kind == "team":
                prefix, size, keep = arg
                members = tuple(
                    seats.Member(f"{prefix}-{i}", f"{prefix}-{i}@storm.test", org_id) for i in range(size)
                )
                result = seats.sign_up_team(event_id, seats.TeamSignUp(members, keep_together=keep))
                outcome = [r.status.value for _, r in result.placed]
                reg_id = result.team.id
            elif kind == "confirm":
                confirmed, waitlisted = seats.open_gauged_event(event_id, user_id=None)
                outcome, reg_id = f"{len(confirmed)}+{len(waitlisted)}", None
            else:
                registration = seats.cancel(arg)
                outcome, reg_id = registration.status.value, registration.id
            error = None
        except Exception:  # reported to the parent, which fails the test with it
            outcome, reg_id, error = None, None, traceback.format_exc()
        finally:
            db.session.remove()
        return {
            "task": task,
            "outcome": outcome,
            "id": reg_id,
            "started": started,
            "returned": time.time(),
            "error": error,
        }


def _child(inbox, results, ready) -> None:
    """A storm process: for each batch of calls, wait for everyone, then make them all at once.

    Apps (one per database URL) are made on first use and kept, so one set of processes
    serves the storm on every backend.
    """
    from app import create_app

    apps: dict[str, object] = {}
    while (message := inbox.get(timeout=TIMEOUT * 3)) is not None:
        config, tasks = message
        app = apps.get(config["SQLALCHEMY_DATABASE_URI"])
        if app is None:
            app = apps[config["SQLALCHEMY_DATABASE_URI"]] = create_app(config)
            with app.app_context():
                # Open the pool's connections before the start, so the calls collide on
                # the event lock and not on connecting.
                conns = [db.engine.connect() for _ in range(THREADS)]
                for conn in conns:
                    conn.close()
        go = threading.Event()
        out: list[dict] = []

        def run(task, app=app, go=go, out=out):
            go.wait(TIMEOUT)
            out.append(_call(app, task))

        threads = [threading.Thread(target=run, args=(task,)) for task in tasks]
        for thread in threads:
            thread.start()
        ready.wait(TIMEOUT)  # all processes and the parent: the barrier is the starting gun
        go.set()
        for thread in threads:
            thread.join(TIMEOUT)
        results.put(out)
    for app in apps.values():
        with app.app_context():
            db.engine.dispose()


class Storm:
    """Spawned processes that make batches of calls together, released at one instant."""

    def __init__(self):
        ctx = multiprocessing.get_context("spawn")
        self.ready = ctx.Barrier(PROCESSES + 1)
        self.results = ctx.Queue()
        self.inboxes = [ctx.Queue() for _ in range(PROCESSES)]
        self.processes = [
            ctx.Process(target=_child, args=(inbox, self.results, self.ready), daemon=True)
            for inbox in self.inboxes
        ]
        for process in self.processes:
            process.start()

    def run(self, config: dict, tasks: list[tuple]) -> list[dict]:
        """Hand each process its share of tasks, release them together, gather the results."""
        for index, inbox in enumerate(self.inboxes):
            inbox.put((config, tasks[index::PROCESSES]))
        self.ready.wait(TIMEOUT)  # every process has its threads waiting for the start
        gathered: list[dict] = []
        for _ in self.processes:
            try:
                gathered.extend(self.results.get(timeout=TIMEOUT))
            except queue.Empty:
                pytest.fail("a storm process did not report back in time")
        errors = [r["error"] for r in gathered if r["error"]]
        assert not errors, "calls failed in the storm:\n" + "\n".join(errors)
        assert len(gathered) == len(tasks)
        return gathered

    def close(self) -> None:
        for inbox in self.inboxes:
            inbox.put(None)
        for process in self.processes:
            process.join(15)
        for process in self.processes:
            if process.is_alive():
                process.kill()
                process.join(5)


@pytest.fixture(scope="module")
def storm():
    """One set of storm processes for the whole module (spawning costs seconds on 2 cores)."""
    processes = Storm()
    yield processes
    processes.close()


def _rows(event_id: int) -> list[Registration]:
    db.session.rollback()  # a fresh read: the storm committed in other processes
    return list(
        db.session.scalars(
            sa.select(Registration)
            .where(Registration.event_id == event_id)
            .order_by(Registration.created_at, Registration.id)
        )
    )


def most_at_once(calls: list[dict]) -> int:
    """The most calls in flight at one instant (each from its start to its return): that
    the storm was one. (Counting only those that started before the first returned let a
    quick first caller on a busy machine make a real storm look like a queue.)"""
    moments = sorted(
        [(c["returned"], -1) for c in calls] + [(c["started"], 1) for c in calls]
    )  # at the same instant a return comes before a start: they did not overlap
    most = now = 0
    for _, step in moments:
        now += step
        most = max(most, now)
    return most


def _as_ts(moment: datetime) -> float:
    return moment.astimezone(UTC).timestamp()


@pytest.mark.slow
def test_storm_of_processes_keeps_first_come_first_served(db_app, storm):
    org = f.organisation()
    event = f.event(capacity=CAPACITY)
    # The children use the very database this test's app uses.
    config = {key: db_app.config[key] for key in CHILD_KEYS}
    # --- 60 sign-ups at once --------------------------------------------------
    calls = storm.run(
        config, [("sign_up", f"p{n:02d}", event.id, org.id) for n in range(SIGNUPS)]
    )
    rows = _rows(event.id)
    assert len(rows) == SIGNUPS
    statuses = [r.status for r in rows]
    assert statuses == [S.CONFIRMED] * CAPACITY + [S.WAITLISTED] * (SIGNUPS - CAPACITY)

    # Arrival order is the database's serial order; ids were handed out under the
    # same lock, so they must agree with (created_at, id).
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    by_id = {r.id: r for r in rows}
    rank = {r.id: i for i, r in enumerate(rows)}
    for call in calls:
        row = by_id[call["id"]]
        # What each caller was told is what the database holds.
        assert call["outcome"] == row.status.value
        # The decision happened inside the call (one clock: the same machine).
        assert call["started"] - 0.001 <= _as_ts(row.created_at) <= call["returned"] + 0.001
    for a in calls:
        for b in calls:
            if a["returned"] < b["started"]:
                assert rank[a["id"]] < rank[b["id"]], "a later call got ahead of an earlier one"

    waiting = rows[CAPACITY:]
    positions = [reads.waitlist_position(r) for r in waiting]
    assert positions == list(range(1, SIGNUPS - CAPACITY + 1))
    in_flight = most_at_once(calls)
    assert in_flight >= SIGNUPS // 2, f"only {in_flight} sign-ups were in flight at once"
    assert_rules(event.id)

    # --- the 10 with seats cancel at once -----------------------------------------
    seated = rows[:CAPACITY]
    cancels = storm.run(config, [("cancel", r.manage_token, event.id, org.id) for r in seated])
    assert sorted(c["id"] for c in cancels) == sorted(r.id for r in seated)
    assert {c["outcome"] for c in cancels} == {"cancelled"}
    assert most_at_once(cancels) >= CAPACITY // 2

    after = {r.id: r.status for r in _rows(event.id)}
    first_waiting = [r.id for r in waiting[:CAPACITY]]
    still_waiting = [r.id for r in waiting[CAPACITY:]]
    assert [after[i] for i in first_waiting] == [S.CONFIRMED] * CAPACITY
    assert [after[i] for i in still_waiting] == [S.WAITLISTED] * len(still_waiting)
    assert {after[r.id] for r in seated} == {S.CANCELLED}
    refreshed = _rows(event.id)
    positions = [reads.waitlist_position(r) for r in refreshed if r.status == S.WAITLISTED]
    assert positions == list(range(1, len(still_waiting) + 1))

    # Every promotion queued exactly one mail, in the transaction that promoted.
    mails = db.session.execute(
        sa.select(OutboxMessage.kind, OutboxMessage.registration_id).where(
            OutboxMessage.event_id == event.id
        )
    ).all()
    promoted = sorted(reg_id for kind, reg_id in mails if kind == "promoted")
    assert promoted == sorted(first_waiting)
    cancelled = sorted(reg_id for kind, reg_id in mails if kind == "cancelled")
    assert cancelled == sorted(r.id for r in seated)
    created = sorted(reg_id for kind, reg_id in mails if kind in ("confirmation", "waitlisted"))
    assert created == sorted(r.id for r in rows)
    assert_rules(event.id)


@pytest.mark.slow
def test_confirm_racing_with_interest_loses_nobody(db_app, storm):
    """An organiser confirms a gauged lecture while 40 people register interest at once."""
    from datetime import timedelta

    from app.core import clock
    from app.models import EventStatus

    org = f.organisation()
    event = f.event(
        capacity=CAPACITY,
        status=EventStatus.GAUGING,
        interest_threshold=5,
        interest_deadline=clock.now() + timedelta(days=3),
    )
    config = {key: db_app.config[key] for key in CHILD_KEYS}
    people = [("sign_up", f"i{n:02d}", event.id, org.id) for n in range(40)]
    tasks = people[:20] + [("confirm", "", event.id, org.id)] + people[20:]
    calls = storm.run(config, tasks)

    rows = _rows(event.id)
    signed = [c for c in calls if c["task"][0] == "sign_up"]
    # No interest lost: every caller has a row, and nobody is left merely interested.
    assert sorted(c["id"] for c in signed) == sorted(r.id for r in rows)
    assert len(rows) == 40
    assert S.INTERESTED not in {r.status for r in rows}
    # First come, first served across the confirm: seats in arrival order, then the queue.
    assert [r.status for r in rows] == [S.CONFIRMED] * CAPACITY + [S.WAITLISTED] * 30
    positions = [reads.waitlist_position(r) for r in rows[CAPACITY:]]
    assert positions == list(range(1, 31))
    # Each person heard exactly once about the outcome (seat or waiting list).
    outcome_mail = db.session.execute(
        sa.select(OutboxMessage.registration_id, sa.func.count()).where(
            OutboxMessage.event_id == event.id,
            OutboxMessage.kind.in_(["confirmation", "waitlisted"]),
        ).group_by(OutboxMessage.registration_id)
    ).all()
    assert sorted(outcome_mail) == sorted((r.id, 1) for r in rows)
    assert_rules(event.id)


def _replay(events: list[tuple], capacity: int) -> dict[int, str]:
    """The statuses first come, first served with the team rule gives when the storm's
    sign-ups and cancellations happen one at a time in the order the database serialised
    them: an independent model (first fit, a kept team one unit at its first place)."""
    status: dict[int, str] = {}
    order: list[int] = []
    kept_team: dict[int, int | None] = {}

    def units() -> list[list[int]]:
        result, teams = [], {}
        for rid in order:
            if status[rid] != "waitlisted":
                continue
            team = kept_team[rid]
            if team is None:
                result.append([rid])
            elif team in teams:
                teams[team].append(rid)
            else:
                teams[team] = [rid]
                result.append(teams[team])
        return result

    def free() -> int:
        return capacity - sum(s == "confirmed" for s in status.values())

    def first_fit(queue) -> list[int]:
        left, chosen = free(), []
        for unit in queue:
            if left > 0 and len(unit) <= left:
                chosen += unit
                left -= len(unit)
        return chosen

    for _moment, kind, ids, team in events:
        if kind == "cancel":
            status[ids[0]] = "cancelled"
        else:
            for rid in ids:
                status[rid], kept_team[rid] = "waitlisted", team
                order.append(rid)
        for rid in first_fit(units()):
            status[rid] = "confirmed"
    return status


@pytest.mark.slow
def test_storm_of_teams_singles_and_cancellations_keeps_the_team_rule(db_app, storm):
    """Teams (kept together and not) race single sign-ups and cancellations; the outcome
    must be what one-at-a-time first come, first served with the team rule gives."""
    org = f.organisation()
    capacity = 12
    event = f.event(capacity=capacity)
    config = {key: db_app.config[key] for key in CHILD_KEYS}
    early = [f.sign_up(event.id, org.id, f"early{n}").registration for n in range(8)]
    tasks = [("sign_up", f"s{n:02d}", event.id, org.id) for n in range(20)]
    tasks += [("team", (f"t{n}", 2 + n % 3, n % 2 == 0), event.id, org.id) for n in range(8)]
    tasks += [("cancel", r.manage_token, event.id, org.id) for r in early[:6]]
    calls = storm.run(config, tasks)

    rows = _rows(event.id)
    assert_rules(event.id)
    teams = {t.id: t for t in db.session.scalars(sa.select(Team).where(Team.event_id == event.id))}
    assert len(teams) == 8
    # What each team caller was told is what the database holds, member by member, unless a
    # later cancellation promoted a member who was told to wait.
    for call in calls:
        if call["task"][0] == "team":
            members = [r for r in rows if r.team_id == call["id"]]
            assert len(members) == len(call["outcome"])
            for member, told in zip(members, call["outcome"], strict=True):
                assert told == member.status.value or (told, member.status) == ("waitlisted", S.CONFIRMED)
    # Replay in the database's serial order: sign-ups by (created_at, id), cancellations by
    # the moment they were made (both stamped under the event lock).
    seen_teams, events = set(), []
    for r in rows:
        if r.id in {e.id for e in early}:
            events.append((_as_ts(r.created_at), "single", [r.id], None))
        elif r.team_id is None:
            events.append((_as_ts(r.created_at), "single", [r.id], None))
        elif r.team_id not in seen_teams:
            seen_teams.add(r.team_id)
            members = [m.id for m in rows if m.team_id == r.team_id]
            kept = r.team_id if teams[r.team_id].keep_together else None
            events.append((_as_ts(r.created_at), "team", members, kept))
    cancelled = {r.id for r in early[:6]}
    events += [(_as_ts(r.status_changed_at), "cancel", [r.id], None) for r in rows if r.id in cancelled]
    events.sort(key=lambda e: (e[0], e[1] != "single" and e[1] != "team"))
    expected = _replay(events, capacity)
    assert {r.id: r.status.value for r in rows} == expected
    assert sum(r.status == S.CONFIRMED for r in rows) == capacity
    # One creation mail per member, one summary per team, one promotion mail per promotion.
    mails = db.session.execute(
        sa.select(OutboxMessage.kind, OutboxMessage.registration_id).where(OutboxMessage.event_id == event.id)
    ).all()
    created = sorted(reg for kind, reg in mails if kind in ("confirmation", "waitlisted"))
    assert created == sorted(r.id for r in rows)
    assert sum(kind == "team_created" for kind, _ in mails) == 8
    promoted = sorted(reg for kind, reg in mails if kind == "promoted")
    waited = {reg for kind, reg in mails if kind == "waitlisted"}
    assert promoted == sorted(r.id for r in rows if r.id in waited and r.status == S.CONFIRMED)


def test_most_at_once_tells_a_storm_from_a_queue():
    queue = [{"started": t, "returned": t + 1} for t in range(5)]  # one after another
    assert most_at_once(queue) == 1
    storm = [{"started": t / 10, "returned": 10 + t} for t in range(5)]
    assert most_at_once(storm) == 5
    # A quick first caller: only it had returned when the rest were still running.
    quick_first = [{"started": 0, "returned": 0.1}] + [
        {"started": 0.2 + t, "returned": 9} for t in range(4)
    ]
    assert most_at_once(quick_first) == 4
