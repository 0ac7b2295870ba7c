"""Random runs of the seats module against a model of first come, first served.

A Hypothesis state machine signs people up (with repeated emails in other letter case and
resubmitted forms), signs up work teams (kept together or not, some members already
registered), cancels registrations in every state, cancels a team member or a whole team,
splits teams, raises and lowers capacity (lowering below the seats taken must be refused),
promotes by hand, cancels events, and gathers interest for a lecture that it may confirm.
The model serves the waiting list by its own first-fit reading of the team rule. After every step the database must
match the model registration by registration, mail by mail, and keep the rules of docs/architecture.md
(``tests.rules.assert_rules``).

Profiles: ``seats`` (SQLite, the default), ``seats-servers`` (PostgreSQL and MariaDB,
smaller), both derandomized; ``seats-random`` and ``seats-long`` (500 runs) explore new
cases. Choose with KVARN_HYPOTHESIS_PROFILE, e.g.
``KVARN_HYPOTHESIS_PROFILE=seats-long pytest tests/test_seats_stateful.py -k sqlite``.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from app.core.errors import Refused
from app.core.extensions import db
from app.models import (
    Event,
    EventKind,
    EventStatus,
    OutboxMessage,
    Registration,
    RegistrationStatus,
    Role,
    User,
)
from app.registrations import reads, seats
from tests import factories as f
from tests.plugins.databases import empty_tables
from tests.rules import assert_rules

S = RegistrationStatus
SEATED = (S.CONFIRMED,)  # the model never checks anyone in
ACTIVE = (S.CONFIRMED, S.WAITLISTED, S.INTERESTED)
NOT_WAITING = (S.CONFIRMED, S.INTERESTED, S.CANCELLED)

_common = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
}
# The CI profiles are derandomized: the same runs every time, so the check that every move
# was exercised (MUST_SEE) cannot flake. seats-random and seats-long explore afresh.
settings.register_profile(
    "seats", max_examples=40, stateful_step_count=60, derandomize=True, **_common
)
settings.register_profile(
    "seats-servers", max_examples=10, stateful_step_count=40, derandomize=True, **_common
)
settings.register_profile("seats-random", max_examples=30, stateful_step_count=50, **_common)
settings.register_profile("seats-long", max_examples=500, stateful_step_count=80, **_common)

PEOPLE = 8  # a small pool of addresses, so the same person signs up again

#: What the runs did, counted over all examples (and checked at the end: see MUST_SEE).
seen: Counter = Counter()


def note(what: str) -> None:
    seen[what] += 1
    event(what)


#: Moves a run of the default profile must have made, or it proved less than it claims.
MUST_SEE = {
    "sign-up: confirmed",
    "sign-up: waitlisted",
    "sign-up: interested",
    "sign-up: already registered",
    "sign-up: resubmitted",
    "sign-up: refused, full",
    "sign-up: refused, event cancelled",
    "cancel: confirmed",
    "cancel: waitlisted",
    "cancel: interested",
    "cancel: cancelled",
    "capacity: raised",
    "capacity: lowered",
    "capacity: refused below seats taken",
    "promote by hand: done",
    "promote by hand: refused",
    "cancel event: open",
    "cancel event: gauging",
    "cancel event: refused",
    "confirm gauged: refused",
    "confirm gauged: some wait",
    "confirm gauged: all get seats",
    "team: kept, seats",
    "team: kept, waits",
    "team: not kept, some wait",
    "team: refused, someone already registered",
    "team: some rows left out",
    "team: refused, too large to keep together",
    "fill: passed over a waiting team",
    "sign-up: seated past a waiting team",
    "cancel team member",
    "cancel team",
    "split team",
    "promote by hand: a team",
}


@dataclass
class ModelRegistration:
    id: int
    event: str
    email: str
    token: str
    status: S
    already_notices: int = 0
    team: ModelTeam | None = None


@dataclass
class ModelTeam:
    id: int
    event: str
    token: str
    kept: bool


@dataclass
class ModelEvent:
    id: int
    status: EventStatus
    capacity: int
    waitlist_enabled: bool = True
    threshold: int | None = None
    threshold_reached: bool = False
    registrations: list[ModelRegistration] = field(default_factory=list)

    def with_status(self, *statuses: S) -> list[ModelRegistration]:
        return [r for r in self.registrations if r.status in statuses]

    def seated(self) -> int:
        return len(self.with_status(*SEATED))

    def active_by_email(self, email: str) -> ModelRegistration | None:
        return next(
            (r for r in self.registrations if r.email == email and r.status != S.CANCELLED), None
        )

    def units(self, status: S = S.WAITLISTED) -> list[list[ModelRegistration]]:
        """Those in ``status`` in arrival order; a team kept together is one unit, at its
        first member's place."""
        result: list[list[ModelRegistration]] = []
        teams: dict[int, list[ModelRegistration]] = {}
        for r in self.with_status(status):
            if r.team is not None and r.team.kept:
                if r.team.id not in teams:
                    teams[r.team.id] = []
                    result.append(teams[r.team.id])
                teams[r.team.id].append(r)
            else:
                result.append([r])
        return result

    def fits(self, newcomers: list[list[object]]) -> set[int]:
        """Indexes of the newcomer units that get seats now: first fit, behind everyone."""
        free = self.capacity - self.seated()
        chosen: set[int] = set()
        for index, unit in enumerate([*self.units(), *newcomers]):
            if free <= 0:
                break
            if len(unit) <= free:
                free -= len(unit)
                chosen.add(index)
        waiting = len(self.units())
        return {i - waiting for i in chosen if i >= waiting}


class SeatsMachine(RuleBasedStateMachine):
    """The seats module against a list of registrations kept in first-come order."""

    def __init__(self):
        super().__init__()
        db.session.remove()
        empty_tables()
        self.events: dict[str, ModelEvent] = {}
        self.by_id: dict[int, ModelRegistration] = {}
        self.mails: Counter = Counter()  # (registration id, kind) -> count
        self.key_owner: dict[str, ModelRegistration] = {}
        self.next_key = 0
        self.tried: set[tuple[str, str]] = set()  # refusals already tried this run
        self.steps = 0
        self.tries: Counter = Counter()  # how often a refusal was tried this run
        self.teams: list[ModelTeam] = []
        self.next_newcomer = 0

    # --- set-up ------------------------------------------------------------------------

    @initialize(
        open_capacity=st.integers(0, 4),
        waitlist=st.sampled_from([True, True, False]),
        gauged_capacity=st.integers(0, 3),
        threshold=st.integers(1, 4),
    )
    def setup(self, open_capacity, waitlist, gauged_capacity, threshold):
        self.org = f.organisation()

        def staff():
            user = User(
                email="coordinator@kommun.test",
                name="Koordinator",
                password_hash="-",  # never logs in
                role=Role.COORDINATOR,
                organisation_id=self.org.id,
            )
            db.session.add(user)
            db.session.flush()
            return user.id

        from app.core.database import write_transaction

        self.user_id = write_transaction(staff)
        course = f.event(capacity=open_capacity, waitlist_enabled=waitlist)
        lecture = f.event(
            capacity=gauged_capacity,
            status=EventStatus.GAUGING,
            kind=EventKind.LECTURE,
            interest_threshold=threshold,
        )
        self.events["course"] = ModelEvent(course.id, EventStatus.OPEN, open_capacity, waitlist)
        self.events["lecture"] = ModelEvent(
            lecture.id, EventStatus.GAUGING, gauged_capacity, threshold=threshold
        )

    # --- the model's own moves ---------------------------------------------------------

    def _fill(self, event: ModelEvent) -> None:
        """Freed seats go to the waitlist in order, a unit at a time, first fit (only in an
        open or closed event)."""
        if event.status not in (EventStatus.OPEN, EventStatus.CLOSED):
            return
        free = event.capacity - event.seated()
        passed_over = False
        for unit in event.units():
            if free <= 0:
                break
            if len(unit) > free:
                passed_over = True
                continue
            free -= len(unit)
            if passed_over:
                note("fill: passed over a waiting team")
            for registration in unit:
                registration.status = S.CONFIRMED
                self.mails[registration.id, "promoted"] += 1

    def _expect_refusal(self, call, *args):
        with pytest.raises(Refused):
            call(*args)

    # --- rules ---------------------------------------------------------------------------

    def _sign_up(self, which: str, person: int, upper: bool, key: str | None):
        event = self.events[which]
        email = f"person{person}@example.org"
        data = seats.SignUp(
            name=f"Person {person}",
            email=email.upper() if upper else email,
            organisation_id=self.org.id,
            submission_key=key,
        )
        earlier = self.key_owner.get(key) if key else None
        if earlier is not None and earlier.event == which and earlier.email == email:
            # Only the same person's same form is a resubmission; another email with a
            # used key is a new sign-up (a form restored on a shared computer).
            result = seats.sign_up(event.id, data)
            assert result.outcome == seats.Outcome.RESUBMITTED
            assert result.registration.id == earlier.id
            note("sign-up: resubmitted")
            return
        if event.status == EventStatus.CANCELLED:
            self._expect_refusal(seats.sign_up, event.id, data)
            note("sign-up: refused, event cancelled")
            return
        existing = event.active_by_email(email)
        if existing is not None:
            result = seats.sign_up(event.id, data)
            assert result.outcome == seats.Outcome.ALREADY_REGISTERED
            assert result.registration is None
            existing.already_notices += 1
            note("sign-up: already registered")
            return
        if event.status == EventStatus.GAUGING:
            expected = S.INTERESTED
        elif event.fits([["newcomer"]]):
            expected = S.CONFIRMED
            if any(len(unit) > 1 for unit in event.units()):
                note("sign-up: seated past a waiting team")
        elif event.waitlist_enabled:
            expected = S.WAITLISTED
        else:
            with pytest.raises(Refused) as refused:
                seats.sign_up(event.id, data)
            assert refused.value.code == "full"
            note("sign-up: refused, full")
            return

        result = seats.sign_up(event.id, data)
        assert result.outcome == seats.Outcome(expected.value)
        note(f"sign-up: {expected.value}" + (" (a used key)" if earlier else ""))
        created = result.registration
        registration = ModelRegistration(
            created.id, which, email, created.manage_token, expected
        )
        event.registrations.append(registration)
        self.by_id[created.id] = registration
        kind = {S.CONFIRMED: "confirmation", S.WAITLISTED: "waitlisted"}.get(
            expected, "interest_received"
        )
        self.mails[created.id, kind] += 1
        if expected == S.INTERESTED and not event.threshold_reached:
            if len(event.with_status(S.INTERESTED)) >= event.threshold:
                event.threshold_reached = True
        if key:
            # The key is taken now (a used key sent again by someone else is not stored).
            self.key_owner.setdefault(key, registration)
        return registration

    def _fresh_key(self, with_key: bool) -> str | None:
        if not with_key:
            return None
        self.next_key += 1
        return f"key{self.next_key}"

    def _having(self, *statuses: S) -> list[ModelRegistration]:
        return [r for r in self.by_id.values() if r.status in statuses]

    def _choose(self, statuses: tuple[S, ...], status: S, pick: int) -> ModelRegistration:
        """One registration in one of ``statuses``, preferring ``status`` (rare states too)."""
        candidates = self._having(status) or self._having(*statuses)
        return candidates[pick % len(candidates)]

    # Sign-ups drive everything else, so each event has its own rule (twice the share).
    @rule(person=st.integers(0, PEOPLE - 1), upper=st.booleans(), with_key=st.booleans())
    def sign_up_course(self, person, upper, with_key):
        self._sign_up("course", person, upper, self._fresh_key(with_key))

    @rule(person=st.integers(0, PEOPLE - 1), upper=st.booleans(), with_key=st.booleans())
    def sign_up_lecture(self, person, upper, with_key):
        self._sign_up("lecture", person, upper, self._fresh_key(with_key))

    @precondition(lambda self: self.key_owner)
    @rule(
        which=st.sampled_from(["course", "lecture"]),
        person=st.integers(0, PEOPLE - 1),
        pick=st.integers(0, 99),
    )
    def resubmit(self, which, person, pick):
        """A form sent again (double click), possibly changed, possibly to the other event."""
        keys = sorted(self.key_owner)
        self._sign_up(which, person, False, keys[pick % len(keys)])

    @precondition(lambda self: self._having(*ACTIVE))
    @rule(status=st.sampled_from(ACTIVE), pick=st.integers(0, 99))
    def cancel(self, status, pick):
        self._cancel(self._choose(ACTIVE, status, pick))

    @precondition(lambda self: self._having(S.CANCELLED) and self.tries["cancel again"] < 3)
    @rule(pick=st.integers(0, 99))
    def cancel_again(self, pick):
        self.tries["cancel again"] += 1
        self._cancel(self._choose((S.CANCELLED,), S.CANCELLED, pick))

    def _cancel(self, registration: ModelRegistration) -> None:
        event = self.events[registration.event]
        result = seats.cancel(registration.token)
        assert result.id == registration.id
        note(f"cancel: {registration.status.value}")
        if registration.status == S.CANCELLED:
            return  # nothing more happens, nobody is told again
        registration.status = S.CANCELLED
        self.mails[registration.id, "cancelled"] += 1
        self._fill(event)

    @precondition(lambda self: self.by_id)  # changes matter once people are there
    @rule(which=st.sampled_from(["course", "lecture"]), change=st.sampled_from([-1, 1, -2, 2, 0]))
    def set_capacity(self, which, change):
        event = self.events[which]
        capacity = max(0, event.capacity + change)
        if capacity < event.seated():
            self._expect_refusal(seats.set_capacity, event.id, capacity, self.user_id)
            note("capacity: refused below seats taken")
            return
        note(f"capacity: {'raised' if change > 0 else 'lowered' if change < 0 else 'same'}")
        seats.set_capacity(event.id, capacity, self.user_id)
        event.capacity = capacity
        self._fill(event)

    @precondition(lambda self: self._having(S.WAITLISTED))
    @rule(pick=st.integers(0, 99))
    def promote_by_hand(self, pick):
        self._promote(self._choose((S.WAITLISTED,), S.WAITLISTED, pick))

    @precondition(lambda self: self._having(*NOT_WAITING) and self.tries["promote refused"] < 3)
    @rule(status=st.sampled_from(NOT_WAITING), pick=st.integers(0, 99))
    def promote_by_hand_refused(self, status, pick):
        self.tries["promote refused"] += 1
        self._promote(self._choose(NOT_WAITING, status, pick))

    def _promote(self, registration: ModelRegistration) -> None:
        event = self.events[registration.event]
        if registration.status != S.WAITLISTED:
            self._expect_refusal(seats.promote_by_hand, registration.id, self.user_id)
            note("promote by hand: refused")
            return
        note("promote by hand: done")
        seats.promote_by_hand(registration.id, self.user_id)
        together = [registration]
        if registration.team is not None and registration.team.kept:
            note("promote by hand: a team")
            together = [r for r in event.with_status(S.WAITLISTED) if r.team is registration.team]
        event.capacity = max(event.capacity, event.seated() + len(together))
        for member in together:
            member.status = S.CONFIRMED
            self.mails[member.id, "promoted"] += 1

    def _cancel_event(self, which: str) -> None:
        event = self.events[which]
        if event.status in (EventStatus.CANCELLED, EventStatus.FINISHED):
            self.tried.add(("cancel event", which))
            self._expect_refusal(seats.cancel_event, event.id, self.user_id)
            note("cancel event: refused")
            return
        note(f"cancel event: {event.status.value}")
        seats.cancel_event(event.id, self.user_id, "Inställt.")
        event.status = EventStatus.CANCELLED
        for registration in event.with_status(S.CONFIRMED, S.WAITLISTED, S.INTERESTED):
            registration.status = S.CANCELLED
            self.mails[registration.id, "event_cancelled"] += 1

    def _may_cancel_event(self, which: str) -> bool:
        """Late in a run (a few people in), and a refused second time once per run."""
        if not self.events:
            return False
        event = self.events[which]
        if event.status == EventStatus.CANCELLED:
            return ("cancel event", which) not in self.tried
        return self.steps >= 15 and len(event.with_status(*ACTIVE)) >= 3

    @precondition(lambda self: self._may_cancel_event("course"))
    @rule()
    def cancel_course(self):
        self._cancel_event("course")

    @precondition(lambda self: self._may_cancel_event("lecture"))
    @rule()
    def cancel_lecture(self):
        self._cancel_event("lecture")

    @precondition(
        lambda self: self.events
        and (
            len(self.events["lecture"].with_status(S.INTERESTED)) >= 2
            or self.events["lecture"].status != EventStatus.GAUGING
            and ("confirm", "lecture") not in self.tried
        )
    )
    @rule()
    def confirm_lecture(self):
        event = self.events["lecture"]
        if event.status != EventStatus.GAUGING:
            self.tried.add(("confirm", "lecture"))
            self._expect_refusal(seats.open_gauged_event, event.id, self.user_id)
            note("confirm gauged: refused")
            return
        interested = event.with_status(S.INTERESTED)
        note(
            "confirm gauged: "
            + ("some wait" if len(interested) > event.capacity else "all get seats")
        )
        seats.open_gauged_event(event.id, self.user_id)
        event.status = EventStatus.OPEN
        free, seated = event.capacity, set()
        for unit in event.units(S.INTERESTED):  # the team rule, first fit
            if len(unit) <= free:
                free -= len(unit)
                seated.update(r.id for r in unit)
        for registration in interested:
            seat = registration.id in seated
            registration.status = S.CONFIRMED if seat else S.WAITLISTED
            self.mails[registration.id, "confirmation" if seat else "waitlisted"] += 1

    @precondition(lambda self: self.events and ("confirm", "course") not in self.tried)
    @rule()
    def confirm_course(self):
        """An event that is not gauging interest cannot be 'confirmed'."""
        self.tried.add(("confirm", "course"))
        self._expect_refusal(seats.open_gauged_event, self.events["course"].id, self.user_id)
        note("confirm gauged: refused")


    # --- work teams ----------------------------------------------------------------------

    @rule(
        which=st.sampled_from(["course", "course", "lecture"]),
        # Colleagues mostly from outside the pool of single sign-ups, some from inside it.
        people=st.lists(st.integers(0, 3 * PEOPLE - 1), min_size=2, max_size=3, unique=True),
        kept=st.sampled_from([True, True, False]),
    )
    def sign_up_team(self, which, people, kept):
        event = self.events[which]
        emails = [f"person{p}@example.org" for p in people]
        data = seats.TeamSignUp(
            members=tuple(
                seats.Member(f"Person {p}", email, self.org.id) for p, email in zip(people, emails, strict=True)
            ),
            keep_together=kept,
        )
        if event.status == EventStatus.CANCELLED:
            self._expect_refusal(seats.sign_up_team, event.id, data)
            return
        gauging = event.status == EventStatus.GAUGING
        if kept and not gauging and len(emails) > event.capacity:
            self._expect_refusal(seats.sign_up_team, event.id, data)
            note("team: refused, too large to keep together")
            return
        taken = [i for i, email in enumerate(emails) if event.active_by_email(email)]
        rows = [i for i in range(len(emails)) if i not in taken]
        if taken and (kept or not rows):
            with pytest.raises(seats.RowsRefused) as refused:
                seats.sign_up_team(event.id, data)
            assert sorted(refused.value.rows) == taken
            note("team: refused, someone already registered")
            return
        if gauging:
            statuses = dict.fromkeys(rows, S.INTERESTED)
        else:
            newcomers = [rows] if kept else [[i] for i in rows]
            placed = event.fits(newcomers)
            seated = {i for n in placed for i in newcomers[n]}
            statuses = {i: S.CONFIRMED if i in seated else S.WAITLISTED for i in rows}
            if not event.waitlist_enabled and S.WAITLISTED in statuses.values():
                if kept or all(v == S.WAITLISTED for v in statuses.values()):
                    with pytest.raises(Refused) as refused:
                        seats.sign_up_team(event.id, data)
                    assert refused.value.code == "full"
                    return
                statuses = {i: v for i, v in statuses.items() if v == S.CONFIRMED}
        result = seats.sign_up_team(event.id, data)
        assert [i for i, _ in result.placed] == sorted(statuses)
        assert sorted(result.refused) == sorted(set(range(len(emails))) - set(statuses))
        if result.refused:
            note("team: some rows left out")
        values = set(statuses.values())
        if kept and not gauging:
            note("team: kept, seats" if values == {S.CONFIRMED} else "team: kept, waits")
        elif not gauging and S.WAITLISTED in values:
            note("team: not kept, some wait")
        team = ModelTeam(result.team.id, which, result.manage_token, kept)
        for i, created in result.placed:
            assert created.status == statuses[i]
            registration = ModelRegistration(
                created.id, which, emails[i], created.manage_token, statuses[i], team=team
            )
            event.registrations.append(registration)
            self.by_id[created.id] = registration
            kind = {S.CONFIRMED: "confirmation", S.WAITLISTED: "waitlisted"}[statuses[i]] if not gauging else "interest_received"
            self.mails[created.id, kind] += 1
        for i in taken:
            event.active_by_email(emails[i]).already_notices += 1
        self.teams.append(team)
        if gauging and not event.threshold_reached:
            if len(event.with_status(S.INTERESTED)) >= event.threshold:
                event.threshold_reached = True

    def _members(self, team: ModelTeam) -> list[ModelRegistration]:
        return [r for r in self.events[team.event].registrations if r.team is team]

    @precondition(lambda self: any(r.team for r in self._having(*ACTIVE)))
    @rule(pick=st.integers(0, 99))
    def cancel_team_member(self, pick):
        members = [r for r in self._having(*ACTIVE) if r.team is not None]
        registration = members[pick % len(members)]
        seats.cancel_team_member(registration.team.token, registration.id)
        note("cancel team member")
        registration.status = S.CANCELLED
        self.mails[registration.id, "cancelled"] += 1
        self._fill(self.events[registration.event])

    @precondition(lambda self: any(r.team for r in self._having(*ACTIVE)))
    @rule(pick=st.integers(0, 99))
    def cancel_team(self, pick):
        teams = sorted({r.team.id: r.team for r in self._having(*ACTIVE) if r.team}.items())
        team = teams[pick % len(teams)][1]
        seats.cancel_team(team.token)
        note("cancel team")
        for registration in self._members(team):
            if registration.status in ACTIVE:
                registration.status = S.CANCELLED
                self.mails[registration.id, "cancelled"] += 1
        self._fill(self.events[team.event])

    def _waiting_kept(self) -> list[ModelRegistration]:
        return [r for r in self._having(S.WAITLISTED) if r.team is not None and r.team.kept]

    @precondition(lambda self: self._waiting_kept() and self.next_newcomer < 20)
    @rule()
    def sign_up_behind_a_waiting_team(self):
        """Someone new signs up while a team kept together waits (a seat if one fits them)."""
        which = self._waiting_kept()[0].event
        self.next_newcomer += 1
        self._sign_up(which, 100 + self.next_newcomer, False, None)

    @precondition(lambda self: self._waiting_kept() and self._having(S.CONFIRMED))
    @rule(pick=st.integers(0, 99))
    def cancel_while_a_team_waits(self, pick):
        """A seat frees while a team kept together waits: who behind it fits goes first."""
        self._cancel(self._choose((S.CONFIRMED,), S.CONFIRMED, pick))

    @precondition(lambda self: self._waiting_kept())
    @rule(pick=st.integers(0, 99))
    def promote_team_member_by_hand(self, pick):
        waiting = self._waiting_kept()
        self._promote(waiting[pick % len(waiting)])

    @precondition(lambda self: any(t.kept for t in self.teams))
    @rule(pick=st.integers(0, 99))
    def split_team(self, pick):
        kept = [t for t in self.teams if t.kept]
        team = kept[pick % len(kept)]
        seats.set_keep_together(team.token, False)
        note("split team")
        team.kept = False
        self._fill(self.events[team.event])

    # --- after every step ----------------------------------------------------------------

    @invariant()
    def database_matches_model(self):
        if not self.events:
            return
        self.steps += 1
        db.session.rollback()  # read what is committed now
        for ev in self.events.values():
            row = db.session.execute(
                sa.select(Event.status, Event.capacity).where(Event.id == ev.id)
            ).one()
            assert (row.status, row.capacity) == (ev.status, ev.capacity)
            actual = db.session.execute(
                sa.select(Registration.id, Registration.status)
                .where(Registration.event_id == ev.id)
                .order_by(Registration.created_at, Registration.id)
            ).all()
            assert [(r.id, r.status) for r in actual] == [
                (r.id, r.status) for r in ev.registrations
            ], "statuses (in first-come order) differ from the model"
            waiting = ev.with_status(S.WAITLISTED)
            rows = {
                r.id: r
                for r in db.session.scalars(
                    sa.select(Registration).where(
                        Registration.id.in_([w.id for w in waiting] or [-1])
                    )
                )
            }
            expected = {r.id: n for n, unit in enumerate(ev.units(), start=1) for r in unit}
            assert {w.id: reads.waitlist_position(rows[w.id]) for w in waiting} == expected
            assert reads.waitlist_positions(ev.id) == expected
            assert_rules(ev.id)

        sent = Counter(
            tuple(row)
            for row in db.session.execute(
                sa.select(OutboxMessage.registration_id, OutboxMessage.kind).where(
                    OutboxMessage.registration_id.is_not(None),
                    OutboxMessage.kind != "already_registered",
                )
            )
        )
        assert sent == +self.mails, "the mail queued differs from the changes made"

        reminders = Counter(
            db.session.scalars(
                sa.select(OutboxMessage.registration_id).where(
                    OutboxMessage.kind == "already_registered"
                )
            )
        )
        for registration in self.by_id.values():
            got, tries = reminders[registration.id], registration.already_notices
            # At most one reminder of the link per clock hour, however often it is asked for.
            assert (got == 0) if tries == 0 else (1 <= got <= min(tries, 2))

        told = Counter(
            db.session.scalars(
                sa.select(OutboxMessage.recipient).where(OutboxMessage.kind == "threshold_reached")
            )
        )
        # Reaching the threshold is told once (to whoever the event says), and only then.
        assert bool(told) == self.events["lecture"].threshold_reached
        assert all(n == 1 for n in told.values()), told


def test_seats_against_the_model(db_app):
    backend = db.engine.dialect.name
    default = "seats" if backend == "sqlite" else "seats-servers"
    profile = os.environ.get("KVARN_HYPOTHESIS_PROFILE", default)
    seen.clear()
    run_state_machine_as_test(SeatsMachine, settings=settings.get_profile(profile))
    print(f"{backend}, profile {profile}:", dict(sorted(seen.items())))
    if profile == "seats":
        assert MUST_SEE <= set(seen), f"never exercised: {sorted(MUST_SEE - set(seen))}"
        assert any("a used key" in k for k in seen), "no used form key sent again by someone else"
