"""Gauging interest: sign-ups become interest, confirm turns it into seats, deadline mail."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core import clock
from app.core.database import write_transaction
from app.core.errors import Refused
from app.core.extensions import db
from app.events import gauging
from app.models import EventStatus, OutboxMessage, Registration, RegistrationStatus, Role, User
from app.registrations import reads, seats
from tests import factories as f

S = RegistrationStatus


def gauging_event(capacity=3, threshold=4, **fields):
    return f.event(
        capacity=capacity,
        status=EventStatus.GAUGING,
        interest_threshold=threshold,
        interest_deadline=clock.now() + timedelta(days=5),
        **fields,
    )


def mails(kind: str) -> list[OutboxMessage]:
    return db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
    ).all()


def coordinator(email="samordnare@alingsas.se") -> User:
    def work():
        user = User(email=email, name="Samordnare", role=Role.COORDINATOR)
        user.set_password("x")
        db.session.add(user)
        return user

    return write_transaction(work)


def test_interest_below_threshold_is_not_a_seat(db_app):
    org = f.organisation()
    ev = gauging_event()
    results = [f.sign_up(ev.id, org.id, n).outcome for n in range(3)]
    assert results == ["interested"] * 3
    assert reads.counts_for([ev.id])[ev.id] == reads.Counts(confirmed=0, waitlisted=0, interested=3)
    received = mails("interest_received")
    assert len(received) == 3
    assert all("inte en plats" in m.body_text or "ännu ingen plats" in m.body_text for m in received)
    assert mails("threshold_reached") == []


def test_reaching_threshold_tells_organiser_and_coordinators_once(db_app):
    coordinator()
    org = f.organisation()
    ev = gauging_event(threshold=2)
    for n in range(4):
        f.sign_up(ev.id, org.id, n)
    recipients = sorted(m.recipient for m in mails("threshold_reached"))
    assert recipients == ["organiser@kommun.test", "samordnare@alingsas.se"]


def test_threshold_mail_only_to_organiser_when_event_says_so(app):
    coordinator()
    org = f.organisation()
    ev = gauging_event(threshold=1, notify_coordinators_on_threshold=False)
    f.sign_up(ev.id, org.id, 1)
    assert [m.recipient for m in mails("threshold_reached")] == ["organiser@kommun.test"]


def test_interest_can_be_withdrawn(db_app):
    org = f.organisation()
    ev = gauging_event()
    reg = f.sign_up(ev.id, org.id, 1).registration
    seats.cancel(reg.manage_token)
    assert db.session.get(Registration, reg.id).status == S.CANCELLED


def test_confirm_with_more_interest_than_capacity(db_app):
    org = f.organisation()
    ev = gauging_event(capacity=3)
    regs = [f.sign_up(ev.id, org.id, n).registration for n in range(5)]
    confirmed, waitlisted = seats.open_gauged_event(ev.id, user_id=None)
    assert [r.id for r in confirmed] == [r.id for r in regs[:3]]
    assert [r.id for r in waitlisted] == [r.id for r in regs[3:]]
    db.session.expire_all()
    assert [reads.waitlist_position(db.session.get(Registration, r.id)) for r in regs[3:]] == [1, 2]
    gauged = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.dedupe_key.like("%:gauged"))
    ).all()
    assert sorted((m.registration_id, m.kind) for m in gauged) == sorted(
        [(r.id, "confirmation") for r in regs[:3]] + [(r.id, "waitlisted") for r in regs[3:]]
    )
    assert all(m.attachments for m in gauged if m.kind == "confirmation")
    # Registration then continues as for any open event: a newcomer waits behind them.
    assert f.sign_up(ev.id, org.id, 99).outcome == "waitlisted"
    with pytest.raises(Refused):
        seats.open_gauged_event(ev.id, user_id=None)


def test_confirm_needs_a_venue(app):
    ev = gauging_event()
    ev_id = ev.id

    def drop_venue():
        from app.models import Event

        db.session.get(Event, ev_id).sessions[0].venue = None

    write_transaction(drop_venue)
    with pytest.raises(Refused):
        seats.open_gauged_event(ev_id, user_id=None)


def test_cancel_tells_everyone_with_the_organisers_text(db_app):
    org = f.organisation()
    ev = gauging_event()
    for n in range(3):
        f.sign_up(ev.id, org.id, n)
    seats.cancel_event(ev.id, user_id=None, message="Tyvärr blev intresset för litet den här gången.")
    cancelled = mails("event_cancelled")
    assert len(cancelled) == 3
    assert all("för litet den här gången" in m.body_text for m in cancelled)


def test_deadline_mail_exactly_once(db_app):
    org = f.organisation()
    ev = gauging_event(threshold=10)
    f.sign_up(ev.id, org.id, 1)
    f.sign_up(ev.id, org.id, 2)
    assert gauging.notify_passed_deadlines() == 0
    clock.travel(timedelta(days=6))
    assert gauging.notify_passed_deadlines() == 1
    assert gauging.notify_passed_deadlines() == 0
    clock.travel(timedelta(days=7))
    assert gauging.notify_passed_deadlines() == 0
    sent = mails("interest_deadline")
    assert len(sent) == 1 and sent[0].recipient == "organiser@kommun.test"
    assert "2" in sent[0].body_text and org.name in sent[0].body_text


def test_no_deadline_mail_for_a_decided_event(app):
    org = f.organisation()
    ev = gauging_event()
    f.sign_up(ev.id, org.id, 1)
    seats.open_gauged_event(ev.id, user_id=None)
    clock.travel(timedelta(days=6))
    assert gauging.notify_passed_deadlines() == 0


def test_interest_after_deadline_is_refused(app):
    org = f.organisation()
    ev = gauging_event()
    clock.travel(timedelta(days=6))
    with pytest.raises(Refused):
        f.sign_up(ev.id, org.id, 1)
