"""Reminders: once per person with a seat, however often they are triggered."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core import clock
from app.core.database import write_transaction
from app.core.errors import NotFound, Refused
from app.core.extensions import db
from app.mail import delivery
from app.models import AuditEntry, MessageRound, OutboxMessage, Registration, Role, User
from app.registrations import notices, reminders, seats
from tests import factories as f
from tests.staff_clients import logged_in
from tests.staff_helpers import form_inputs, login_as, make_user


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


# --- the organiser's own text, rounds, and a second round within a day --------------------

NOTE = "Parkera bakom huset.\r\nIngång \x0bvia <gården> & dörr B.\x07"


def reminder_form(client, event_id: int) -> dict[str, str]:
    page = client.get(f"/staff/events/{event_id}/reminder").get_data(as_text=True)
    return form_inputs(page, f"/staff/events/{event_id}/reminder")


def delivered_reminders(smtp_sink) -> list:
    delivery.send_due()
    ids = {r.message_id for r in _reminder_rows()}
    return [m for m in smtp_sink.messages() if m["Message-ID"] in ids]


def test_a_reminder_with_the_organisers_own_text_reaches_everyone_with_a_seat(app, smtp_sink):
    ev, _org, confirmed = full_event()
    client = app.test_client()
    user = login_as(client)
    fields = {**reminder_form(client, ev.id), "note": NOTE}
    # The preview first: the page shows the mail with the text, and queues nothing.
    shown = client.post(f"/staff/events/{ev.id}/reminder", data={**fields, "preview": "1"})
    assert shown.status_code == 200
    page = shown.get_data(as_text=True)
    assert "Parkera bakom huset.\nIngång\nvia &lt;gården&gt; &amp; dörr B." in page
    assert form_inputs(page, f"/staff/events/{ev.id}/reminder")["key"] == fields["key"]
    html = client.post(f"/staff/events/{ev.id}/reminder/preview.html", data=fields).get_data(as_text=True)
    assert "Parkera bakom huset.<br>Ingång<br>via &lt;gården&gt; &amp; dörr B.</p>" in html
    assert reminded() == []

    sent = client.post(f"/staff/events/{ev.id}/reminder", data=fields)
    assert sent.status_code == 303
    got = delivered_reminders(smtp_sink)
    assert sorted(m["To"] for m in got) == sorted(confirmed)
    for message in got:
        text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
        html = message.get_body(("html",)).get_content()
        assert "Parkera bakom huset.\nIngång\nvia <gården> & dörr B." in text
        assert "Parkera bakom huset.<br>Ingång<br>via &lt;gården&gt; &amp; dörr B.</p>" in html
        assert "\x07" not in text + html and "\x0b" not in text + html
    db.session.rollback()
    (round_,) = db.session.scalars(sa.select(MessageRound)).all()
    assert (round_.kind, round_.audience, round_.queued, round_.created_by_id) == ("reminder", "seated", 3, user.id)
    assert round_.body == "Parkera bakom huset.\nIngång\nvia <gården> & dörr B."
    (entry,) = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "event.reminders")).all()
    assert entry.details == {
        "round": round_.id, "label": round_.label, "queued": 3, "own_text": True, "repeat": False,
    }
    # The page lists the round: when, by whom, how many, and how its delivery went.
    page = client.get(f"/staff/events/{ev.id}/reminder").get_data(as_text=True)
    row = re.search(r"<tbody>(.*?)</tbody>", page, re.S).group(1)
    assert user.name in row and "<td>3</td>" in row and "3 sent, 0 failed, 0 waiting" in row
    assert "Parkera bakom huset." in row


def test_a_second_round_within_a_day_needs_confirming(db_app, smtp_sink):
    ev, _org, confirmed = full_event()
    user = make_user()
    client = logged_in(db_app, user)
    client.get("/lang/en")
    url = f"/staff/events/{ev.id}/reminder"
    assert "needs your confirmation" not in client.get(url).get_data(as_text=True)
    assert client.post(url, data=reminder_form(client, ev.id)).status_code == 303
    assert len(delivered_reminders(smtp_sink)) == 3

    # A new form the same day: the page warns, and without the box nothing is queued.
    fields = reminder_form(client, ev.id)
    assert "confirm_repeat" not in fields
    assert "needs your confirmation" in client.get(url).get_data(as_text=True)
    refused = client.post(url, data=fields)
    assert refused.status_code == 400
    assert "A reminder already went out" in refused.get_data(as_text=True)
    db.session.rollback()
    assert len(_reminder_rows()) == 3
    assert len(reminders.messages.rounds_of(ev.id, "reminder")) == 1
    with pytest.raises(Refused) as refusal:
        reminders.send_reminder(ev.id, user.id, "1" * 32)
    assert refusal.value.field == "confirm_repeat"

    # With the box ticked it goes, to each person once more.
    assert client.post(url, data={**fields, "confirm_repeat": "y"}).status_code == 303
    got = delivered_reminders(smtp_sink)
    assert sorted(m["To"] for m in got) == sorted([*confirmed, *confirmed])
    db.session.rollback()
    details = [
        e.details["repeat"]
        for e in db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "event.reminders").order_by(AuditEntry.id)
        )
    ]
    assert details == [False, True]

    # A day later the next round needs no confirmation again.
    clock.travel(timedelta(hours=24, minutes=1))
    assert reminders.recent_round(ev.id) is None
    assert reminders.send_reminder(ev.id, user.id, "2" * 32).queued == 3


def test_the_scheduled_round_counts_as_a_round_sent(app):
    soon, _o, _c = full_event(days_ahead=3)
    clock.travel(timedelta(days=2))
    assert reminders.send_due() == {soon.id: 3}
    assert reminders.send_due() == {soon.id: 0}
    (round_,) = reminders.messages.rounds_of(soon.id, "reminder")
    assert (round_.label, round_.queued, round_.created_by_id) == ("scheduled", 3, None)
    with pytest.raises(Refused):
        reminders.send_reminder(soon.id, None, "3" * 32)
    assert reminders.send_reminder(soon.id, None, "3" * 32, confirm_repeat=True).queued == 3


def test_a_reminder_to_nobody_is_refused_and_records_nothing(app):
    empty = f.event()
    with pytest.raises(Refused):
        reminders.send_reminder(empty.id, None, "4" * 32)
    assert reminders.messages.rounds_of(empty.id, "reminder") == []
    assert reminders.queue_reminders(empty.id, None) == 0
    assert reminders.messages.rounds_of(empty.id, "reminder") == []


def test_a_too_long_own_text_is_refused_at_the_form(client, app):
    ev, _org, _confirmed = full_event()
    login_as(client)
    fields = {**reminder_form(client, ev.id), "note": "x" * 2001}
    response = client.post(f"/staff/events/{ev.id}/reminder", data=fields)
    assert response.status_code == 400
    assert "Use at most 2000 characters." in response.get_data(as_text=True)
    assert reminded() == []


def test_reminders_queued_before_rounds_existed_are_not_sent_again(app):
    """Mail of a label queued before the message_round table (per person, notices.reminder)
    counts as sent: the same label queues nobody and records no empty round."""
    ev, _org, confirmed = full_event()

    def legacy():
        people = db.session.scalars(sa.select(Registration).where(Registration.event_id == ev.id))
        for person in people:
            if person.status.value == "confirmed":
                notices.reminder(person, "scheduled")

    write_transaction(legacy)
    assert reminders.queue_reminders(ev.id, None, "scheduled") == 0
    assert reminders.messages.rounds_of(ev.id, "reminder") == []
    assert reminded() == sorted(confirmed)
