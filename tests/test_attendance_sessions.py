"""Attendance per session: a check-in per person per session, the registration's status
kept in step with its check-ins, walk-ins at the door, and what certificates and
evaluations read (``registrations.attendance``: the share of sessions attended, by the
check-in rule). On every database (``db_app``) where it touches the seats module."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from app.audit import labels
from app.core import clock
from app.core.database import write_transaction
from app.core.errors import NotFound, Refused
from app.core.extensions import db
from app.models import (
    AuditEntry,
    Event,
    EventStatus,
    Registration,
    RegistrationStatus,
    Role,
    SessionAttendance,
)
from app.registrations import attendance, seats
from app.registrations.invariants import rule_violations
from tests import factories as f
from tests.staff_helpers import make_user, outbox

S = RegistrationStatus


@pytest.fixture(autouse=True)
def english(request):
    """Refusals and audit sentences in English: the Swedish of new texts is merged later."""
    if not {"app", "db_app"} & set(request.fixturenames):
        yield
        return
    request.getfixturevalue("db_app" if "db_app" in request.fixturenames else "app")
    with force_locale("en"):
        yield


def fresh(registration_id: int) -> Registration:
    return db.session.get(Registration, registration_id, populate_existing=True)


def sessions_of(event) -> list:
    return sorted(db.session.get(Event, event.id).sessions, key=lambda s: s.starts_at)


def rows_of(registration_id: int) -> set[int]:
    db.session.expire_all()
    return attendance.sessions_checked_in(registration_id)


def entries(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


@pytest.fixture
def course():
    """A four-day course with three people seated and one waiting."""
    org = f.organisation()
    ev = f.event(capacity=3, sessions=4)
    regs = [f.sign_up(ev.id, org.id, n).registration for n in range(4)]
    return ev, org, regs, make_user(Role.ORGANISER)


# --- check-in per session --------------------------------------------------------------


def test_each_session_is_checked_in_on_its_own_and_the_status_follows(db_app, course):
    ev, org, regs, user = course
    day1, day2, day3, day4 = sessions_of(ev)
    person = regs[0].id

    seats.set_attendance(person, True, user.id, session_id=day1.id)
    first = fresh(person).checked_in_at
    assert fresh(person).status == S.ATTENDED and first is not None
    clock.travel(timedelta(days=1))
    seats.set_attendance(person, True, user.id, session_id=day2.id)
    assert rows_of(person) == {day1.id, day2.id}
    assert fresh(person).checked_in_at == first  # the first check-in stays the registration's

    # Undo day 1: still attended (day 2), and the registration's time is day 2's now.
    seats.set_attendance(person, False, user.id, session_id=day1.id)
    assert rows_of(person) == {day2.id}
    row = fresh(person)
    assert row.status == S.ATTENDED and row.checked_in_at > first
    # Undo the last one: confirmed again, no check-in time.
    seats.set_attendance(person, False, user.id, session_id=day2.id)
    row = fresh(person)
    assert row.status == S.CONFIRMED and row.checked_in_at is None and rows_of(person) == set()

    details = [e.details for e in entries("registration.attendance")]
    assert [(d["attended"], d["session"], d["sessions"]) for d in details] == [
        (True, 1, 4),
        (True, 2, 4),
        (False, 1, 4),
        (False, 2, 4),
    ]
    assert details[1]["session_id"] == day2.id
    assert rule_violations(ev.id) == []
    assert outbox("promoted") == []  # nobody's seat moved


def test_a_repeated_tap_changes_and_records_nothing(db_app, course):
    ev, org, regs, user = course
    day1 = sessions_of(ev)[0]
    seats.set_attendance(regs[0].id, True, user.id, session_id=day1.id)
    when = fresh(regs[0].id).checked_in_at
    seats.set_attendance(regs[0].id, True, user.id, session_id=day1.id)  # a second phone
    seats.set_attendance(regs[1].id, False, user.id, session_id=day1.id)  # nothing to undo
    assert fresh(regs[0].id).checked_in_at == when
    assert fresh(regs[1].id).status == S.CONFIRMED
    assert len(entries("registration.attendance")) == 1


def test_check_in_names_a_session_of_the_event(db_app, course):
    ev, org, regs, user = course
    other = f.event(sessions=1)
    with pytest.raises(Refused, match="Choose the session"):
        seats.set_attendance(regs[0].id, True, user.id)  # four sessions: which one?
    with pytest.raises(NotFound):
        seats.set_attendance(regs[0].id, True, user.id, session_id=other.sessions[0].id)
    with pytest.raises(Refused, match="Only people with a seat"):
        seats.set_attendance(regs[3].id, True, user.id, session_id=sessions_of(ev)[0].id)
    assert fresh(regs[3].id).status == S.WAITLISTED
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SessionAttendance)) == 0
    # An event of one session needs no session named (the old callers).
    single = f.event(sessions=1)
    someone = f.sign_up(single.id, org.id, 9).registration
    seats.set_attendance(someone.id, True, user.id)
    assert rows_of(someone.id) == {single.sessions[0].id}


def test_an_event_without_sessions_cannot_check_anyone_in(app):
    org = f.organisation()
    ev = f.event(sessions=0)
    person = f.sign_up(ev.id, org.id, 1).registration
    with pytest.raises(Refused, match="no sessions"):
        seats.set_attendance(person.id, True, make_user().id)


def test_the_audit_log_says_which_session(app):
    one = labels.describe(
        "registration.attendance",
        {"attended": True, "session_id": 1, "session": 1, "sessions": 1, "starts_at": "2026-12-03T08:00:00+00:00"},
    )
    many = labels.describe(
        "registration.attendance",
        {"attended": False, "session_id": 3, "session": 2, "sessions": 4, "starts_at": "2026-12-03T08:00:00+00:00"},
    )
    old = labels.describe("registration.attendance", {"attended": True})
    assert one == "Checked in at the session of 2026-12-03 09:00."
    assert many == "Check-in at session 2 of 4 (2026-12-03 09:00) undone."
    assert old == "Checked in: marked as attended."


# --- what certificates and evaluations read ---------------------------------------------


def test_the_share_of_sessions_attended_by_the_check_in_rule(db_app, course):
    ev, org, regs, user = course
    day1, day2, day3, _ = sessions_of(ev)
    # Before anyone is checked in: everyone with a seat counts as attending every session.
    assert attendance.event_had_check_in(ev.id) is False
    assert attendance.attended_sessions([r.id for r in regs]) == {
        regs[0].id: 4,
        regs[1].id: 4,
        regs[2].id: 4,
        regs[3].id: 0,  # waiting: no seat
    }
    assert attendance.attendance_share(regs[0]) == 1.0

    for session in (day1, day2, day3):
        seats.set_attendance(regs[0].id, True, user.id, session_id=session.id)
    seats.set_attendance(regs[1].id, True, user.id, session_id=day2.id)
    assert attendance.event_had_check_in(ev.id) is True
    assert attendance.attended_sessions([r.id for r in regs]) == {
        regs[0].id: 3,
        regs[1].id: 1,
        regs[2].id: 0,  # never checked in, now that check-in was used
        regs[3].id: 0,
    }
    assert attendance.attendance_share(fresh(regs[0].id)) == 0.75
    assert attendance.attendance_share(fresh(regs[1].id)) == 0.25
    assert attendance.attendance_share(fresh(regs[2].id)) == 0.0
    assert attendance.attendance_shares([regs[0].id, regs[1].id, 999_999]) == {regs[0].id: 0.75, regs[1].id: 0.25}


def test_without_check_in_cancelled_and_no_shows_attended_nothing(db_app):
    org = f.organisation()
    ev = f.event(capacity=5, sessions=2)
    kept, gone = (f.sign_up(ev.id, org.id, n).registration for n in range(2))
    seats.cancel(gone.manage_token)
    assert attendance.attended_sessions([kept.id, gone.id]) == {kept.id: 2, gone.id: 0}
    empty = f.event(sessions=0)
    nobody = f.sign_up(empty.id, org.id, 5).registration
    assert attendance.attendance_share(nobody) == 0.0


def test_the_shares_of_many_are_read_in_a_few_statements(app):
    org = f.organisation()
    events = [f.event(capacity=20, sessions=3) for _ in range(3)]
    ids = [f.sign_up(ev.id, org.id, f"{ev.id}-{n}").registration.id for ev in events for n in range(10)]
    user = make_user()
    seats.set_attendance(ids[0], True, user.id, session_id=sessions_of(events[0])[0].id)
    statements = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        shares = attendance.attendance_shares(ids)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert len(shares) == 30 and shares[ids[0]] == pytest.approx(1 / 3) and shares[ids[1]] == 0.0
    assert shares[ids[10]] == 1.0  # the second event had no check-in
    assert len(statements) <= 4


def test_today_s_session_is_the_default(app):
    ev = f.event(sessions=3, days_ahead=-1)  # yesterday, today, tomorrow
    yesterday, today, tomorrow = sessions_of(ev)
    assert attendance.default_session(db.session.get(Event, ev.id)).id == today.id
    assert attendance.held_today(today) and not attendance.held_today(tomorrow)
    event = db.session.get(Event, ev.id)
    assert attendance.default_session(event, at=yesterday.starts_at - timedelta(days=3)).id == yesterday.id
    assert attendance.default_session(event, at=tomorrow.ends_at + timedelta(days=3)).id == tomorrow.id


def test_of_two_sessions_today_the_one_not_yet_over(app):
    ev = f.event(sessions=1)

    def afternoon():
        event = db.session.get(Event, ev.id)
        morning = event.sessions[0]
        morning.starts_at = morning.starts_at.replace(hour=7, minute=0)  # 08.00 Stockholm in winter
        morning.ends_at = morning.starts_at + timedelta(hours=3)
        event.sessions.append(
            type(morning)(starts_at=morning.starts_at + timedelta(hours=5), ends_at=morning.starts_at + timedelta(hours=8))
        )

    write_transaction(afternoon)
    event = db.session.get(Event, ev.id)
    morning, later = sorted(event.sessions, key=lambda s: s.starts_at)
    assert attendance.default_session(event, at=morning.starts_at).id == morning.id
    assert attendance.default_session(event, at=morning.ends_at + timedelta(minutes=1)).id == later.id
    assert attendance.default_session(event, at=later.ends_at + timedelta(hours=1)).id == later.id


# --- walk-ins ------------------------------------------------------------------------


def test_a_walk_in_takes_a_free_seat_is_checked_in_and_gets_the_confirmation(db_app):
    org = f.organisation()
    ev = f.event(capacity=5, sessions=2)
    f.sign_up(ev.id, org.id, 1)
    day2 = sessions_of(ev)[1]
    user = make_user()
    result = seats.add_walk_in(ev.id, day2.id, "  Dörr Dörrsson ", "Dorr@Example.org", org.id, user.id)
    assert result.added and result.capacity_raised is None
    walk_in = fresh(result.registration.id)
    assert (walk_in.name, walk_in.email, walk_in.status) == ("Dörr Dörrsson", "dorr@example.org", S.ATTENDED)
    assert rows_of(walk_in.id) == {day2.id}
    [entry] = entries("registration.walk_in")
    assert entry.user_id == user.id and entry.object_id == walk_in.id
    assert entry.details["session"] == 2 and "capacity" not in entry.details
    assert outbox("confirmation")[-1] == ("confirmation", "dorr@example.org")
    assert db.session.get(Event, ev.id).capacity == 5
    assert rule_violations(ev.id) == []


def test_a_walk_in_at_a_full_event_with_a_waiting_list_gets_a_seat_of_its_own(db_app):
    org = f.organisation()
    ev = f.event(capacity=2, sessions=1)
    for n in range(3):
        f.sign_up(ev.id, org.id, n)  # two seated, one waiting
    result = seats.add_walk_in(ev.id, sessions_of(ev)[0].id, "Dörr", "dorr@example.org", org.id, make_user().id)
    assert result.capacity_raised == (2, 3)
    assert db.session.get(Event, ev.id).capacity == 3
    [entry] = entries("registration.walk_in")
    assert entry.details["capacity"] == {"from": 2, "to": 3}
    assert "capacity raised from 2 to 3" in labels.describe(entry.action, entry.details)
    waiting = db.session.scalar(sa.select(Registration).where(Registration.email == "person2@example.org"))
    assert waiting.status == S.WAITLISTED  # nobody in line was passed a seat or lost one
    assert rule_violations(ev.id) == []


def test_a_walk_in_already_seated_is_simply_checked_in(db_app):
    org = f.organisation()
    ev = f.event(capacity=2, sessions=2)
    seated = f.sign_up(ev.id, org.id, 1).registration
    day1 = sessions_of(ev)[0]
    result = seats.add_walk_in(ev.id, day1.id, "Someone", "PERSON1@example.org", org.id, make_user().id)
    assert not result.added and result.registration.id == seated.id
    assert fresh(seated.id).status == S.ATTENDED and rows_of(seated.id) == {day1.id}
    assert entries("registration.walk_in") == [] and len(entries("registration.attendance")) == 1
    assert db.session.scalar(sa.select(sa.func.count(Registration.id))) == 1
    # A double tap on the form changes nothing more.
    seats.add_walk_in(ev.id, day1.id, "Someone", "person1@example.org", org.id, make_user().id)
    assert len(entries("registration.attendance")) == 1


def test_a_walk_in_who_waits_or_whose_event_takes_no_seats_is_refused(db_app):
    org = f.organisation()
    ev = f.event(capacity=1, sessions=1)
    f.sign_up(ev.id, org.id, 1)
    f.sign_up(ev.id, org.id, 2)  # waiting
    user = make_user()
    session_id = sessions_of(ev)[0].id
    with pytest.raises(Refused, match="no seat") as refused:
        seats.add_walk_in(ev.id, session_id, "Två", "person2@example.org", org.id, user.id)
    assert refused.value.field == "email"
    draft = f.event(status=EventStatus.DRAFT, sessions=1)
    with pytest.raises(Refused, match="open or closed"):
        seats.add_walk_in(draft.id, sessions_of(draft)[0].id, "Ny", "ny@example.org", org.id, user.id)
    with pytest.raises(Refused) as no_org:
        seats.add_walk_in(ev.id, session_id, "Ny", "ny@example.org", 999_999, user.id)
    assert no_org.value.field == "organisation"
    with pytest.raises(NotFound):
        seats.add_walk_in(ev.id, sessions_of(draft)[0].id, "Ny", "ny@example.org", org.id, user.id)
    assert db.session.scalar(sa.select(sa.func.count(Registration.id))) == 2
    assert entries("registration.walk_in") == []


def test_a_cancelled_registration_does_not_stop_a_walk_in(app):
    org = f.organisation()
    ev = f.event(capacity=3, sessions=1)
    gone = f.sign_up(ev.id, org.id, 1).registration
    seats.cancel(gone.manage_token)
    result = seats.add_walk_in(ev.id, sessions_of(ev)[0].id, "Åter", "person1@example.org", org.id, make_user().id)
    assert result.added and result.registration.id != gone.id


# --- the invariant ---------------------------------------------------------------------


def test_the_invariants_notice_a_status_out_of_step_with_the_check_ins(app, course):
    ev, org, regs, user = course
    seats.set_attendance(regs[0].id, True, user.id, session_id=sessions_of(ev)[0].id)
    assert rule_violations(ev.id) == []

    def break_it():  # what only a bug outside the seats module could do
        db.session.get(Registration, regs[1].id).status = S.ATTENDED
        db.session.execute(sa.delete(SessionAttendance).where(SessionAttendance.registration_id == regs[0].id))

    write_transaction(break_it)
    assert rule_violations(ev.id) == [
        f"registrations [{regs[0].id}, {regs[1].id}] are attended without a check-in and [] "
        "are checked in without being attended"
    ]

    def the_other_way():
        db.session.add(
            SessionAttendance(
                registration_id=regs[2].id, session_id=sessions_of(ev)[1].id, checked_in_at=clock.now()
            )
        )
        db.session.get(Registration, regs[0].id).status = S.CONFIRMED
        db.session.get(Registration, regs[1].id).status = S.CONFIRMED

    write_transaction(the_other_way)
    assert rule_violations(ev.id) == [
        f"registrations [] are attended without a check-in and [{regs[2].id}] are checked in "
        "without being attended"
    ]


# --- the migration -----------------------------------------------------------------------


def test_the_migration_carries_old_check_ins_over_to_the_session_of_that_day(tmp_path):
    """An installation that checked people in before sessions were told apart: each
    check-in becomes a row for the session held that day (else the first session)."""
    from datetime import datetime

    from flask_migrate import upgrade

    from app import create_app
    from tests.plugins.databases import base_config

    app = create_app(base_config(f"sqlite:///{tmp_path / 'old.sqlite3'}"))
    with app.app_context():
        upgrade(revision="0c3d4e5f6a7b")
        day1 = datetime(2026, 3, 2, 8, 0)  # naive UTC, as stored
        day2 = datetime(2026, 3, 3, 8, 0)
        with db.engine.begin() as conn:
            meta = sa.MetaData()
            meta.reflect(conn)
            org = insert(conn, meta.tables["organisation"], name="Kommun")
            event = insert(conn, meta.tables["event"], kind="course", title="Kurs", status="open", capacity=5)
            s1 = insert(conn, meta.tables["event_session"], event_id=event, starts_at=day1, ends_at=day1 + timedelta(hours=3))
            s2 = insert(conn, meta.tables["event_session"], event_id=event, starts_at=day2, ends_at=day2 + timedelta(hours=3))
            people = {}
            for n, (status, at) in enumerate(
                [("attended", day2 + timedelta(minutes=5)), ("attended", day2 + timedelta(days=9)), ("confirmed", None)]
            ):
                people[n] = insert(
                    conn,
                    meta.tables["registration"],
                    event_id=event,
                    organisation_id=org,
                    name=f"P{n}",
                    email=f"p{n}@example.org",
                    status=status,
                    locale="sv",
                    manage_token=f"token-{n}",
                    checked_in_at=at,
                )
        upgrade(revision="1d4e5f6a7b8c")
        with db.engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT registration_id, session_id, checked_in_at FROM session_attendance ORDER BY registration_id")
            ).all()
        db.engine.dispose()
    assert [(r, s) for r, s, _ in rows] == [(people[0], s2), (people[1], s1)]
    assert str(rows[0][2]).startswith("2026-03-03 08:05")  # the time kept, in UTC


def insert(conn, table: sa.Table, **values) -> int:
    """Insert one row, filling every other NOT NULL column with a plain value of its type
    (the tables as they were at that revision, whatever columns they had)."""
    from datetime import datetime

    plain = {int: 0, bool: False, datetime: datetime(2026, 1, 1)}
    for column in table.columns:
        if column.name in values or column.nullable or column.primary_key:
            continue
        try:
            kind = column.type.python_type
        except NotImplementedError:
            kind = str
        values[column.name] = plain.get(kind, "x")
    result = conn.execute(table.insert().values(**values))
    return result.inserted_primary_key[0]
