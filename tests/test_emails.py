"""Every kind of registration mail, as a real SMTP server receives it.

Each arrives with a text and an HTML part from the same data, in the
registration's language, with From, Reply-To, Date and Message-ID set, and the
calendar files (one per session) parse back (icalendar) with the right UID, times,
METHOD and SEQUENCE.
"""

from __future__ import annotations

from datetime import UTC
from email.utils import parseaddr, parsedate_to_datetime

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from icalendar import Calendar

from app.core import clock
from app.core.database import write_transaction
from app.core.extensions import db
from app.core.i18n import format_span
from app.mail import delivery
from app.models import Event, OutboxMessage, Registration
from app.registrations import notices, reminders, seats
from app.registrations.locking import lock_event
from tests import factories as f

TITLE = "Föräldraskap & <lek>"
VENUE = "Stadshuset, sal Åsen"


@pytest.fixture
def app_config(smtp_sink):
    return {**smtp_sink.config(), "DEV_MAILBOX": True}


@pytest.fixture
def course(app):
    org = f.organisation()
    ev = f.event(
        capacity=1,
        sessions=2,
        title=TITLE,
        what_to_bring="Penna och block",
        description="Om lek och samspel.",
        contact_email="kursledare@kommun.test",
    )

    def set_venue():
        db.session.get(Event, ev.id).sessions[0].venue = VENUE

    write_transaction(set_venue)
    return ev, org


def received(smtp_sink, kind: str, recipient: str):
    """Deliver what is due and return (outbox row, the message as received)."""
    delivery.send_due()
    db.session.rollback()
    row = db.session.scalars(
        sa.select(OutboxMessage)
        .where(OutboxMessage.kind == kind, OutboxMessage.recipient == recipient)
        .order_by(OutboxMessage.id.desc())
    ).first()
    assert row is not None, f"no {kind} queued for {recipient}"
    matches = [m for m in smtp_sink.to(recipient) if m["Message-ID"] == row.message_id]
    assert len(matches) == 1, f"{kind} to {recipient} arrived {len(matches)} times"
    return row, matches[0]


def parts(message):
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return text, html


def calendars(message) -> list[tuple[str, Calendar]]:
    found = []
    for part in message.iter_attachments():
        if part.get_content_type() == "text/calendar":
            found.append((part.get_filename(), Calendar.from_ical(part.get_content())))
    return found


def check_common(row, message, registration: Registration, locale: str) -> tuple[str, str]:
    """Headers, both parts, language; returns the two parts."""
    assert parseaddr(message["From"]) == ("Kvarn", "noreply@kvarn.test")
    assert parseaddr(message["Reply-To"])[1] == "kursledare@kommun.test"
    assert message["To"] == registration.email
    assert message["Message-ID"] == row.message_id
    assert message["Message-ID"].endswith("@kvarn.test>")
    sent_date = parsedate_to_datetime(message["Date"])
    assert abs((sent_date - row.created_at).total_seconds()) < 1
    assert message["Subject"] == row.subject and TITLE in message["Subject"]
    assert message["Content-Language"] == locale
    assert message["Auto-Submitted"] == "auto-generated"
    text, html = parts(message)
    assert f'<html lang="{locale}">' in html
    # Same data in both parts; the text part is not HTML-escaped, the HTML part is.
    assert TITLE in text and "&lt;lek&gt;" not in text
    assert "Föräldraskap &amp; &lt;lek&gt;" in html and TITLE not in html
    event = registration.event
    with force_locale(locale):
        when = [format_span(s.starts_at, s.ends_at) for s in event.sessions]
    for line in when:
        assert line in text and line in html
    assert VENUE in text and VENUE in html
    return text, html


def uids(cals: list[Calendar]) -> list[str]:
    return [str(e["UID"]) for cal in cals for e in cal.walk("VEVENT")]


def check_calendar(message, registration: Registration, method: str, sequence: int) -> list[Calendar]:
    """One calendar file per session (docs/calendar-files.md), each one VEVENT."""
    found = calendars(message)
    sessions = registration.event.sessions
    stem = "cancel" if method == "CANCEL" else "invite"
    assert [name for name, _cal in found] == [f"{stem}-{i}.ics" for i in range(1, len(sessions) + 1)]
    cals = [cal for _name, cal in found]
    assert {str(cal["METHOD"]) for cal in cals} == {method}
    assert [len(cal.walk("VEVENT")) for cal in cals] == [1] * len(sessions)
    events = [cal.walk("VEVENT")[0] for cal in cals]
    assert uids(cals) == [
        f"kvarn-registration-{registration.id}-session-{s.id}@kvarn.test" for s in sessions
    ]
    assert [e.decoded("DTSTART") for e in events] == [s.starts_at.replace(microsecond=0) for s in sessions]
    assert [e.decoded("DTEND") for e in events] == [s.ends_at.replace(microsecond=0) for s in sessions]
    assert all(e.decoded("DTSTART").tzinfo is not None for e in events)
    assert {int(e["SEQUENCE"]) for e in events} == {sequence}
    assert str(events[0]["LOCATION"]) == VENUE
    assert str(events[0]["SUMMARY"]) == f"{TITLE} (1/2)"
    assert {str(e["STATUS"]) for e in events} == {"CANCELLED" if method == "CANCEL" else "CONFIRMED"}
    for cal in cals:
        raw = cal.to_ical().decode()
        assert registration.manage_token not in raw  # the secret link never goes in a calendar
    return cals


def test_confirmation_in_swedish_with_calendar(app, course, smtp_sink):
    ev, org = course
    reg = f.sign_up(ev.id, org.id, 1, locale="sv").registration
    row, message = received(smtp_sink, "confirmation", reg.email)
    text, html = check_common(row, message, reg, "sv")
    manage = f"http://kvarn.test/r/{reg.manage_token}"
    assert manage in text and f'href="{manage}"' in html
    assert "Penna och block" in text and "Penna och block" in html
    assert " kl. " in text  # Swedish time format
    check_calendar(message, reg, "REQUEST", 0)


def test_waitlisted_in_english_with_position_and_no_calendar(app, course, smtp_sink):
    ev, org = course
    f.sign_up(ev.id, org.id, 1)
    f.sign_up(ev.id, org.id, 2)
    reg = f.sign_up(ev.id, org.id, 3, locale="en").registration
    row, message = received(smtp_sink, "waitlisted", reg.email)
    text, html = check_common(row, message, reg, "en")
    assert "waiting list as number 2" in text and "waiting list as number 2" in html
    assert " kl. " not in text
    assert calendars(message) == []
    assert reg.manage_token in text


def test_promotion_and_cancellation_replace_the_same_calendar_entries(app, course, smtp_sink):
    ev, org = course
    first = f.sign_up(ev.id, org.id, 1, locale="sv").registration
    second = f.sign_up(ev.id, org.id, 2, locale="en").registration
    seats.cancel(first.manage_token)

    row, message = received(smtp_sink, "cancelled", first.email)
    text, _html = check_common(row, message, first, "sv")
    cancel = check_calendar(message, first, "CANCEL", 1)  # outranks the confirmation's 0
    _row, confirmation = received(smtp_sink, "confirmation", first.email)
    assert uids(cancel) == uids([cal for _name, cal in calendars(confirmation)])

    db.session.refresh(second)
    row, message = received(smtp_sink, "promoted", second.email)
    check_common(row, message, second, "en")
    check_calendar(message, second, "REQUEST", 0)


def test_cancelling_from_the_waiting_list_sends_no_calendar(app, course, smtp_sink):
    ev, org = course
    f.sign_up(ev.id, org.id, 1)
    waiting = f.sign_up(ev.id, org.id, 2).registration
    seats.cancel(waiting.manage_token)
    _row, message = received(smtp_sink, "cancelled", waiting.email)
    assert calendars(message) == []  # there was never an entry to remove


def test_already_registered_carries_the_manage_link(app, course, smtp_sink):
    ev, org = course
    reg = f.sign_up(ev.id, org.id, 1, locale="en").registration
    assert f.sign_up(ev.id, org.id, 1).outcome == "already_registered"
    row, message = received(smtp_sink, "already_registered", reg.email)
    text, html = check_common(row, message, reg, "en")
    assert f"http://kvarn.test/r/{reg.manage_token}" in text
    assert f'href="http://kvarn.test/r/{reg.manage_token}"' in html
    assert calendars(message) == []


def test_reminder_has_date_time_venue_what_to_bring_and_manage_link(app, course, smtp_sink):
    ev, org = course
    reg = f.sign_up(ev.id, org.id, 1, locale="sv").registration
    assert reminders.queue_reminders(ev.id, None) == 1
    row, message = received(smtp_sink, "reminder", reg.email)
    text, html = check_common(row, message, reg, "sv")
    for body in (text, html):
        assert "Penna och block" in body
        assert reg.manage_token in body
    assert calendars(message) == []


def test_event_changed_sends_an_update_with_a_higher_sequence(app, course, smtp_sink):
    ev, org = course
    seated = f.sign_up(ev.id, org.id, 1, locale="sv").registration
    waiting = f.sign_up(ev.id, org.id, 2, locale="en").registration
    new_venue = "Kulturhuset, lilla salen"

    def change():
        event = lock_event(ev.id)
        event.sessions[1].venue = new_venue
        event.ics_sequence += 1
        for registration in db.session.scalars(
            sa.select(Registration).where(Registration.event_id == ev.id)
        ):
            notices.event_changed(
                registration,
                [{"what": "venue", "session": 2, "old": "Sal 2", "new": new_venue}],
            )

    write_transaction(change)
    row, message = received(smtp_sink, "event_changed", seated.email)
    text, html = check_common(row, message, seated, "sv")
    assert "Sal 2" in text and new_venue in text and new_venue in html
    cals = check_calendar(message, seated, "REQUEST", 1)
    assert str(cals[1].walk("VEVENT")[0]["LOCATION"]) == new_venue

    row, message = received(smtp_sink, "event_changed", waiting.email)
    text, _html = check_common(row, message, waiting, "en")
    assert "Session 2: the venue is now Kulturhuset, lilla salen (was Sal 2)." in text
    assert calendars(message) == []  # no seat, nothing for the calendar


def test_event_cancelled_tells_everyone_and_removes_calendar_entries(app, course, smtp_sink):
    ev, org = course
    seated = f.sign_up(ev.id, org.id, 1, locale="en").registration
    waiting = f.sign_up(ev.id, org.id, 2, locale="sv").registration
    seats.cancel_event(ev.id, None, "Kursledaren är sjuk.")
    db.session.refresh(seated)
    row, message = received(smtp_sink, "event_cancelled", seated.email)
    text, html = check_common(row, message, seated, "en")
    assert "Kursledaren är sjuk." in text and "Kursledaren är sjuk." in html
    check_calendar(message, seated, "CANCEL", 1)
    _row, message = received(smtp_sink, "event_cancelled", waiting.email)
    assert calendars(message) == []


def test_gauged_lecture_confirmation_goes_by_mail(app, smtp_sink):
    from app.models import EventStatus

    org = f.organisation()
    ev = f.event(capacity=5, status=EventStatus.GAUGING, contact_email="kursledare@kommun.test")
    reg = f.sign_up(ev.id, org.id, 1, locale="en").registration
    _row, message = received(smtp_sink, "interest_received", reg.email)
    assert "not a seat yet" in parts(message)[0]
    assert message.get_body(("html",)) is not None


def test_dates_are_stockholm_time(app, course, smtp_sink):
    ev, org = course
    reg = f.sign_up(ev.id, org.id, 1, locale="sv").registration
    _row, message = received(smtp_sink, "confirmation", reg.email)
    start = reg.event.sessions[0].starts_at
    local = start.astimezone(UTC).astimezone(clock.STOCKHOLM)
    assert local.strftime("%H.%M") in parts(message)[0]


def test_a_newcomer_reads_the_confirmation_in_the_dev_mailbox(app, course):
    """`make run`: no SMTP at all, the confirmation is readable right after signing up."""
    ev, org = course
    client = app.test_client()
    response = client.post(
        f"/events/{ev.id}/register?lang=en",
        data={"name": "Nina Newcomer", "email": "nina@example.org", "organisation": org.id},
    )
    assert response.status_code == 303
    manage = client.get(response.headers["Location"])
    assert "/dev/mailbox?to=nina@example.org" in manage.get_data(as_text=True)

    listing = client.get("/dev/mailbox?to=nina%40example.org")
    assert listing.status_code == 200
    row = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.recipient == "nina@example.org"))
    assert row.status == "pending"  # nothing was delivered: the page reads the outbox
    page = client.get(f"/dev/mailbox/{row.id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Nina Newcomer" in body and "invite-1.ics" in body and row.message_id.strip("<>") in body
    assert f"/r/{db.session.get(Registration, row.registration_id).manage_token}" in body

    html = client.get(f"/dev/mailbox/{row.id}/html")
    assert html.data.decode() == row.body_html.replace("<head>", '<head><base target="_blank">', 1)
    assert "sandbox" in html.headers["Content-Security-Policy"]
    assert "script-src" not in html.headers["Content-Security-Policy"]  # default-src 'none'
    ics = client.get(f"/dev/mailbox/{row.id}/attachments/0")
    assert ics.mimetype == "text/calendar"
    assert Calendar.from_ical(ics.data)["METHOD"] == "REQUEST"
    assert "invite-2.ics" in body  # the course's second session, its own file
    assert client.get(f"/dev/mailbox/{row.id}/attachments/5").status_code == 404
    assert client.get("/dev/mailbox/999999").status_code == 404


def test_the_dev_mailbox_is_off_unless_configured(app):
    from app import create_app
    from tests.plugins.databases import base_config

    production_like = create_app(base_config(app.config["SQLALCHEMY_DATABASE_URI"]))
    assert not production_like.config["DEV_MAILBOX"]
    assert production_like.test_client().get("/dev/mailbox").status_code == 404
