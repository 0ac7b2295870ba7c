"""The structure of every calendar file Kvarn makes (docs/calendar-files.md).

Mails: one iTIP object per session, each its own text/calendar attachment with one
VEVENT and a UID per registration and session, so Outlook and Gmail (which read only
the first VEVENT of an object) and Apple Calendar all get every session. Updates keep
the UIDs and raise SEQUENCE; cancellations keep the UIDs, say METHOD:CANCEL and
STATUS:CANCELLED. Downloads: one METHOD:PUBLISH object with every session, no
attendee. All times in UTC. No file carries the personal link (``/r/…``) or a token.

Each file is parsed back with the icalendar package, from the finished message bytes
(``OutboxMessage.wire``) and from the stored attachments alike.
"""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email import policy

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from app.core.database import write_transaction
from app.core.errors import NotFound
from app.core.extensions import db
from app.events.calendar_files import event_calendar_bytes, registration_calendar_bytes
from app.mail import calendar
from app.models import Event, EventStatus, OutboxMessage, Registration
from app.registrations import notices, seats
from app.registrations.locking import lock_event
from tests import factories as f

HOST = "kvarn.test"


# --- reading what was queued --------------------------------------------------------


def latest(kind: str, registration: Registration) -> OutboxMessage:
    db.session.rollback()
    row = db.session.scalars(
        sa.select(OutboxMessage)
        .where(OutboxMessage.kind == kind, OutboxMessage.registration_id == registration.id)
        .order_by(OutboxMessage.id.desc())
    ).first()
    assert row is not None, f"no {kind} queued for registration {registration.id}"
    return row


def calendar_parts(row: OutboxMessage) -> list[tuple[str, str, str]]:
    """(filename, the Content-Type's method, the .ics text) of each calendar attachment,
    read from the finished message; the stored attachments column says the same."""
    message = email.message_from_bytes(row.wire, policy=policy.default)
    found = [
        (part.get_filename(), part.get_param("method"), part.get_content())
        for part in message.iter_attachments()
        if part.get_content_type() == "text/calendar"
    ]
    stored = [
        (a["filename"], a["content_type"].split("method=")[1].split(";")[0], a["data"])
        for a in row.attachments
        if a["content_type"].startswith("text/calendar")
    ]
    assert [(n, m, d.replace("\r\n", "\n")) for n, m, d in found] == [
        (n, m, d.replace("\r\n", "\n")) for n, m, d in stored
    ]
    return found


def vevents(cal: Calendar) -> list:
    return cal.walk("VEVENT")


def registration_uids(registration: Registration) -> list[str]:
    return [
        f"kvarn-registration-{registration.id}-session-{s.id}@{HOST}"
        for s in registration.event.sessions
    ]


# --- what every file must be ------------------------------------------------------


def check_secrets_kept(raw: str, registrations: list[Registration]) -> None:
    assert "/r/" not in raw  # the personal page's path
    for registration in registrations:
        assert registration.manage_token not in raw


def check_utc_times(raw: str, cal: Calendar) -> None:
    """DTSTART/DTEND/DTSTAMP as UTC (``…Z``): no TZID, no VTIMEZONE, nothing floating."""
    assert not cal.walk("VTIMEZONE")
    assert "TZID" not in raw
    lines = raw.replace("\r\n", "\n").split("\n")
    stamped = [line for line in lines if line.split(":")[0] in ("DTSTART", "DTEND", "DTSTAMP")]
    assert stamped and all(line.endswith("Z") for line in stamped), stamped
    for event in vevents(cal):
        for name in ("DTSTART", "DTEND", "DTSTAMP"):
            assert event.decoded(name).utcoffset() == timedelta(0)


def check_mail_files(
    row: OutboxMessage, registration: Registration, method: str, sequence: int
) -> list[Calendar]:
    """One attachment per session, each a whole iTIP object about one UID."""
    event = registration.event
    sessions = event.sessions
    parts = calendar_parts(row)
    assert len(parts) == len(sessions)
    stem = "cancel" if method == "CANCEL" else "invite"
    expected_names = (
        [f"{stem}.ics"] if len(sessions) == 1 else [f"{stem}-{i}.ics" for i in range(1, len(sessions) + 1)]
    )
    assert [name for name, _m, _d in parts] == expected_names
    cals = []
    for index, ((_name, content_method, raw), session) in enumerate(
        zip(parts, sessions, strict=True), start=1
    ):
        cal = Calendar.from_ical(raw)
        cals.append(cal)
        assert content_method == method == str(cal["METHOD"])  # the MIME type agrees
        [vevent] = vevents(cal)  # exactly one VEVENT per object
        assert str(vevent["UID"]) == f"kvarn-registration-{registration.id}-session-{session.id}@{HOST}"
        assert int(vevent["SEQUENCE"]) == sequence
        assert vevent.decoded("DTSTART") == session.starts_at.replace(microsecond=0)
        assert vevent.decoded("DTEND") == session.ends_at.replace(microsecond=0)
        assert str(vevent["STATUS"]) == ("CANCELLED" if method == "CANCEL" else "CONFIRMED")
        assert str(vevent["URL"]) == f"http://{HOST}/events/{event.id}"
        assert str(vevent["ORGANIZER"]) == "mailto:organiser@kommun.test"
        assert str(vevent["ATTENDEE"]) == f"mailto:{registration.email}"
        title = event.title if len(sessions) == 1 else f"{event.title} ({index}/{len(sessions)})"
        assert str(vevent["SUMMARY"]) == title
        check_utc_times(raw, cal)
        check_secrets_kept(raw, [registration])
    assert [str(vevents(c)[0]["UID"]) for c in cals] == registration_uids(registration)
    assert len(set(registration_uids(registration))) == len(sessions)
    return cals


def uids_of(cals: list[Calendar]) -> list[str]:
    return [str(e["UID"]) for cal in cals for e in vevents(cal)]


def sequences_of(cals: list[Calendar]) -> set[int]:
    return {int(e["SEQUENCE"]) for cal in cals for e in vevents(cal)}


def change_venue(event_id: int, session_index: int, venue: str) -> None:
    """Move one session and tell everyone, as an event edit does (``editing``)."""

    def work():
        event = lock_event(event_id)
        old = event.sessions[session_index].venue
        event.sessions[session_index].venue = venue
        event.ics_sequence += 1
        for registration in db.session.scalars(
            sa.select(Registration).where(Registration.event_id == event_id)
        ):
            notices.event_changed(
                registration,
                [{"what": "venue", "session": session_index + 1, "old": old, "new": venue}],
            )

    write_transaction(work)


def fresh(model, id_):
    db.session.rollback()
    return db.session.get(model, id_)


# --- the mails --------------------------------------------------------------------


@pytest.mark.parametrize("sessions", [1, 3])
def test_confirmation_update_and_cancellation_keep_one_uid_per_session(db_app, sessions):
    org = f.organisation()
    ev = f.event(capacity=5, sessions=sessions)
    reg = f.sign_up(ev.id, org.id, 1).registration
    reg = fresh(Registration, reg.id)

    confirmation = check_mail_files(latest("confirmation", reg), reg, "REQUEST", 0)

    changed = sessions - 1  # the last session moves
    change_venue(ev.id, changed, "Kulturhuset, lilla salen")
    reg = fresh(Registration, reg.id)
    update = check_mail_files(latest("event_changed", reg), reg, "REQUEST", 1)
    assert uids_of(update) == uids_of(confirmation)  # replaces, never adds
    assert sequences_of(update) == {1} and sequences_of(confirmation) == {0}
    assert str(vevents(update[changed])[0]["LOCATION"]) == "Kulturhuset, lilla salen"

    seats.cancel(reg.manage_token)
    reg = fresh(Registration, reg.id)
    cancel = check_mail_files(latest("cancelled", reg), reg, "CANCEL", 2)
    assert uids_of(cancel) == uids_of(confirmation)
    assert sequences_of(cancel) == {2}  # outranks the last update's 1


@pytest.mark.parametrize("sessions", [1, 3])
def test_an_event_cancelled_cancels_every_session_of_everyone_seated(app, sessions):
    org = f.organisation()
    ev = f.event(capacity=2, sessions=sessions)
    people = [f.sign_up(ev.id, org.id, n).registration for n in (1, 2)]
    seats.cancel_event(ev.id, None, "Kursledaren är sjuk.")
    for person in people:
        reg = fresh(Registration, person.id)
        confirmation = check_mail_files(latest("confirmation", reg), reg, "REQUEST", 0)
        cancel = check_mail_files(latest("event_cancelled", reg), reg, "CANCEL", 1)
        assert uids_of(cancel) == uids_of(confirmation)


def test_two_people_never_share_a_uid(app):
    org = f.organisation()
    ev = f.event(capacity=5, sessions=3)
    first, second = (fresh(Registration, f.sign_up(ev.id, org.id, n).registration.id) for n in (1, 2))
    mine = uids_of(check_mail_files(latest("confirmation", first), first, "REQUEST", 0))
    theirs = uids_of(check_mail_files(latest("confirmation", second), second, "REQUEST", 0))
    assert not set(mine) & set(theirs)


def test_the_waiting_list_gets_no_calendar_file(app):
    org = f.organisation()
    ev = f.event(capacity=1, sessions=3)
    f.sign_up(ev.id, org.id, 1)
    waiting = fresh(Registration, f.sign_up(ev.id, org.id, 2).registration.id)
    assert calendar_parts(latest("waitlisted", waiting)) == []


# --- the downloads ----------------------------------------------------------------


def parse_download(raw: bytes) -> tuple[str, Calendar]:
    text = raw.decode("utf-8")
    [cal] = Calendar.from_ical(text, multiple=True)  # one VCALENDAR
    return text, cal


@pytest.mark.parametrize("sessions", [1, 3])
def test_the_public_event_file(app, sessions):
    org = f.organisation()
    ev = f.event(capacity=5, sessions=sessions, title="Föräldraskap & lek")
    people = [f.sign_up(ev.id, org.id, n, name=f"Namn{n} Efternamn").registration for n in (1, 2)]
    people = [fresh(Registration, p.id) for p in people]
    event = fresh(Event, ev.id)

    text, cal = parse_download(event_calendar_bytes(event))
    assert str(cal["METHOD"]) == "PUBLISH"
    assert str(cal["X-WR-CALNAME"]) == "Föräldraskap & lek"
    events = vevents(cal)
    assert [str(e["UID"]) for e in events] == [
        f"kvarn-event-{event.id}-session-{s.id}@{HOST}" for s in event.sessions
    ]
    assert len({str(e["UID"]) for e in events}) == sessions
    assert [e.decoded("DTSTART") for e in events] == [
        s.starts_at.replace(microsecond=0) for s in event.sessions
    ]
    assert {int(e["SEQUENCE"]) for e in events} == {0}
    assert {str(e["STATUS"]) for e in events} == {"CONFIRMED"}
    assert {str(e["URL"]) for e in events} == {f"http://{HOST}/events/{event.id}"}
    assert all("ATTENDEE" not in e for e in events)
    assert "ATTENDEE" not in text
    check_utc_times(text, cal)
    check_secrets_kept(text, people)
    for person in people:  # nobody's name or address
        assert person.email not in text and person.name not in text

    # Downloaded again after a venue change: the same UIDs, a higher SEQUENCE.
    change_venue(ev.id, 0, "Kulturhuset")
    again_text, again = parse_download(event_calendar_bytes(fresh(Event, ev.id)))
    assert [str(e["UID"]) for e in vevents(again)] == [str(e["UID"]) for e in events]
    assert {int(e["SEQUENCE"]) for e in vevents(again)} == {1}
    assert str(vevents(again)[0]["LOCATION"]) == "Kulturhuset"
    check_secrets_kept(again_text, people)

    # Cancelled: every session says so, and outranks the last version.
    seats.cancel_event(ev.id, None, "")
    cancelled_text, cancelled = parse_download(event_calendar_bytes(fresh(Event, ev.id)))
    assert str(cancelled["METHOD"]) == "PUBLISH"
    assert [str(e["UID"]) for e in vevents(cancelled)] == [str(e["UID"]) for e in events]
    assert {str(e["STATUS"]) for e in vevents(cancelled)} == {"CANCELLED"}
    assert {int(e["SEQUENCE"]) for e in vevents(cancelled)} == {2}
    check_utc_times(cancelled_text, cancelled)
    check_secrets_kept(cancelled_text, people)


def test_a_draft_has_no_public_file(app):
    ev = f.event(status=EventStatus.DRAFT, sessions=2)
    with pytest.raises(NotFound):
        event_calendar_bytes(fresh(Event, ev.id))


def test_the_personal_file_matches_the_mailed_entries(app):
    org = f.organisation()
    ev = f.event(capacity=1, sessions=3)
    seated = fresh(Registration, f.sign_up(ev.id, org.id, 1).registration.id)
    waiting = fresh(Registration, f.sign_up(ev.id, org.id, 2).registration.id)

    text, cal = parse_download(registration_calendar_bytes(seated))
    assert str(cal["METHOD"]) == "PUBLISH"
    mailed = check_mail_files(latest("confirmation", seated), seated, "REQUEST", 0)
    assert [str(e["UID"]) for e in vevents(cal)] == uids_of(mailed)
    assert {str(e["STATUS"]) for e in vevents(cal)} == {"CONFIRMED"}
    assert "ATTENDEE" not in text and seated.email not in text
    check_utc_times(text, cal)
    check_secrets_kept(text, [seated, waiting])

    with pytest.raises(NotFound):  # nothing of a waiting person's goes in a calendar yet
        registration_calendar_bytes(waiting)

    seats.cancel(seated.manage_token)
    text, cal = parse_download(registration_calendar_bytes(fresh(Registration, seated.id)))
    assert {str(e["STATUS"]) for e in vevents(cal)} == {"CANCELLED"}
    assert {int(e["SEQUENCE"]) for e in vevents(cal)} == {1}
    check_secrets_kept(text, [seated, waiting])


# --- the domain-free builder --------------------------------------------------------


def entry(uid: str, start: datetime) -> calendar.CalendarEntry:
    return calendar.CalendarEntry(
        uid=uid,
        sequence=0,
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        summary="Kurs",
        url="http://kvarn.test/events/1",
        organiser=calendar.Person("organiser@kommun.test", "Kvarn"),
    )


START = datetime(2030, 3, 30, 23, 30, tzinfo=UTC)  # the night clocks go forward


def test_a_scheduling_object_is_about_one_uid(app):
    two = [entry("a@kvarn.test", START), entry("b@kvarn.test", START + timedelta(days=1))]
    for method in ("REQUEST", "CANCEL"):
        with pytest.raises(ValueError):
            calendar.calendar_bytes(two, method)
        files = calendar.attachments(two, method)
        assert len(files) == 2
        for attached in files:
            [vevent] = vevents(Calendar.from_ical(attached["data"]))
            assert f"method={method}" in attached["content_type"]
        assert [a["filename"] for a in files] == [calendar.filename(method, 1), calendar.filename(method, 2)]
    [single] = calendar.attachments(two[:1], "REQUEST")
    assert single["filename"] == "invite.ics"
    assert len(vevents(Calendar.from_ical(calendar.calendar_bytes(two, "PUBLISH")))) == 2


def test_times_are_written_in_utc_and_never_floating(app):
    from zoneinfo import ZoneInfo

    local = datetime(2030, 3, 31, 9, 0, tzinfo=ZoneInfo("Europe/Stockholm"))  # CEST, +02:00
    raw = calendar.calendar_bytes([entry("a@kvarn.test", local)], "PUBLISH").decode()
    cal = Calendar.from_ical(raw)
    check_utc_times(raw, cal)
    assert vevents(cal)[0].decoded("DTSTART") == datetime(2030, 3, 31, 7, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        calendar.calendar_bytes([entry("a@kvarn.test", datetime(2030, 3, 31, 9, 0))], "PUBLISH")
