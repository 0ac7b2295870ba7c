"""Delivering the outbox against a real SMTP server: outages, refusals, retries, workers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core import clock
from app.core.database import write_transaction
from app.core.errors import NotFound
from app.core.extensions import db
from app.mail import delivery, outbox
from app.models import AuditEntry, OutboxMessage, OutboxStatus, Role, User
from tests import factories as f
from tests.plugins.mail_sink import SmtpSink

BASE = 60  # MAIL_RETRY_BASE_SECONDS in these tests


@pytest.fixture
def app_config(smtp_sink):
    return {**smtp_sink.config(), "MAIL_RETRY_BASE_SECONDS": BASE, "MAIL_MAX_ATTEMPTS": 3}


def queue_plain(count: int, prefix: str = "m", domain: str = "example.org") -> list[int]:
    """Queue simple messages straight into the outbox (delivery is what is tested here)."""

    def work() -> list[int]:
        rows = [
            OutboxMessage(
                dedupe_key=f"test:{prefix}:{i}",
                kind="test",
                recipient=f"{prefix}{i}@{domain}",
                sender="Kvarn <noreply@kvarn.test>",
                subject=f"Message {prefix}{i}",
                body_text=f"Text {prefix}{i}\n",
                body_html=f"<p>HTML {prefix}{i}</p>",
                attachments=[],
                message_id=outbox.new_message_id(),
            )
            for i in range(count)
        ]
        db.session.add_all(rows)
        db.session.flush()
        return [row.id for row in rows]

    return write_transaction(work)


def outbox_rows() -> list[OutboxMessage]:
    db.session.rollback()
    return list(db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def by_status() -> dict[str, int]:
    db.session.rollback()
    return delivery.status_counts()


def test_sign_ups_are_delivered_once_each(app, smtp_sink):
    org = f.organisation()
    ev = f.event(capacity=1)
    f.sign_up(ev.id, org.id, 1)
    f.sign_up(ev.id, org.id, 2)

    report = delivery.send_due()
    assert (report.sent, report.retrying, report.failed) == (2, 0, 0)
    assert delivery.send_due().total == 0  # nothing left: a second pass sends nothing
    rows = outbox_rows()
    assert {r.status for r in rows} == {OutboxStatus.SENT}
    assert all(r.sent_at is not None and r.attempts == 1 for r in rows)
    received = smtp_sink.messages()
    assert sorted(m["Message-ID"] for m in received) == sorted(r.message_id for r in rows)
    assert [m["To"] for m in smtp_sink.to("person1@example.org")] == ["person1@example.org"]


def test_smtp_down_sign_ups_succeed_and_mail_waits_then_goes_once(db_app, smtp_sink):
    smtp_sink.stop()
    org = f.organisation()
    ev = f.event(capacity=2)
    outcomes = [f.sign_up(ev.id, org.id, n).outcome for n in range(3)]
    assert outcomes == ["confirmed", "confirmed", "waitlisted"]

    before = clock.now()
    report = delivery.send_due()
    assert (report.sent, report.retrying, report.failed) == (0, 3, 0)
    rows = outbox_rows()
    assert {r.status for r in rows} == {OutboxStatus.PENDING}
    assert all(r.attempts == 1 and "Could not connect" in r.last_error for r in rows)
    assert all(
        before + timedelta(seconds=BASE) <= r.next_attempt_at <= clock.now() + timedelta(seconds=BASE)
        for r in rows
    )
    assert delivery.send_due().total == 0  # not due yet: no busy loop against a dead server

    smtp_sink.start()
    assert delivery.send_due().total == 0  # still backing off
    clock.travel(timedelta(seconds=BASE + 1))
    report = delivery.send_due()
    assert (report.sent, report.retrying, report.failed) == (3, 0, 0)
    clock.travel(timedelta(hours=10))
    assert delivery.send_due().total == 0
    received = [m["Message-ID"] for m in smtp_sink.messages()]
    assert len(received) == 3 and len(set(received)) == 3
    assert sorted(received) == sorted(r.message_id for r in outbox_rows())
    assert by_status() == {"pending": 0, "sending": 0, "sent": 3, "failed": 0}


def test_refused_recipient_fails_only_that_message(app, smtp_sink):
    queue_plain(3)
    smtp_sink.reject.add("m1@example.org")
    report = delivery.send_due()
    assert (report.sent, report.retrying, report.failed) == (2, 0, 1)
    rows = {r.recipient: r for r in outbox_rows()}
    failed = rows["m1@example.org"]
    assert failed.status == OutboxStatus.FAILED
    assert failed.attempts == 1
    assert "550" in failed.last_error and "No such user" in failed.last_error
    assert rows["m0@example.org"].status == rows["m2@example.org"].status == OutboxStatus.SENT
    assert sorted(m["To"] for m in smtp_sink.messages()) == ["m0@example.org", "m2@example.org"]
    clock.travel(timedelta(days=2))
    assert delivery.send_due().total == 0  # a failed message is not tried again by itself
    assert [m.id for m in delivery.failed_messages()] == [failed.id]


def test_temporary_refusal_backs_off_exponentially_then_fails(app, smtp_sink):
    [message_id] = queue_plain(1)
    smtp_sink.tempfail.add("m0@example.org")
    waits = []
    moved = timedelta()
    for attempt in (1, 2, 3):
        now = clock.now()
        report = delivery.send_due()
        row = db.session.get(OutboxMessage, message_id, populate_existing=True)
        assert row.attempts == attempt
        assert "451" in row.last_error
        if attempt < 3:
            assert report.retrying == 1 and row.status == OutboxStatus.PENDING
            waits.append(row.next_attempt_at - now)
            moved += waits[-1] + timedelta(seconds=1)
            clock.travel(moved)
        else:
            assert report.failed == 1 and row.status == OutboxStatus.FAILED
    assert [round(w.total_seconds()) for w in waits] == [BASE, 2 * BASE]
    assert smtp_sink.messages() == []


def test_retry_puts_a_failed_message_back_with_the_same_message_id(app, smtp_sink):
    [message_id] = queue_plain(1)
    smtp_sink.reject.add("m0@example.org")
    assert delivery.send_due().failed == 1

    def make_user():
        user = User(email="staff@kommun.test", name="Staff", role=Role.ADMIN, password_hash="x")
        db.session.add(user)
        db.session.flush()
        return user.id

    user_id = write_transaction(make_user)
    delivery.retry(message_id, user_id)
    row = db.session.get(OutboxMessage, message_id, populate_existing=True)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 0)
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "outbox.retry"))
    assert entry.user_id == user_id and entry.object_id == message_id
    assert "550" in entry.details["error"]

    smtp_sink.reject.clear()
    assert delivery.send_due().sent == 1
    [received] = smtp_sink.messages()
    assert received["Message-ID"] == row.message_id
    delivery.retry(message_id, None)  # not failed: left alone
    assert db.session.get(OutboxMessage, message_id, populate_existing=True).status == "sent"
    with pytest.raises(NotFound):
        delivery.retry(999999, None)


def test_dropped_connection_retries_that_message_and_sends_the_rest(app, smtp_sink):
    queue_plain(5)
    smtp_sink.hang_up.add("m2@example.org")
    report = delivery.send_due()
    assert (report.sent, report.retrying, report.failed) == (4, 1, 0)
    rows = {r.recipient: r for r in outbox_rows()}
    assert rows["m2@example.org"].status == OutboxStatus.PENDING
    assert "421" in rows["m2@example.org"].last_error
    # The messages after the dropped one were given back uncounted and sent on a new connection.
    assert [rows[f"m{i}@example.org"].attempts for i in range(5)] == [1, 1, 1, 1, 1]
    smtp_sink.hang_up.clear()
    clock.travel(timedelta(seconds=BASE + 1))
    assert delivery.send_due().sent == 1
    assert sorted(m["To"] for m in smtp_sink.messages()) == [f"m{i}@example.org" for i in range(5)]


def test_a_dead_workers_lease_expires_and_its_messages_are_sent_once(app, smtp_sink):
    queue_plain(4)
    claimed, leased_until = delivery.claim(10)  # a worker claims, then dies before sending
    assert len(claimed) == 4
    assert by_status()["sending"] == 4
    assert delivery.send_due().total == 0  # leased: nobody else touches them
    clock.travel(leased_until - clock.now() + timedelta(seconds=1))
    report = delivery.send_due()
    assert report.sent == 4
    assert len(smtp_sink.messages()) == 4
    assert all(r.attempts == 2 and r.status == OutboxStatus.SENT for r in outbox_rows())


def test_the_lease_is_never_shorter_than_sending_one_message(app):
    app.config.update(MAIL_LEASE_SECONDS=1, MAIL_TIMEOUT=30)
    queue_plain(1)
    _claimed, leased_until = delivery.claim(1)
    assert leased_until - clock.now() >= timedelta(seconds=5 * 30 - 1)


# SQLite has no row locks: there claims are serialised by BEGIN IMMEDIATE and one worker runs.
@pytest.mark.parametrize("db_app", ["postgresql", "mariadb"], indirect=True)
def test_skip_locked_claims_pass_over_rows_another_worker_holds(db_app):
    queue_plain(10)
    with db.engine.connect() as other:
        transaction = other.begin()
        held = [
            row.id
            for row in other.execute(delivery._due_query(OutboxStatus.PENDING, clock.now(), 4))
        ]
        assert len(held) == 4
        result: dict = {}

        def second_worker():
            with db_app.app_context():
                result["claimed"] = [m.id for m in delivery.claim(10)[0]]

        thread = threading.Thread(target=second_worker)
        thread.start()
        thread.join(timeout=20)
        assert not thread.is_alive(), "the claim waited for the other worker's locks"
        transaction.rollback()
    assert len(result["claimed"]) == 6
    assert not set(result["claimed"]) & set(held)


def test_two_workers_deliver_every_message_exactly_once(db_app, smtp_sink):
    n = 200
    db_app.config["MAIL_BATCH_SIZE"] = 10
    ids = queue_plain(n)
    start = threading.Barrier(2)
    reports: list[delivery.DeliveryReport] = []
    errors: list[BaseException] = []

    def worker():
        try:
            with db_app.app_context():
                start.wait()
                reports.append(delivery.send_due())
                db.session.remove()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert sum(r.sent for r in reports) == n
    assert all(r.sent > 0 for r in reports), "both workers should have sent part of the queue"
    received = [m["Message-ID"] for m in smtp_sink.messages()]
    assert len(received) == n and len(set(received)) == n
    rows = outbox_rows()
    assert sorted(r.id for r in rows) == sorted(ids)
    assert sorted(received) == sorted(r.message_id for r in rows)
    assert {(r.status, r.attempts) for r in rows} == {(OutboxStatus.SENT, 1)}


def test_outbox_send_command_reports_counts(app, smtp_sink):
    queue_plain(3)
    smtp_sink.reject.add("m0@example.org")
    result = app.test_cli_runner().invoke(args=["outbox", "send"])
    assert result.exit_code == 0, result.output
    assert "Sent 2, will retry 0, failed 1." in result.output
    status = app.test_cli_runner().invoke(args=["outbox", "status"])
    assert "sent: 2" in status.output and "failed: 1" in status.output
    assert "m0@example.org" in status.output


def test_unreachable_server_does_not_hang_the_worker(app):
    """A server that accepts TCP but never answers: the timeout ends the attempt."""
    listener = SmtpSink()  # only for its free port
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", listener.port))
        silent.listen()
        app.extensions["mail"].port = listener.port
        app.extensions["mail"].suppress = False
        app.config["MAIL_TIMEOUT"] = 0.5
        queue_plain(2)
        report = delivery.send_due()
    assert report.retrying == 2
    assert all("timed out" in r.last_error.lower() for r in outbox_rows())


def test_a_message_whose_worker_died_on_the_last_attempt_fails(app, smtp_sink):
    [message_id] = queue_plain(1)

    def exhausted():
        db.session.get(OutboxMessage, message_id).attempts = 2  # MAIL_MAX_ATTEMPTS is 3

    write_transaction(exhausted)
    _claimed, leased_until = delivery.claim(1)  # attempt 3, then the worker dies
    clock.travel(leased_until - clock.now() + timedelta(seconds=1))
    assert delivery.send_due().total == 0
    row = db.session.get(OutboxMessage, message_id, populate_existing=True)
    assert row.status == OutboxStatus.FAILED and "lease expired" in row.last_error
    assert smtp_sink.messages() == []


def test_headers_survive_the_wire_exactly(app, smtp_sink):
    """Long non-ASCII subjects and names are encoded, folded, CRLF-only, and read back equal."""
    subject = "Bekräftad: Föräldraskapsstöd i praktiken – utbildning för gruppledare i Alingsås"

    def work():
        db.session.add(
            OutboxMessage(
                dedupe_key="test:wire",
                kind="test",
                recipient="asa@example.org",
                sender="Kvarn Ålingsås <noreply@kvarn.test>",
                reply_to="Kursledare Östen <osten@kommun.test>",
                subject=subject,
                body_text="Hej Åsa!\n",
                body_html="<p>Hej Åsa!</p>",
                attachments=[
                    {"filename": "invite.ics", "content_type": "text/calendar; method=REQUEST; charset=utf-8",
                     "data": "BEGIN:VCALENDAR\r\nLOCATION:Sal Åsen\r\nEND:VCALENDAR\r\n"}
                ],
                message_id="<wire-test@kvarn.test>",
            )
        )

    write_transaction(work)
    assert delivery.send_due().sent == 1
    [raw] = [r.data for r in smtp_sink.received]
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF line ends only
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    [message] = smtp_sink.messages()
    assert message["Subject"] == subject
    assert str(message["From"]) == "Kvarn Ålingsås <noreply@kvarn.test>"
    assert str(message["Reply-To"]) == "Kursledare Östen <osten@kommun.test>"
    assert message.get_body(("plain",)).get_content().splitlines() == ["Hej Åsa!"]
    [ics] = list(message.iter_attachments())
    assert ics.get_content_type() == "text/calendar" and ics.get_param("method") == "REQUEST"
    assert "LOCATION:Sal Åsen" in ics.get_content()


def test_the_work_command_delivers_as_mail_arrives_and_stops_on_sigterm(app, smtp_sink):
    """`flask outbox work` as a service runs it, configured through KVARN_MAIL_* variables."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {
        **os.environ,
        "FLASK_APP": "app",
        "KVARN_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "KVARN_MAIL_SERVER": "127.0.0.1",
        "KVARN_MAIL_PORT": str(smtp_sink.port),
        "KVARN_MAIL_TIMEOUT": "5",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "outbox", "work", "--interval", "0.2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        queue_plain(2, prefix="first")
        deadline = time.monotonic() + 30
        while len(smtp_sink.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        queue_plain(1, prefix="later")  # arrives while the worker waits
        while len(smtp_sink.received) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, output
    assert "Outbox worker stopped." in output
    assert sorted(m["To"] for m in smtp_sink.messages()) == [
        "first0@example.org", "first1@example.org", "later0@example.org",
    ]
    assert by_status()["sent"] == 3


def test_a_long_paragraph_is_sent_within_smtp_line_limits(app, smtp_sink):
    paragraph = "Föreläsaren är tyvärr sjuk och vi måste ställa in. " * 60  # one 3,000-byte line

    def work():
        db.session.add(
            OutboxMessage(
                dedupe_key="test:long", kind="test", recipient="asa@example.org",
                sender="Kvarn <noreply@kvarn.test>", subject="Inställt",
                body_text=f"Hej!\n{paragraph}\n", body_html=f"<p>{paragraph}</p>",
                attachments=[], message_id="<long@kvarn.test>",
            )
        )

    write_transaction(work)
    assert delivery.send_due().sent == 1
    [raw] = [r.data for r in smtp_sink.received]
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    [message] = smtp_sink.messages()
    assert paragraph.strip() in message.get_body(("plain",)).get_content()
    assert f"<p>{paragraph}</p>" in message.get_body(("html",)).get_content()


def test_a_message_is_finished_when_queued_and_every_attempt_sends_those_bytes(app, smtp_sink):
    """The outbox keeps the finished message: a retry sends the same Message-ID, Date and
    MIME boundaries, byte for byte, and the stored bytes go once the message is sent."""
    from email import message_from_bytes, policy
    from email.utils import parsedate_to_datetime

    org = f.organisation()
    ev = f.event(capacity=5)
    f.sign_up(ev.id, org.id, 1)
    [row] = outbox_rows()
    queued = row.wire
    stored = message_from_bytes(queued, policy=policy.default)
    assert stored["Message-ID"] == row.message_id and stored["Subject"] == row.subject
    assert parsedate_to_datetime(stored["Date"]) == row.created_at.replace(microsecond=0)
    assert b"\n" not in queued.replace(b"\r\n", b"")  # ready for the wire: CRLF only

    smtp_sink.hang_up.add("person1@example.org")  # the server drops the first attempt
    assert delivery.send_due().retrying == 1
    assert outbox_rows()[0].wire == queued
    smtp_sink.hang_up.clear()
    clock.travel(timedelta(seconds=BASE + 1))
    assert delivery.send_due().sent == 1
    [received] = smtp_sink.received
    assert received.data.rstrip(b"\r\n") == queued.rstrip(b"\r\n")
    [row] = outbox_rows()
    assert row.status == OutboxStatus.SENT and row.wire is None
    assert row.body_text and row.body_html  # what was sent stays readable for staff


def test_a_batch_sends_stored_bytes_as_they_are_and_builds_the_others_from_their_parts(app, smtp_sink):
    """A claim reads a row's parts only when it has no finished bytes: a batch with both
    kinds sends the stored bytes unchanged and builds the rest, each with its own
    Message-ID, which is also the one Flask-Mail's message object reports."""
    from flask_mail import Message, email_dispatched

    from app.mail import message as mime

    bare, finished = queue_plain(2, prefix="mixed")

    def store_bytes() -> bytes:
        row = db.session.get(OutboxMessage, finished)
        row.subject = "Finished when queued"
        row.wire = mime.wire_bytes(row)
        row.subject = "Changed afterwards"  # the stored bytes are what goes
        return row.wire

    stored = write_transaction(store_bytes)
    reported = []
    with email_dispatched.connected_to(lambda app, message: reported.append(message.msgId)):
        assert delivery.send_due().sent == 2
    ids = {row.id: row.message_id for row in outbox_rows()}
    by_id = {r.message["Message-ID"]: r for r in smtp_sink.received}
    assert set(by_id) == set(ids.values()) == set(reported)
    assert by_id[ids[finished]].data.rstrip(b"\r\n") == stored.rstrip(b"\r\n")
    assert by_id[ids[finished]].message["Subject"] == "Finished when queued"
    assert by_id[ids[bare]].message["Subject"] == "Message mixed0"
    # The stored message sets every field Flask-Mail's own message has.
    made = mime.StoredMessage("a@example.org", "b@example.org", b"x", "<id@example.org>")
    assert set(vars(made)) - {"wire"} == set(vars(Message(recipients=["a@example.org"], sender="b@example.org")))


def test_each_message_is_marked_sent_for_everyone_before_the_next_one_goes(db_app, smtp_sink):
    """The mark that closes the window for a duplicate is committed as soon as the server
    has said OK: when the next message is handed to the server, another connection
    already sees the one before it as sent (on SQLite a statement of its own, elsewhere
    autocommit)."""
    from flask_mail import email_dispatched

    ids = queue_plain(4, prefix="step")
    seen: list[list[str]] = []

    def statuses_elsewhere(app, message) -> None:
        with db.engine.connect() as other:
            rows = other.execute(
                sa.select(OutboxMessage.status).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
            )
            seen.append([status for (status,) in rows])

    with email_dispatched.connected_to(statuses_elsewhere):
        assert delivery.send_due().sent == 4
    sent, sending = OutboxStatus.SENT, OutboxStatus.SENDING
    # At each dispatch (after the server's OK, before that message's own mark): every
    # earlier message is sent, this one and the later ones are still being sent.
    assert seen == [[sent] * n + [sending] * (4 - n) for n in range(4)]
    assert {row.status for row in outbox_rows()} == {sent}


def test_the_envelope_is_flask_mails_for_plain_named_and_international_addresses(app, smtp_sink):
    """Delivery works the envelope out without Flask-Mail's per-message parsing
    (``delivery._Connection.send``): it must be what Flask-Mail's ``sanitize_address``
    gives, for a plain address, a sender with a name and an address whose domain is not
    ASCII, which goes as IDNA in the envelope and the To header alike."""
    from flask_mail import sanitize_address

    [plain] = queue_plain(1, prefix="plain")
    [international] = queue_plain(1, prefix="anna", domain="exämple.se")
    report = delivery.send_due()
    assert report.sent == 2, [row.last_error for row in outbox_rows()]
    envelopes = {tuple(r.rcpt_tos): r.mail_from for r in smtp_sink.received}
    assert envelopes == {
        ("plain0@example.org",): "noreply@kvarn.test",
        ("anna0@xn--exmple-cua.se",): "noreply@kvarn.test",
    }
    # What Flask-Mail's own send would have given (smtplib reduces it to the address).
    assert sanitize_address("anna0@exämple.se") == "anna0@xn--exmple-cua.se"
    [received] = [r for r in smtp_sink.received if r.rcpt_tos == ["anna0@xn--exmple-cua.se"]]
    assert received.message["To"] == "anna0@xn--exmple-cua.se"  # the header as the envelope
    assert {row.status for row in outbox_rows()} == {OutboxStatus.SENT}
