"""Reminders: once per person with a seat, however often they are triggered."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core import clock
from app.core.database import write_transaction
from app.core.errors import NotFound
from app.core.extensions import db
from app.mail import delivery
from app.models import AuditEntry, OutboxMessage, Registration, Role, User
from app.registrations import reminders, seats
from tests import factories as f


@pytest.fixture
def app_config(smtp_sink):
    return smtp_sink.config()


def full_event(capacity: int = 3, days_ahead: int = 10, **fields):
    """Three confirmed (one of them then cancels, freeing a seat for a waiter), two waiting."""
    org = f.organisation()
    ev = f.event(capacity=capacity, days_ahead=days_ahead, **fields)
    people = [f.sign_up(ev.id, org.id, n).registration for n in range(capacity + 3)]
    seats.cancel(people[0].manage_token)  # person 3 is promoted; 4 and 5 wait
    confirmed = {f"person{n}@example.org" for n in range(1, capacity + 1)}
    return ev, org, confirmed


def reminded() -> list[str]:
    db.session.rollback()
    return sorted(
        db.session.scalars(
            sa.select(OutboxMessage.recipient).where(OutboxMessage.kind == "reminder")
        )
    )


def staff_user() -> int:
    def work() -> int:
        user = User(email="org@kommun.test", name="Organiser", role=Role.ORGANISER, password_hash="x")
        db.session.add(user)
        db.session.flush()
        return user.id

    return write_transaction(work)


def test_triggered_twice_reminds_each_confirmed_person_once(db_app, smtp_sink):
    ev, _org, confirmed = full_event()
    user_id = staff_user()
    assert reminders.queue_reminders(ev.id, user_id) == 3
    assert reminders.queue_reminders(ev.id, user_id) == 0
    assert reminders.queue_reminders(ev.id, None, "manual") == 0
    assert reminded() == sorted(confirmed)  # not the cancelled, not the waitlisted
    entries = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "event.reminders").order_by(AuditEntry.id)
    ).all()
    assert [(e.user_id, e.object_id, e.details["queued"]) for e in entries] == [
        (user_id, ev.id, 3),
        (user_id, ev.id, 0),
    ]
    assert delivery.send_due().sent >= 3
    reminder_ids = {r.message_id for r in _reminder_rows()}
    got = [m["To"] for m in smtp_sink.messages() if m["Message-ID"] in reminder_ids]
    assert sorted(got) == sorted(confirmed)
    assert reminders.reminder_progress(ev.id) == {"pending": 0, "sending": 0, "sent": 3, "failed": 0}


def _reminder_rows():
    return db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "reminder")).all()


def test_a_new_label_is_a_new_round(app):
    ev, _org, confirmed = full_event()
    assert reminders.queue_reminders(ev.id, None, "2025-03-01T10:00") == 3
    assert reminders.queue_reminders(ev.id, None, "second") == 3
    assert reminders.queue_reminders(ev.id, None, "x" * 300) == 3  # long labels are hashed
    assert reminders.queue_reminders(ev.id, None, "x" * 300) == 0
    assert len(reminded()) == 9


def test_unknown_event_is_refused(app):
    with pytest.raises(NotFound):
        reminders.queue_reminders(12345, None)


def test_two_triggers_at_once_queue_one_reminder_each(db_app):
    ev, _org, confirmed = full_event()
    event_id = ev.id  # the threads must not touch the test's session
    counts: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def trigger():
        try:
            with db_app.app_context():
                barrier.wait()
                counts.append(reminders.queue_reminders(event_id, None, "click-1"))
                db.session.remove()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=trigger) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sorted(counts) == [0, 3]
    assert reminded() == sorted(confirmed)


def test_send_due_run_every_minute_across_the_threshold_reminds_once(db_app, smtp_sink):
    ev, org, confirmed = full_event(days_ahead=5)
    lead = timedelta(hours=db_app.config["REMINDER_LEAD_HOURS"])
    start = ev.sessions[0].starts_at
    threshold = start - lead

    cancelled_event, _o, _c = full_event(days_ahead=5)
    seats.cancel_event(cancelled_event.id, None)

    offset = threshold - clock.now() - timedelta(minutes=3)  # 3 minutes before
    queued: dict[int, int] = {}
    for _minute in range(8):  # cron, every minute, across the threshold
        clock.travel(offset)
        for event_id, count in reminders.send_due().items():
            queued[event_id] = queued.get(event_id, 0) + count
        offset += timedelta(minutes=1)
    assert queued == {ev.id: 3}
    # Someone who gets a seat inside the lead time has just had a confirmation: no reminder.
    seats.cancel(db.session.scalar(
        sa.select(Registration.manage_token).where(Registration.email == "person2@example.org")
    ))
    assert reminders.send_due() == {ev.id: 0}
    clock.travel(start - clock.now() + offset + timedelta(minutes=1))  # the event has started
    assert reminders.send_due() == {}

    assert reminded() == sorted(confirmed)
    delivery.send_due()
    reminder_ids = {r.message_id for r in _reminder_rows()}
    got = [m["To"] for m in smtp_sink.messages() if m["Message-ID"] in reminder_ids]
    assert sorted(got) == sorted(confirmed)


def test_send_due_leaves_events_outside_the_lead_time_alone(app):
    far, _o, _c = full_event(days_ahead=10)
    soon, _o, _c = full_event(days_ahead=3)
    clock.travel(timedelta(hours=36))  # soon starts in 36 hours, far in 8.5 days
    assert reminders.due_events() == [soon.id]
    assert reminders.send_due() == {soon.id: 3}
    app.config["REMINDER_LEAD_HOURS"] = 24 * 9
    assert reminders.send_due() == {far.id: 3, soon.id: 0}


def test_preview_queues_nothing(app):
    ev, _org, _confirmed = full_event()
    subject, text, html = reminders.preview(ev.id, "en")
    assert ev.title in subject
    assert "Anna Andersson" in text and "<html" in html
    # Never a real person's mail: that would show staff their secret manage link.
    assert "Person 1" not in text
    tokens = db.session.scalars(sa.select(Registration.manage_token)).all()
    assert tokens and all(token not in text + html for token in tokens)
    empty = f.event(what_to_bring="Inneskor")
    subject, text, html = reminders.preview(empty.id)
    assert "Anna Andersson" in text and "Inneskor" in text and "Inneskor" in html
    assert reminded() == []
    with pytest.raises(NotFound):
        reminders.preview(98765)


def test_reminders_send_command_queues_and_delivers_with_progress(app, smtp_sink):
    ev, _org, confirmed = full_event()
    delivery.send_due()  # the sign-up mail first
    smtp_sink.received.clear()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["reminders", "send", str(ev.id)])
    assert result.exit_code == 0, result.output
    assert "Queued 3 reminder(s)" in result.output
    assert "Delivering" in result.output and "Sent 3, will retry 0, failed 0." in result.output
    assert sorted(m["To"] for m in smtp_sink.messages()) == sorted(confirmed)
    again = runner.invoke(args=["reminders", "send", str(ev.id)])
    assert "Queued 0 reminder(s)" in again.output
    missing = runner.invoke(args=["reminders", "send", "999"])
    assert missing.exit_code != 0 and "There is no event 999" in missing.output


def test_reminders_send_due_command(app):
    soon, _o, _c = full_event(days_ahead=3)
    clock.travel(timedelta(days=2))
    result = app.test_cli_runner().invoke(args=["reminders", "send-due"])
    assert result.exit_code == 0, result.output
    assert f"Event {soon.id}: queued 3 reminder(s)." in result.output
    again = app.test_cli_runner().invoke(args=["reminders", "send-due"])
    assert "Queued 0 scheduled reminder(s)." in again.output
