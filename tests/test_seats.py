"""The seats module's rules, on every database backend."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.core.errors import NotFound, Refused
from app.core.extensions import db
from app.models import EventStatus, OutboxMessage, Registration, RegistrationStatus
from app.registrations import reads, seats
from tests import factories as f

S = RegistrationStatus


def statuses(event_id: int) -> list[tuple[str, str]]:
    rows = db.session.execute(
        sa.select(Registration.email, Registration.status)
        .where(Registration.event_id == event_id)
        .order_by(Registration.created_at, Registration.id)
    )
    return [(email, status.value) for email, status in rows]


def test_first_come_gets_seats_then_waitlist_in_order(db_app):
    org = f.organisation()
    ev = f.event(capacity=2)
    outcomes = [f.sign_up(ev.id, org.id, n).outcome for n in range(4)]
    assert outcomes == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
    waiting = db.session.scalars(
        sa.select(Registration).where(Registration.status == S.WAITLISTED).order_by(Registration.id)
    ).all()
    assert [reads.waitlist_position(r) for r in waiting] == [1, 2]


def test_cancel_confirmed_promotes_head_of_waitlist(db_app):
    org = f.organisation()
    ev = f.event(capacity=1)
    first = f.sign_up(ev.id, org.id, 1).registration
    f.sign_up(ev.id, org.id, 2)
    f.sign_up(ev.id, org.id, 3)
    seats.cancel(first.manage_token)
    assert statuses(ev.id) == [
        ("person1@example.org", "cancelled"),
        ("person2@example.org", "confirmed"),
        ("person3@example.org", "waitlisted"),
    ]
    kinds = db.session.scalars(sa.select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()
    assert kinds == ["confirmation", "waitlisted", "waitlisted", "cancelled", "promoted"]


def test_cancel_twice_changes_nothing_more(db_app):
    org = f.organisation()
    ev = f.event(capacity=1)
    first = f.sign_up(ev.id, org.id, 1).registration
    f.sign_up(ev.id, org.id, 2)
    seats.cancel(first.manage_token)
    seats.cancel(first.manage_token)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 4


def test_newcomer_does_not_jump_the_waitlist_after_capacity_raise(db_app):
    org = f.organisation()
    ev = f.event(capacity=1)
    f.sign_up(ev.id, org.id, 1)
    f.sign_up(ev.id, org.id, 2)
    promoted = seats.set_capacity(ev.id, 2, user_id=None)
    assert [r.email for r in promoted] == ["person2@example.org"]
    assert f.sign_up(ev.id, org.id, 3).outcome == "waitlisted"


def test_capacity_below_seated_is_refused(db_app):
    org = f.organisation()
    ev = f.event(capacity=3)
    for n in range(3):
        f.sign_up(ev.id, org.id, n)
    with pytest.raises(Refused) as refused:
        seats.set_capacity(ev.id, 2, user_id=None)
    assert "3 personer har redan en plats" in str(refused.value.message)
    assert db.session.get(type(ev), ev.id).capacity == 3


def test_same_email_twice_is_not_a_second_row(db_app):
    org = f.organisation()
    ev = f.event(capacity=3)
    f.sign_up(ev.id, org.id, email="Same@Example.org")
    result = f.sign_up(ev.id, org.id, email="same@example.org")
    assert result.outcome == "already_registered" and result.registration is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 1
    kinds = db.session.scalars(sa.select(OutboxMessage.kind)).all()
    assert sorted(kinds) == ["already_registered", "confirmation"]


def test_cancelled_person_may_sign_up_again_at_the_back(db_app):
    org = f.organisation()
    ev = f.event(capacity=1)
    first = f.sign_up(ev.id, org.id, 1).registration
    f.sign_up(ev.id, org.id, 2)
    seats.cancel(first.manage_token)
    again = f.sign_up(ev.id, org.id, 1)
    assert again.outcome == "waitlisted"


def test_full_without_waitlist_is_refused(db_app):
    org = f.organisation()
    ev = f.event(capacity=1, waitlist_enabled=False)
    f.sign_up(ev.id, org.id, 1)
    with pytest.raises(Refused) as refused:
        f.sign_up(ev.id, org.id, 2)
    assert refused.value.code == "full"


@pytest.mark.parametrize(
    ("status", "answer"),
    [(EventStatus.CANCELLED, Refused), (EventStatus.CLOSED, Refused), (EventStatus.DRAFT, NotFound)],
)
def test_events_not_open_refuse(app, status, answer):
    """Cancelled and closed events refuse; a draft does not exist for the public."""
    org = f.organisation()
    ev = f.event(status=status)
    with pytest.raises(answer):
        f.sign_up(ev.id, org.id, 1)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 0


def test_resubmitted_form_returns_the_first_registration(db_app):
    org = f.organisation()
    ev = f.event(capacity=1)
    first = f.sign_up(ev.id, org.id, 1, submission_key="abc123")
    again = f.sign_up(ev.id, org.id, 1, submission_key="abc123")
    assert again.outcome == "resubmitted"
    assert again.registration.id == first.registration.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1


def test_cancel_event_cancels_everyone_and_tells_them(db_app):
    org = f.organisation()
    ev = f.event(capacity=1)
    f.sign_up(ev.id, org.id, 1)
    f.sign_up(ev.id, org.id, 2)
    seats.cancel_event(ev.id, user_id=None, message="Föreläsaren är sjuk.")
    assert {s for _e, s in statuses(ev.id)} == {"cancelled"}
    bodies = db.session.scalars(
        sa.select(OutboxMessage.body_text).where(OutboxMessage.kind == "event_cancelled")
    ).all()
    assert len(bodies) == 2 and all("Föreläsaren är sjuk." in b for b in bodies)


def test_a_sign_up_that_waited_for_the_lock_decides_from_what_the_holder_committed(db_app, monkeypatch):
    """The event lock's holder takes the last seat and moves the venue; a sign-up that
    waited for the lock meanwhile must see both: it waits for a seat, and its mail names
    the new venue. (On PostgreSQL the statement that waited for the lock reads other
    tables as they were before the wait, so nothing it decides from may come from it.)"""
    import threading

    from app.models import EventSession
    from app.registrations import notices

    org = f.organisation()
    ev = f.event(capacity=1)
    app = db_app
    holding, release = threading.Event(), threading.Event()
    real_created = notices.registration_created

    def created_then_hold(registration, position=None):
        real_created(registration, position)
        if registration.email == "holder@example.org":
            db.session.execute(
                sa.update(EventSession).where(EventSession.event_id == ev.id).values(venue="Nya salen")
            )
            holding.set()
            assert release.wait(30), "the test never released the lock"

    monkeypatch.setattr(notices, "registration_created", created_then_hold)
    results: dict[str, object] = {}

    def sign_up(who: str) -> None:
        with app.app_context():
            try:
                results[who] = f.sign_up(ev.id, org.id, email=f"{who}@example.org").outcome
            except Exception as error:  # reported below
                results[who] = error
            finally:
                db.session.remove()

    holder = threading.Thread(target=sign_up, args=("holder",))
    holder.start()
    assert holding.wait(30), "the holder never took the lock"
    waiter = threading.Thread(target=sign_up, args=("waiter",))
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive(), "the second sign-up did not wait for the lock"
    release.set()
    holder.join(30)
    waiter.join(30)

    assert results == {"holder": "confirmed", "waiter": "waitlisted"}
    db.session.rollback()  # a fresh read of what the threads committed
    mail = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.recipient == "waiter@example.org")
    ).one()
    assert mail.kind == "waitlisted"
    assert "Nya salen" in mail.body_text and "Sal 1" not in mail.body_text


def test_the_waiting_line_sees_a_change_not_yet_written(db_app):
    """``reads.waiting_line`` reads with a Core statement, which the ORM does not autoflush:
    it writes what the session has pending first, so a decision under the lock never hands
    a seat to someone whose status was just changed in the same transaction."""
    org = f.organisation()
    ev = f.event(capacity=1)
    f.sign_up(ev.id, org.id, 0)
    first, second = (f.sign_up(ev.id, org.id, n).registration_id for n in (1, 2))
    assert [row.id for row in reads.waiting_line(ev.id)] == [first, second]
    try:
        db.session.get(Registration, first).status = S.CANCELLED  # pending, not flushed
        assert [row.id for row in reads.waiting_line(ev.id)] == [second]
    finally:
        db.session.rollback()
    assert [row.id for row in reads.waiting_line(ev.id)] == [first, second]


def test_a_sign_ups_snapshot_reads_as_its_stored_row_and_leaves_nothing_to_write(db_app, monkeypatch):
    """The registration the first mail is made from is a snapshot (``snapshot._loaded``):
    its values put straight into its state, not set through the ORM's attribute events.
    It must read exactly as the stored row, with its event and organisation, and leave the
    session nothing to insert or update."""
    org = f.organisation()
    ev = f.event(capacity=1)
    seen = []
    made_mail = seats.notices.registration_created

    def watching(registration, position=None):
        seen.append((registration, position, set(db.session.new), set(db.session.dirty)))
        made_mail(registration, position)

    monkeypatch.setattr(seats.notices, "registration_created", watching)
    ids = [
        f.sign_up(ev.id, org.id, n, work_team="Lag Syd", needs="Vegetarisk").registration_id
        for n in (1, 2)
    ]
    assert [position for _snapshot, position, _new, _dirty in seen] == [None, 1]
    for (snapshot, _position, new, dirty), registration_id in zip(seen, ids, strict=True):
        assert new == set() and dirty == set()
        assert sa.inspect(snapshot).transient and snapshot not in db.session
        stored = db.session.get(Registration, registration_id)
        for column in sa.inspect(Registration).column_attrs:
            assert getattr(snapshot, column.key) == getattr(stored, column.key), column.key
        assert (snapshot.event.id, snapshot.event.title) == (ev.id, ev.title)
        assert (snapshot.organisation.id, snapshot.organisation.name) == (org.id, org.name)
        assert snapshot.organisation.active is True and snapshot.team is None
