"""Announcing free seats to subscribers: to whom (organisers: every matching subscriber;
coordinators: those whose filters take their organisation), a count and a preview before
sending, progress while it is delivered, never twice to one subscriber for one event
(also when sent twice at once), only for open events with free seats; and the poster.
Mail goes through the outbox and ``mail.delivery`` to a real SMTP server."""

from __future__ import annotations

import re
import threading

import pytest
import sqlalchemy as sa

from app.core.errors import Refused
from app.core.extensions import db
from app.events import publishing
from app.mail import delivery
from app.models import (
    AuditEntry,
    DeliveryKind,
    EventKind,
    EventStatus,
    OutboxMessage,
    Role,
    Subscription,
    SubscriptionDelivery,
)
from app.subscriptions import announcements, notices, posters
from tests import factories as f
from tests.staff_helpers import login_as, make_user
from tests.test_subscriptions import messages_of, publish, subscribed, text_of


@pytest.fixture
def app_config(smtp_sink):
    return smtp_sink.config()


def announced_to(smtp_sink) -> list[str]:
    return sorted(m["To"] for m in messages_of(smtp_sink, notices.ANNOUNCEMENT))


def test_an_organiser_announces_free_seats_once_to_every_matching_subscriber(db_app, smtp_sink):
    org_a, org_b = f.organisation("Alingsås kommun"), f.organisation("Lerums kommun")
    subscribed("all@kommun.example")
    subscribed("courses-a@kommun.example", kinds=[EventKind.COURSE], organisations=[org_a])
    subscribed("lectures@kommun.example", kinds=[EventKind.LECTURE])
    subscribed("only-b@kommun.example", organisations=[org_b])
    db_app.test_client().post("/subscriptions", data={"email": "unconfirmed@kommun.example", "frequency": "daily"})
    assert db.session.scalar(
        sa.select(sa.func.count()).select_from(Subscription).where(Subscription.confirmed_at.is_(None))
    ) == 1
    event = publish(EventKind.COURSE, org_a, capacity=5, title="Kurs med platser kvar")
    for n in range(2):
        f.sign_up(event.id, org_a.id, n)
    delivery.send_due()
    smtp_sink.received.clear()

    client = db_app.test_client()
    organiser = login_as(client, Role.ORGANISER)
    page = client.get(f"/staff/events/{event.id}/announcement")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Send the announcement to 2 subscribers" in html
    assert "3 seats left: Kurs med platser kvar" in html  # the preview's subject
    assert "anna.andersson@example.org" not in html  # the made-up subscriber has no address shown
    assert not re.search(r"/subscriptions/[\w-]{40,}", html)  # and no real personal link
    preview = client.get(f"/staff/events/{event.id}/announcement/preview.html?locale=en")
    assert preview.status_code == 200 and "script-src" not in preview.headers["Content-Security-Policy"]

    sent = client.post(f"/staff/events/{event.id}/announcement")
    assert sent.status_code == 303
    assert "on its way to 2 subscribers" in client.get(sent.headers["Location"]).get_data(as_text=True)
    again = client.post(f"/staff/events/{event.id}/announcement")  # a second click, or a colleague
    assert again.status_code == 303
    assert "Nobody new to tell" in client.get(again.headers["Location"]).get_data(as_text=True)

    progress = client.get(f"/staff/events/{event.id}/announcement/progress").get_json()
    assert (progress["total"], progress["pending"], progress["finished"]) == (2, 2, False)
    delivery.send_due()
    progress = client.get(f"/staff/events/{event.id}/announcement/progress").get_json()
    assert (progress["total"], progress["sent"], progress["finished"]) == (2, 2, True)
    assert announced_to(smtp_sink) == ["all@kommun.example", "courses-a@kommun.example"]
    message = messages_of(smtp_sink, notices.ANNOUNCEMENT, "all@kommun.example")[0]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Reply-To"] == "organiser@kommun.test"
    assert f"http://kvarn.test/events/{event.id}" in text_of(message)
    assert "3 seats left" in message["Subject"]

    # Someone new subscribes: the next announcement reaches only them.
    subscribed("newcomer@kommun.example", kinds=[EventKind.COURSE])
    assert announcements.recipient_count(event.id, announcements.Audience()) == 1
    assert announcements.announce(event.id, organiser.id, announcements.Audience()) == 1
    delivery.send_due()
    assert announced_to(smtp_sink) == ["all@kommun.example", "courses-a@kommun.example", "newcomer@kommun.example"]
    db.session.rollback()
    entries = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "event.announce").order_by(AuditEntry.id)
    ).all()
    assert [(e.user_id, e.object_id, e.details["queued"]) for e in entries] == [
        (organiser.id, event.id, 2), (organiser.id, event.id, 0), (organiser.id, event.id, 1),
    ]
    assert db.session.scalar(
        sa.select(sa.func.count()).select_from(SubscriptionDelivery).where(
            SubscriptionDelivery.kind == DeliveryKind.ANNOUNCEMENT
        )
    ) == 3


def test_a_coordinator_reaches_only_subscribers_whose_filters_take_their_organisation(app, smtp_sink):
    org_a, org_b = f.organisation("Alingsås kommun"), f.organisation("Lerums kommun")
    subscribed("every-organiser@kommun.example")
    subscribed("only-b@kommun.example", organisations=[org_b])
    subscribed("a-and-b@kommun.example", organisations=[org_a, org_b])
    subscribed("only-a@kommun.example", organisations=[org_a])  # the event is B's: no match
    event = publish(EventKind.COURSE, org_b, capacity=4)

    client = app.test_client()
    coordinator = login_as(client, Role.COORDINATOR, organisation=org_a)
    audience = announcements.audience_of(coordinator)
    assert audience.organisation_id == org_a.id
    assert announcements.recipient_count(event.id, audience) == 2
    assert announcements.recipient_count(event.id, announcements.Audience()) == 3
    page = client.get(f"/staff/events/{event.id}/announcement")
    assert page.status_code == 200
    assert "Send the announcement to 2 subscribers" in page.get_data(as_text=True)
    assert "Alingsås kommun" in page.get_data(as_text=True)
    assert client.post(f"/staff/events/{event.id}/announcement").status_code == 303
    delivery.send_due()
    assert announced_to(smtp_sink) == ["a-and-b@kommun.example", "every-organiser@kommun.example"]

    organiser = make_user(Role.ORGANISER)
    assert announcements.announce(event.id, organiser.id, announcements.Audience()) == 1  # only-b
    delivery.send_due()
    assert announced_to(smtp_sink) == [
        "a-and-b@kommun.example", "every-organiser@kommun.example", "only-b@kommun.example",
    ]
    # A coordinator without an organisation reaches nobody, and is told so.
    loose = make_user(Role.COORDINATOR)
    with pytest.raises(Refused, match="no organisation"):
        announcements.audience_of(loose)


def test_only_open_events_with_free_seats_are_announced(app, smtp_sink):
    org = f.organisation()
    subscribed("any@kommun.example")
    full = publish(capacity=1)
    f.sign_up(full.id, org.id, 1)
    waiting = publish(capacity=2)
    for n in range(3):
        f.sign_up(waiting.id, org.id, n)  # two seated, one waiting
    gauging = publish(EventKind.LECTURE, gauging=True)
    draft = f.event(status=EventStatus.DRAFT)
    organiser = make_user(Role.ORGANISER)

    client = app.test_client()
    login_as(client, Role.ORGANISER)
    for event in (full, waiting, gauging):
        page = client.get(f"/staff/events/{event.id}/announcement")
        assert page.status_code == 200
        assert "Send the announcement" not in page.get_data(as_text=True)
        refused = client.post(f"/staff/events/{event.id}/announcement")
        assert refused.status_code == 303  # back to the page, with the reason
        with pytest.raises(Refused, match="open for registration|no free seats"):
            announcements.announce(event.id, organiser.id, announcements.Audience())
    coordinator = app.test_client()
    login_as(coordinator, Role.COORDINATOR, organisation=org)
    assert coordinator.get(f"/staff/events/{draft.id}/announcement").status_code == 404
    db.session.rollback()
    assert db.session.scalar(
        sa.select(sa.func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == notices.ANNOUNCEMENT)
    ) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SubscriptionDelivery)) == 0


def test_two_announcements_at_once_reach_each_subscriber_once(db_app):
    for n in range(8):
        subscribed(f"s{n}@kommun.example")
    event = publish(capacity=20)
    event_id = event.id
    organiser = make_user(Role.ORGANISER)
    user_id = organiser.id
    counts: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def click() -> None:
        try:
            with db_app.app_context():
                barrier.wait()
                counts.append(announcements.announce(event_id, user_id, announcements.Audience()))
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sorted(counts) == [0, 8]
    db.session.rollback()
    recipients = list(db.session.scalars(
        sa.select(OutboxMessage.recipient).where(OutboxMessage.kind == notices.ANNOUNCEMENT)
    ))
    assert sorted(recipients) == sorted(f"s{n}@kommun.example" for n in range(8))


def test_unsubscribing_takes_a_waiting_announcement_away(app, smtp_sink):
    stays = subscribed("stays@kommun.example")
    leaves = subscribed("leaves@kommun.example")
    event = publish(capacity=3)
    assert announcements.announce(event.id, None, announcements.Audience()) == 2
    client = app.test_client()
    assert client.post(f"/subscriptions/{leaves.manage_token}/unsubscribe").status_code == 200
    delivery.send_due()
    assert announced_to(smtp_sink) == ["stays@kommun.example"]
    assert announcements.progress(event.id)["sent"] == 1
    assert stays.id in set(db.session.scalars(sa.select(Subscription.id)))


def test_the_poster_has_the_facts_and_a_qr_code_to_the_event(app):
    org = f.organisation("Alingsås kommun")
    event = publish(EventKind.COURSE, org, capacity=12, title="Affischkurs", audience="Förskolans personal")
    f.sign_up(event.id, org.id, 1)
    client = app.test_client()
    login_as(client, Role.COORDINATOR, organisation=org)
    page = client.get(f"/staff/events/{event.id}/poster")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    url = f"http://kvarn.test/events/{event.id}"
    assert "Affischkurs" in html and "Förskolans personal" in html and "11 seats left" in html
    assert "poster.css" in html and "print.css" in html
    assert posters.qr_data_uri(url) in html  # the code says exactly the event's address
    assert posters.qr_data_uri(url).startswith("data:image/svg+xml")
    assert f"alt=\"QR code to the event page: {url}\"" in html

    lecture = publish(EventKind.LECTURE, gauging=True)
    assert "Register your interest" in client.get(f"/staff/events/{lecture.id}/poster").get_data(as_text=True)
    draft = f.event(status=EventStatus.DRAFT)
    organiser = app.test_client()
    login_as(organiser, Role.ORGANISER)
    assert organiser.get(f"/staff/events/{draft.id}/poster").status_code == 409  # publish it first
    assert client.get(f"/staff/events/{draft.id}/poster").status_code == 404  # a coordinator's: none
    closed = publish()
    publishing.close(closed.id, make_user(Role.ORGANISER).id)
    assert organiser.get(f"/staff/events/{closed.id}/poster").status_code == 409
