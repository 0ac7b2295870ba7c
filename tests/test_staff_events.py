"""Organisers' event pages: create, edit (who is told), publish, gauge, close, confirm, cancel.

Every action is checked for what it writes, the mail it queues (kind, recipient)
and the audit entry (action, user).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from app.core import clock
from app.core.errors import Refused
from app.core.extensions import db
from app.events import editing, publishing, schedule
from app.models import (
    AuditEntry,
    Event,
    EventKind,
    EventStatus,
    OutboxMessage,
    Registration,
    RegistrationStatus,
    Role,
)
from app.registrations import seats
from tests import factories as f
from tests.staff_helpers import audit_actions, form_inputs, login_as, make_user, outbox

S = RegistrationStatus


def local(dt: datetime) -> str:
    return clock.local(dt).strftime("%Y-%m-%dT%H:%M")


def day(days: int, hour: int) -> datetime:
    base = clock.local(clock.now()).replace(hour=hour, minute=0, second=0, microsecond=0)
    return base + timedelta(days=days)


def form_data(**overrides) -> dict:
    data = {
        "kind": "lecture",
        "title": "Kvällsföreläsning om sömn",
        "description": "Om barns sömn.",
        "what_to_bring": "",
        "language": "sv",
        "sessions-0-starts_at": local(day(20, 18)),
        "sessions-0-ends_at": local(day(20, 20)),
        "sessions-0-venue": "Aulan",
        "capacity": "50",
        "waitlist_enabled": "y",
        "registration_opens_at": "",
        "registration_closes_at": "",
        "contact_email": "kurs@kvarn.example",
        "interest_threshold": "",
        "interest_deadline": "",
        "notify_coordinators_on_threshold": "y",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def edit_data(event: Event, **overrides) -> dict:
    """The edit form as the page would submit it, unchanged unless overridden."""
    data = form_data(
        kind=event.kind.value,
        title=event.title,
        description=event.description,
        capacity=str(event.capacity),
        contact_email=event.contact_email or "",
        waitlist_enabled="y" if event.waitlist_enabled else None,
        interest_threshold=str(event.interest_threshold or ""),
        interest_deadline=local(event.interest_deadline) if event.interest_deadline else "",
    )
    for key in [k for k in data if k.startswith("sessions-")]:
        del data[key]
    for i, s in enumerate(event.sessions):
        data[f"sessions-{i}-starts_at"] = local(s.starts_at)
        data[f"sessions-{i}-ends_at"] = local(s.ends_at)
        if s.venue:
            data[f"sessions-{i}-venue"] = s.venue
        else:
            data[f"sessions-{i}-venue_tbd"] = "y"
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def make_event(**fields) -> Event:
    # The factory's default address (@kommun.test) is one the form rightly refuses.
    return f.event(**{"contact_email": "kurs@kvarn.example", **fields})


def fresh(event_id: int) -> Event:
    return db.session.get(Event, event_id, populate_existing=True)


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# --- create -------------------------------------------------------------------


def test_create_event_saves_a_draft_with_sessions_and_audits(app, client):
    user = login_as(client)
    data = form_data(
        **{
            "sessions-1-starts_at": local(day(21, 9)),
            "sessions-1-ends_at": local(day(21, 12)),
            "sessions-1-venue_tbd": "y",
        }
    )
    response = client.post("/staff/events/new", data=data)
    assert response.status_code == 303
    event = db.session.scalar(sa.select(Event))
    assert response.headers["Location"].endswith(f"/staff/events/{event.id}")
    assert event.status == EventStatus.DRAFT
    assert event.organiser_id == user.id
    assert (event.kind, event.capacity, event.contact_email) == (
        EventKind.LECTURE, 50, "kurs@kvarn.example"
    )
    assert [(clock.local(s.starts_at).hour, s.venue) for s in event.sessions] == [
        (18, "Aulan"), (9, None)
    ]
    assert audit_actions(user.id) == ["event.create"]
    assert outbox() == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"title": ""}, "Give the event a title."),
        ({"sessions-0-ends_at": local(day(20, 17))}, "The session must end after it starts."),
        ({"sessions-0-venue": ""}, "Enter the venue, or tick"),
        ({"sessions-0-starts_at": "next tuesday"}, "Enter a date and time"),
        ({"capacity": "-1"}, "Enter a number from 0 to"),
        ({"capacity": "many"}, "Capacity (seats)"),
        ({"contact_email": "not-an-address"}, "Enter a valid email address"),
        (
            {"registration_opens_at": local(day(5, 9)), "registration_closes_at": local(day(4, 9))},
            "Registration must close after it opens.",
        ),
    ],
)
def test_bad_event_form_is_refused_with_a_message_and_writes_nothing(app, client, overrides, message):
    login_as(client)
    response = client.post("/staff/events/new", data=form_data(**overrides))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count(Event) == 0
    assert audit_actions() == []


def test_add_session_button_adds_a_blank_session_without_saving(app, client):
    login_as(client)
    response = client.post("/staff/events/new", data={**form_data(), "add_session": "1"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'name="sessions-1-starts_at"' in page and "Aulan" in page
    assert count(Event) == 0


def test_removing_every_session_is_refused(app, client):
    login_as(client)
    response = client.post("/staff/events/new", data=form_data(**{"sessions-0-remove": "y"}))
    assert response.status_code == 400
    assert "An event needs at least one session." in response.get_data(as_text=True)
    assert count(Event) == 0


# --- publish, gauge, close, reopen ----------------------------------------------


def test_publish_opens_a_draft_and_audits(app, client):
    user = login_as(client)
    ev = make_event(status=EventStatus.DRAFT)
    response = client.post(f"/staff/events/{ev.id}/publish")
    assert response.status_code == 303
    assert fresh(ev.id).status == EventStatus.OPEN
    assert audit_actions(user.id) == ["event.publish"]
    assert outbox() == []


def test_publish_refuses_an_event_in_the_past_with_a_message(app, client):
    user = login_as(client)
    ev = make_event(status=EventStatus.DRAFT, days_ahead=-3)
    response = client.post(f"/staff/events/{ev.id}/publish", follow_redirects=True)
    assert response.status_code == 200
    assert "The event has already taken place" in response.get_data(as_text=True)
    assert fresh(ev.id).status == EventStatus.DRAFT
    assert audit_actions(user.id) == []


def test_publish_as_gauging_needs_threshold_and_deadline(app, client):
    user = login_as(client)
    ev = make_event(status=EventStatus.DRAFT, capacity=40)
    page = client.post(f"/staff/events/{ev.id}/gauge", follow_redirects=True).get_data(as_text=True)
    assert "Set an interest threshold before gauging interest." in page
    assert fresh(ev.id).status == EventStatus.DRAFT

    data = edit_data(ev, interest_threshold="25", interest_deadline=local(day(5, 23)))
    assert client.post(f"/staff/events/{ev.id}/edit", data=data).status_code == 303
    assert client.post(f"/staff/events/{ev.id}/gauge").status_code == 303
    event = fresh(ev.id)
    assert (event.status, event.interest_threshold) == (EventStatus.GAUGING, 25)
    assert audit_actions(user.id) == ["event.update", "event.gauge"]
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "event.gauge"))
    assert entry.details["interest_threshold"] == 25 and entry.object_id == ev.id


def test_close_and_reopen_registration(app, client):
    user = login_as(client)
    org = f.organisation()
    ev = make_event(capacity=5)
    assert client.post(f"/staff/events/{ev.id}/close").status_code == 303
    assert fresh(ev.id).status == EventStatus.CLOSED
    with pytest.raises(Refused):
        f.sign_up(ev.id, org.id, 1)
    assert client.post(f"/staff/events/{ev.id}/reopen").status_code == 303
    assert fresh(ev.id).status == EventStatus.OPEN
    assert f.sign_up(ev.id, org.id, 1).outcome == "confirmed"
    assert audit_actions(user.id) == ["event.close", "event.reopen"]


def test_closing_a_draft_is_refused_not_an_error(app, client):
    login_as(client)
    ev = make_event(status=EventStatus.DRAFT)
    response = client.post(f"/staff/events/{ev.id}/close", follow_redirects=True)
    assert response.status_code == 200
    assert "Only an open event can be closed." in response.get_data(as_text=True)
    assert fresh(ev.id).status == EventStatus.DRAFT


# --- confirm a gauged event, cancel an event ------------------------------------


def test_confirm_gauged_event_gives_seats_in_interest_order_and_mails_everyone(app, client):
    user = login_as(client)
    org = f.organisation()
    ev = make_event(
        capacity=2,
        status=EventStatus.GAUGING,
        interest_threshold=3,
        interest_deadline=clock.now() + timedelta(days=3),
    )
    for n in range(3):
        f.sign_up(ev.id, org.id, n)
    before = len(outbox())
    response = client.post(f"/staff/events/{ev.id}/confirm", follow_redirects=True)
    assert "2 got a seat and 1 are on the waiting list" in response.get_data(as_text=True)
    assert fresh(ev.id).status == EventStatus.OPEN
    assert outbox()[before:] == [
        ("confirmation", "person0@example.org"),
        ("confirmation", "person1@example.org"),
        ("waitlisted", "person2@example.org"),
    ]
    assert audit_actions(user.id) == ["event.confirm"]


def test_cancel_event_page_shows_who_is_told_and_sends_the_message(app, client):
    user = login_as(client)
    org = f.organisation()
    ev = make_event(capacity=1)
    for n in range(2):
        f.sign_up(ev.id, org.id, n)
    page = client.get(f"/staff/events/{ev.id}/cancel").get_data(as_text=True)
    assert "2 people" in page
    before = len(outbox())
    response = client.post(
        f"/staff/events/{ev.id}/cancel", data={"message": "Föreläsaren är sjuk. Vi hör av oss."}
    )
    assert response.status_code == 303
    assert fresh(ev.id).status == EventStatus.CANCELLED
    assert outbox()[before:] == [
        ("event_cancelled", "person0@example.org"),
        ("event_cancelled", "person1@example.org"),
    ]
    bodies = db.session.scalars(
        sa.select(OutboxMessage.body_text).where(OutboxMessage.kind == "event_cancelled")
    ).all()
    assert all("Föreläsaren är sjuk." in body for body in bodies)
    assert audit_actions(user.id) == ["event.cancel"]
    assert db.session.scalars(sa.select(Registration.status)).all() == [S.CANCELLED, S.CANCELLED]
    # A second cancel is refused politely, and tells nobody again.
    again = client.post(f"/staff/events/{ev.id}/cancel", data={"message": "x"})
    assert again.status_code == 400
    assert "can no longer be cancelled" in again.get_data(as_text=True)
    assert len(outbox()) == before + 2


# --- edit: capacity --------------------------------------------------------------


def test_raising_capacity_promotes_from_the_waitlist_at_once(app, client):
    user = login_as(client)
    org = f.organisation()
    ev = make_event(capacity=1)
    for n in range(3):
        f.sign_up(ev.id, org.id, n)
    before = len(outbox())
    response = client.post(f"/staff/events/{ev.id}/edit", data=edit_data(ev, capacity="2"))
    assert response.status_code == 303
    assert "1 person got a seat from the waiting list." in client.get(
        response.headers["Location"]
    ).get_data(as_text=True)
    assert fresh(ev.id).capacity == 2
    assert outbox()[before:] == [("promoted", "person1@example.org")]
    assert audit_actions(user.id) == ["event.capacity"]


def test_lowering_capacity_below_the_seats_taken_is_refused_with_an_explanation(app, client):
    user = login_as(client)
    org = f.organisation()
    ev = make_event(capacity=3)
    for n in range(3):
        f.sign_up(ev.id, org.id, n)
    before = len(outbox())
    response = client.post(
        f"/staff/events/{ev.id}/edit", data=edit_data(ev, capacity="2", title="Nytt namn")
    )
    assert response.status_code == 400
    assert "3 people already have a seat" in response.get_data(as_text=True)
    event = fresh(ev.id)
    assert (event.capacity, event.title) == (3, ev.title)
    assert len(outbox()) == before
    assert audit_actions(user.id) == []


# --- edit: time and venue ---------------------------------------------------------


def test_changing_the_venue_shows_who_is_told_then_mails_them_and_bumps_the_sequence(app, client):
    user = login_as(client)
    org = f.organisation()
    ev = make_event(capacity=1)
    f.sign_up(ev.id, org.id, 0, name="Åsa Ek")
    f.sign_up(ev.id, org.id, 1, name="Bo Ström", locale="en")
    cancelled = f.sign_up(ev.id, org.id, 2, name="Cancelled Person").registration
    seats.cancel(cancelled.manage_token)
    before = len(outbox())
    data = edit_data(ev, **{"sessions-0-venue": "Stora salen"})

    step = client.post(f"/staff/events/{ev.id}/edit", data=data)
    assert step.status_code == 200
    page = step.get_data(as_text=True)
    assert "2 people will get an email" in page
    assert "Åsa Ek" in page and "Bo Ström" in page and "Cancelled Person" not in page
    assert "Stora salen" in page and 'name="confirm_notice" value="1"' in page
    assert fresh(ev.id).sessions[0].venue == "Sal 1"  # nothing saved yet
    assert len(outbox()) == before and audit_actions(user.id) == []

    # The confirm step carries the whole edit in hidden fields: post exactly what it holds.
    carried = form_inputs(page, f"/staff/events/{ev.id}/edit")
    assert carried["confirm_notice"] == "1" and carried["sessions-0-venue"] == "Stora salen"
    done = client.post(f"/staff/events/{ev.id}/edit", data=carried)
    assert done.status_code == 303
    event = fresh(ev.id)
    assert event.sessions[0].venue == "Stora salen"
    assert event.ics_sequence == 1
    assert outbox()[before:] == [
        ("event_changed", "person0@example.org"),
        ("event_changed", "person1@example.org"),
    ]
    mails = {
        m.recipient: m
        for m in db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "event_changed"))
    }
    assert "Stora salen" in mails["person0@example.org"].body_text
    assert "The venue is now Stora salen (was Sal 1)." in mails["person1@example.org"].body_text
    # The seated person gets the updated calendar entry with the higher SEQUENCE.
    [ics] = mails["person0@example.org"].attachments
    assert "SEQUENCE:1" in ics["data"]
    assert audit_actions(user.id) == ["event.update"]
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "event.update"))
    assert entry.details["notified"] == 2 and entry.details["ics_sequence"] == 1
    assert entry.details["sessions"]["to"][0]["venue"] == "Stora salen"


def test_changing_the_time_of_a_gauging_event_tells_the_interested(app, client):
    user = login_as(client)
    org = f.organisation()
    ev = make_event(
        status=EventStatus.GAUGING,
        interest_threshold=10,
        interest_deadline=clock.now() + timedelta(days=3),
    )
    f.sign_up(ev.id, org.id, 0)
    start = clock.local(ev.sessions[0].starts_at) + timedelta(days=1)
    data = edit_data(
        ev,
        **{
            "sessions-0-starts_at": local(start),
            "sessions-0-ends_at": local(start + timedelta(hours=2)),
        },
    )
    page = client.post(f"/staff/events/{ev.id}/edit", data=data).get_data(as_text=True)
    assert "Interested: 1" in page
    before = len(outbox())
    assert client.post(
        f"/staff/events/{ev.id}/edit", data={**data, "confirm_notice": "1"}
    ).status_code == 303
    assert outbox()[before:] == [("event_changed", "person0@example.org")]
    assert audit_actions(user.id) == ["event.update"]


def test_back_from_the_confirm_step_saves_nothing_and_asks_again(app, client):
    login_as(client)
    org = f.organisation()
    ev = make_event()
    f.sign_up(ev.id, org.id, 0)
    data = edit_data(ev, **{"sessions-0-venue": "Annan sal"})
    back = client.post(
        f"/staff/events/{ev.id}/edit", data={**data, "confirm_notice": "1", "back": "1"}
    )
    assert back.status_code == 200
    page = back.get_data(as_text=True)
    assert "Annan sal" in page and 'name="confirm_notice" type="hidden" value="1"' not in page
    assert fresh(ev.id).sessions[0].venue == "Sal 1"
    assert outbox("event_changed") == []


def test_adding_a_session_is_announced(app, client):
    login_as(client)
    org = f.organisation()
    ev = make_event()
    f.sign_up(ev.id, org.id, 0)
    extra = clock.local(ev.sessions[0].starts_at) + timedelta(days=7)
    data = edit_data(
        ev,
        **{
            "sessions-1-starts_at": local(extra),
            "sessions-1-ends_at": local(extra + timedelta(hours=3)),
            "sessions-1-venue": "Sal 2",
            "confirm_notice": "1",
        },
    )
    assert client.post(f"/staff/events/{ev.id}/edit", data=data).status_code == 303
    assert len(fresh(ev.id).sessions) == 2
    [body] = db.session.scalars(
        sa.select(OutboxMessage.body_text).where(OutboxMessage.kind == "event_changed")
    ).all()
    assert "Sal 2" in body


def test_editing_other_fields_mails_nobody_and_records_what_changed(app, client):
    user = login_as(client)
    org = f.organisation()
    ev = make_event()
    f.sign_up(ev.id, org.id, 0)
    before = len(outbox())
    response = client.post(
        f"/staff/events/{ev.id}/edit",
        data=edit_data(ev, description="Ny beskrivning", what_to_bring="Penna"),
    )
    assert response.status_code == 303
    event = fresh(ev.id)
    assert (event.description, event.what_to_bring, event.ics_sequence) == ("Ny beskrivning", "Penna", 0)
    assert len(outbox()) == before
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.user_id == user.id))
    assert entry.action == "event.update"
    assert set(entry.details["fields"]) == {"description", "what_to_bring"}


def test_unchanged_form_changes_nothing(app, client):
    user = login_as(client)
    ev = make_event()
    assert client.post(f"/staff/events/{ev.id}/edit", data=edit_data(ev)).status_code == 303
    assert audit_actions(user.id) == []
    assert fresh(ev.id).ics_sequence == 0


def test_a_cancelled_event_cannot_be_edited(app, client):
    user = login_as(client)
    ev = make_event()
    seats.cancel_event(ev.id, user.id)
    response = client.post(f"/staff/events/{ev.id}/edit", data=edit_data(ev, title="X"))
    assert response.status_code == 400
    assert "A cancelled event can no longer be changed." in response.get_data(as_text=True)
    assert fresh(ev.id).title == ev.title


def test_update_event_service_refuses_to_mail_without_confirmation(app):
    user = make_user()
    org = f.organisation()
    ev = make_event()
    f.sign_up(ev.id, org.id, 0)
    data = editing.EventData(
        kind=EventKind.COURSE,
        title=ev.title,
        capacity=ev.capacity,
        contact_email=ev.contact_email,
        sessions=(schedule.SessionData(ev.sessions[0].starts_at, ev.sessions[0].ends_at, None),),
    )
    with pytest.raises(editing.NeedsConfirmation) as needed:
        editing.update_event(ev.id, data, user.id)
    assert [r.email for r in needed.value.plan.people] == ["person0@example.org"]
    assert fresh(ev.id).sessions[0].venue == "Sal 1"
    result = editing.update_event(ev.id, data, user.id, notify_confirmed=True)
    assert result.notified == 1
    assert fresh(ev.id).sessions[0].venue is None


def test_an_edit_refused_after_the_capacity_step_leaves_capacity_and_waitlist_as_they_were(db_app):
    """One transaction per edit: capacity is raised (and someone promoted) before the venue
    change asks for confirmation; the refusal rolls all of it back."""
    user = make_user()
    org = f.organisation()
    ev = make_event(capacity=1)
    for n in range(2):
        f.sign_up(ev.id, org.id, n)
    data = editing.EventData(
        kind=EventKind.COURSE,
        title=ev.title,
        capacity=2,
        contact_email=ev.contact_email,
        sessions=(schedule.SessionData(ev.sessions[0].starts_at, ev.sessions[0].ends_at, "Sal B"),),
    )
    with pytest.raises(editing.NeedsConfirmation):
        editing.update_event(ev.id, data, user.id)
    event = fresh(ev.id)
    assert (event.capacity, event.sessions[0].venue, event.ics_sequence) == (1, "Sal 1", 0)
    statuses = db.session.scalars(
        sa.select(Registration.status).where(Registration.event_id == ev.id).order_by(Registration.id)
    ).all()
    assert statuses == [RegistrationStatus.CONFIRMED, RegistrationStatus.WAITLISTED]
    assert outbox("promoted") == [] and audit_actions(user.id) == []
    result = editing.update_event(ev.id, data, user.id, notify_confirmed=True)
    assert [r.email for r in result.promoted] == ["person1@example.org"]
    assert audit_actions(user.id) == ["event.capacity", "event.update"]


def test_a_failure_while_telling_people_undoes_the_capacity_change_too(db_app, monkeypatch):
    """Fault injection after the capacity step (the notices of a venue change): nothing of
    the edit stays, neither the new capacity nor the promotion it made."""
    from app.core.errors import Refused
    from app.registrations import notices

    user = make_user()
    org = f.organisation()
    ev = make_event(capacity=1)
    for n in range(2):
        f.sign_up(ev.id, org.id, n)

    def refuse(*_args, **_kwargs):
        raise Refused("the mail could not be queued")

    monkeypatch.setattr(notices, "event_changed", refuse)
    data = editing.EventData(
        kind=EventKind.COURSE,
        title=ev.title,
        capacity=2,
        contact_email=ev.contact_email,
        sessions=(schedule.SessionData(ev.sessions[0].starts_at, ev.sessions[0].ends_at, "Sal B"),),
    )
    with pytest.raises(Refused):
        editing.update_event(ev.id, data, user.id, notify_confirmed=True)
    event = fresh(ev.id)
    assert (event.capacity, event.sessions[0].venue) == (1, "Sal 1")
    waiting = db.session.scalar(
        sa.select(sa.func.count()).where(
            Registration.event_id == ev.id, Registration.status == RegistrationStatus.WAITLISTED
        )
    )
    assert waiting == 1 and outbox("promoted") == [] and audit_actions(user.id) == []


def test_the_event_lock_refuses_to_run_outside_a_write_transaction(app):
    from app.core.database import NotInWriteTransaction, write_transaction
    from app.registrations.locking import lock_event

    ev = make_event()
    with pytest.raises(NotInWriteTransaction):
        lock_event(ev.id)
    assert write_transaction(lambda: lock_event(ev.id)).id == ev.id
    with pytest.raises(NotInWriteTransaction):  # one action, one transaction: no nesting
        write_transaction(lambda: write_transaction(lambda: None))


# --- pages and access --------------------------------------------------------------


def test_event_list_and_detail_pages(app, client):
    login_as(client)
    current = make_event(title="Kommande kurs")
    past = make_event(title="Gammal kurs", days_ahead=-30)
    listing = client.get("/staff/events").get_data(as_text=True)
    assert "Kommande kurs" in listing and "Gammal kurs" not in listing
    assert "Gammal kurs" in client.get("/staff/events?show=past").get_data(as_text=True)
    detail = client.get(f"/staff/events/{current.id}").get_data(as_text=True)
    assert f"/staff/events/{current.id}/registrations" in detail
    assert f"/staff/events/{current.id}/checkin" in detail
    assert client.get(f"/staff/events/{past.id + 100}").status_code == 404


ORGANISER_PAGES = [
    ("get", "/staff/events"),
    ("get", "/staff/events/new"),
    ("post", "/staff/events/new"),
    ("get", "/staff/events/{id}"),
    ("get", "/staff/events/{id}/edit"),
    ("post", "/staff/events/{id}/edit"),
    ("post", "/staff/events/{id}/publish"),
    ("post", "/staff/events/{id}/gauge"),
    ("post", "/staff/events/{id}/close"),
    ("post", "/staff/events/{id}/reopen"),
    ("post", "/staff/events/{id}/confirm"),
    ("get", "/staff/events/{id}/cancel"),
    ("post", "/staff/events/{id}/cancel"),
    ("get", "/staff/events/{id}/registrations"),
    ("get", "/staff/events/{id}/checkin"),
    ("get", "/staff/events/{id}/reminder"),
    ("post", "/staff/events/{id}/reminder"),
    ("get", "/staff/events/{id}/reminder/progress?label=x"),
    ("get", "/staff/outbox"),
]


def test_coordinators_get_403_on_every_organiser_page_and_nothing_changes(app, client):
    login_as(client, Role.COORDINATOR, organisation="Alingsås kommun")
    ev = make_event(status=EventStatus.DRAFT)
    for method, url in ORGANISER_PAGES:
        response = getattr(client, method)(url.format(id=ev.id))
        assert response.status_code == 403, (method, url)
    assert fresh(ev.id).status == EventStatus.DRAFT
    assert audit_actions() == []


def test_anonymous_visitors_are_sent_to_log_in(app, client):
    ev = make_event()
    response = client.get(f"/staff/events/{ev.id}/edit")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]
    assert client.post(f"/staff/events/{ev.id}/publish").status_code == 302
    assert fresh(ev.id).status == EventStatus.OPEN


def test_admins_manage_events_too(app, client):
    user = login_as(client, Role.ADMIN)
    ev = make_event(status=EventStatus.DRAFT)
    assert client.post(f"/staff/events/{ev.id}/publish").status_code == 303
    assert audit_actions(user.id) == ["event.publish"]


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_staff_forms_without_the_csrf_token_are_refused_and_write_nothing(app, client):
    user = login_as_with_csrf(client)
    ev = make_event(status=EventStatus.DRAFT)
    for url, data in [
        (f"/staff/events/{ev.id}/publish", {}),
        (f"/staff/events/{ev.id}/cancel", {"message": "x"}),
        ("/staff/events/new", form_data()),
    ]:
        response = client.post(url, data=data)
        assert response.status_code == 400, url
        assert "The form has expired" in response.get_data(as_text=True)
    assert fresh(ev.id).status == EventStatus.DRAFT
    assert count(Event) == 1
    assert audit_actions(user.id) == []
    # With the token from the page the same action goes through.
    page = client.get(f"/staff/events/{ev.id}").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert client.post(f"/staff/events/{ev.id}/publish", data={"csrf_token": token}).status_code == 303
    assert fresh(ev.id).status == EventStatus.OPEN


def login_as_with_csrf(client):
    """Log in through the real form, token and all."""
    user = make_user()
    client.get("/lang/en")
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    from tests.staff_helpers import PASSWORD

    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    return user


# --- the service on every database ---------------------------------------------------


def test_event_service_on_every_database(db_app):
    user = make_user()
    org = f.organisation()
    start = day(12, 9)
    data = editing.EventData(
        kind=EventKind.COURSE,
        title="Kurs",
        capacity=1,
        sessions=(schedule.SessionData(start, start + timedelta(hours=3), "Sal A"),),
    )
    ev = editing.create_event(data, user.id)
    publishing.publish(ev.id, user.id)
    for n in range(3):
        f.sign_up(ev.id, org.id, n)
    changed = editing.EventData(
        kind=EventKind.COURSE,
        title="Kurs",
        capacity=2,
        sessions=(schedule.SessionData(start, start + timedelta(hours=4), "Sal B"),),
    )
    result = editing.update_event(ev.id, changed, user.id, notify_confirmed=True)
    assert [r.email for r in result.promoted] == ["person1@example.org"]
    assert result.notified == 3
    event = fresh(ev.id)
    assert (event.capacity, event.ics_sequence, event.sessions[0].venue) == (2, 1, "Sal B")
    assert event.sessions[0].ends_at == start + timedelta(hours=4)
    publishing.close(ev.id, user.id)
    assert fresh(ev.id).status == EventStatus.CLOSED
    assert outbox("event_changed") == [("event_changed", f"person{n}@example.org") for n in range(3)]
    assert audit_actions(user.id) == [
        "event.create", "event.publish", "event.capacity", "event.update", "event.close"
    ]


def test_every_organiser_page_renders_in_swedish(app, client):
    login_as(client, lang=None)
    org = f.organisation()
    ev = make_event(capacity=1)
    f.sign_up(ev.id, org.id, 0)
    f.sign_up(ev.id, org.id, 1)
    gauging = make_event(status=EventStatus.GAUGING, interest_threshold=5)
    for url in [
        "/staff/events",
        "/staff/events?show=all",
        "/staff/events/new",
        f"/staff/events/{ev.id}",
        f"/staff/events/{gauging.id}",
        f"/staff/events/{ev.id}/edit",
        f"/staff/events/{ev.id}/cancel",
        f"/staff/events/{ev.id}/registrations",
        f"/staff/events/{ev.id}/checkin",
        f"/staff/events/{ev.id}/reminder",
        "/staff/outbox",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert '<html lang="sv">' in response.get_data(as_text=True)
