"""Subscriptions to new events: double opt-in, one-click unsubscribe (RFC 8058), deletion
of unconfirmed and unsubscribed addresses, and each new event in each subscriber's digest
exactly once however often (and however many at once) the digest runs. Mail goes through
the outbox and ``mail.delivery`` to a real SMTP server (``smtp_sink``)."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from app.core import clock
from app.core.errors import NotFound
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
    SubscriptionFrequency,
    SubscriptionKind,
    SubscriptionOrganisation,
)
from app.registrations import seats
from app.subscriptions import digests, notices, subscribing
from tests import factories as f
from tests.staff_helpers import make_user

F = SubscriptionFrequency
EVENT_LINK = re.compile(r"http://kvarn\.test/events/(\d+)")


@pytest.fixture
def app_config(smtp_sink):
    return smtp_sink.config()


# --- helpers --------------------------------------------------------------------------


def publish(kind=EventKind.COURSE, organisation=None, days_ahead=10, capacity=10, gauging=False, **fields):
    """An event made public through the real publishing service (which stamps published_at)."""
    if gauging:
        fields.setdefault("interest_threshold", 5)
        fields.setdefault("interest_deadline", clock.now() + timedelta(days=days_ahead - 2))
    event = f.event(
        status=EventStatus.DRAFT,
        kind=kind,
        capacity=capacity,
        days_ahead=days_ahead,
        organising_organisation_id=organisation.id if organisation is not None else None,
        **fields,
    )
    user = make_user(Role.ORGANISER)
    (publishing.publish_gauging if gauging else publishing.publish)(event.id, user.id)
    return event


def subscribed(email, frequency=F.DAILY, kinds=(), organisations=(), locale="en") -> Subscription:
    """A confirmed subscriber, through the services (the pages are tested on their own)."""
    choice = subscribing.Choice(
        frequency=frequency,
        kinds=frozenset(kinds),
        organisation_ids=frozenset(org.id for org in organisations),
    )
    subscribing.subscribe(email, choice, locale)
    token = db.session.scalar(sa.select(Subscription.confirm_token).where(Subscription.email == email))
    return subscribing.confirm(token)


def form(email, kinds=(), organisations=(), frequency="daily") -> dict:
    return {
        "email": email,
        "kinds": [kind.value for kind in kinds],
        "organisations": [str(org.id) for org in organisations],
        "frequency": frequency,
    }


def messages_of(smtp_sink, kind: str, address: str | None = None):
    """What the SMTP server received of one outbox kind (to ``address``), in order."""
    db.session.rollback()
    ids = set(db.session.scalars(sa.select(OutboxMessage.message_id).where(OutboxMessage.kind == kind)))
    return [
        m for m in smtp_sink.messages()
        if m["Message-ID"] in ids and (address is None or m["To"] == address)
    ]


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def link(message, pattern: str) -> str:
    found = re.search(pattern, text_of(message))
    assert found, text_of(message)
    return found.group(0)


def path(url: str) -> str:
    return url.removeprefix("http://kvarn.test")


def subscription_of(email) -> Subscription | None:
    db.session.rollback()
    return db.session.scalar(sa.select(Subscription).where(Subscription.email == email))


def rows(model, **where) -> int:
    db.session.rollback()
    query = sa.select(sa.func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return db.session.scalar(query)


def at_stockholm(day: datetime, hour: int = 10) -> None:
    """Move the clock to ``hour`` o'clock (Stockholm) on ``day``'s date."""
    target = datetime.combine(clock.local(day).date(), time(hour), tzinfo=clock.STOCKHOLM)
    clock.travel(target - datetime.now(UTC))


# --- double opt-in --------------------------------------------------------------------


def test_double_opt_in_nothing_is_sent_until_the_link_is_followed_and_confirmed(db_app, smtp_sink):
    client = db_app.test_client()
    org = f.organisation("Alingsås kommun")
    before = publish(organisation=org, title="Published before confirming")

    page = client.get("/subscriptions?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "What we store, and for how long" in html and 'name="kinds"' in html
    response = client.post("/subscriptions?lang=en", data=form("Ada@Kommun.example", organisations=[org]))
    assert response.status_code == 303 and response.headers["Location"].endswith("/subscriptions/sent")
    assert "ada@kommun.example" in client.get("/subscriptions/sent?lang=en").get_data(as_text=True)

    subscription = subscription_of("ada@kommun.example")
    assert subscription is not None and subscription.confirmed_at is None
    assert [row.organisation_id for row in subscription.organisations] == [org.id]
    assert digests.send_digests().covered == 0  # unconfirmed: no digest, ever
    delivery.send_due()
    [confirmation] = messages_of(smtp_sink, notices.CONFIRM)
    assert confirmation["To"] == "ada@kommun.example"
    assert len(smtp_sink.messages()) == 1
    assert "List-Unsubscribe" not in confirmation  # not a list mail yet
    confirm_link = link(confirmation, r"http://kvarn\.test/subscriptions/confirm/[\w-]+")

    # A link scanner fetching the link confirms nothing: it takes the button.
    shown = client.get(path(confirm_link) + "?lang=en")
    assert shown.status_code == 200 and "Yes, start my subscription" in shown.get_data(as_text=True)
    assert subscription_of("ada@kommun.example").confirmed_at is None
    confirmed = client.post(path(confirm_link))
    assert confirmed.status_code == 303
    subscription = subscription_of("ada@kommun.example")
    assert subscription.confirmed_at is not None
    assert confirmed.headers["Location"].endswith(f"/subscriptions/{subscription.manage_token}")
    assert client.post(path(confirm_link)).status_code == 303  # twice: still just confirmed

    after = publish(organisation=org, title="Published after confirming")
    run = digests.send_digests()
    assert (run.covered, run.digests, run.events) == (1, 1, 1)
    delivery.send_due()
    [digest] = messages_of(smtp_sink, notices.DIGEST, "ada@kommun.example")
    assert EVENT_LINK.findall(text_of(digest)) == [str(after.id)]  # not `before`: not new to her
    assert str(before.id) not in EVENT_LINK.findall(text_of(digest))


def test_subscribing_again_reveals_nothing_and_changes_no_confirmed_choice(app, smtp_sink):
    client = app.test_client()
    org_a, org_b = f.organisation(), f.organisation()
    subscribed("bo@kommun.example", kinds=[EventKind.LECTURE], organisations=[org_a])

    new = client.post("/subscriptions?lang=en", data=form("new@kommun.example", organisations=[org_b]))
    again = client.post("/subscriptions?lang=en", data=form("bo@kommun.example", organisations=[org_b]))
    assert new.status_code == again.status_code == 303
    assert new.headers["Location"] == again.headers["Location"]
    assert client.post("/subscriptions?lang=en", data=form("bo@kommun.example")).status_code == 303
    bo = subscription_of("bo@kommun.example")
    assert [r.kind for r in bo.kinds] == [EventKind.LECTURE]
    assert [r.organisation_id for r in bo.organisations] == [org_a.id]  # nobody else changes it
    assert rows(Subscription) == 2

    # Still unconfirmed: the choice follows the latest form, the link goes again once a day.
    assert client.post("/subscriptions?lang=en", data=form("new@kommun.example", kinds=[EventKind.MEETING])).status_code == 303
    new_row = subscription_of("new@kommun.example")
    assert [r.kind for r in new_row.kinds] == [EventKind.MEETING] and new_row.organisations == []
    delivery.send_due()
    [exists] = messages_of(smtp_sink, notices.EXISTS, "bo@kommun.example")
    assert f"/subscriptions/{bo.manage_token}" in text_of(exists)
    assert len(messages_of(smtp_sink, notices.CONFIRM, "new@kommun.example")) == 1
    clock.travel(timedelta(days=1))
    client.post("/subscriptions?lang=en", data=form("new@kommun.example"))
    delivery.send_due()
    assert len(messages_of(smtp_sink, notices.CONFIRM, "new@kommun.example")) == 2


def test_bad_subscribe_forms_are_refused_and_store_nothing(app):
    client = app.test_client()
    org = f.organisation()
    for data in (
        form("not-an-address"),
        {**form("a@kommun.example"), "kinds": ["party"]},
        {**form("a@kommun.example"), "organisations": ["999999"]},
        {**form("a@kommun.example"), "frequency": "hourly"},
        {**form("a@kommun.example"), "frequency": ""},
    ):
        response = client.post("/subscriptions?lang=en", data=data)
        assert response.status_code == 400, data
        assert "There is a problem" in response.get_data(as_text=True)
    assert rows(Subscription) == 0 and rows(OutboxMessage) == 0
    assert org.id  # a real organisation existed: the unknown id was refused, not ignored


# --- unsubscribing --------------------------------------------------------------------


def test_one_click_unsubscribe_needs_no_csrf_token_nor_cookie_and_deletes_everything(db_app, smtp_sink):
    db_app.config["WTF_CSRF_ENABLED"] = True  # as in production
    org = f.organisation()
    eve = subscribed("eve@kommun.example", organisations=[org])
    keep = subscribed("keep@kommun.example")
    event = publish(organisation=org)
    assert digests.send_digests().digests == 2
    delivery.send_due()
    [digest] = messages_of(smtp_sink, notices.DIGEST, "eve@kommun.example")
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = digest["List-Unsubscribe"]
    assert header == f"<http://kvarn.test/subscriptions/{eve.manage_token}/unsubscribe>"
    assert rows(SubscriptionDelivery, subscription_id=eve.id, event_id=event.id) == 1

    # What a mail program sends (RFC 8058 §3.2): a POST, the body, no cookie, no token.
    mail_program = db_app.test_client(use_cookies=False)
    response = mail_program.post(
        path(header.strip("<>")),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers and "Location" not in response.headers
    assert subscription_of("eve@kommun.example") is None
    assert rows(SubscriptionDelivery, subscription_id=eve.id) == 0
    assert rows(SubscriptionOrganisation, subscription_id=eve.id) == 0
    db.session.rollback()
    assert db.session.scalar(
        sa.select(sa.func.count()).select_from(OutboxMessage).where(
            OutboxMessage.recipient == "eve@kommun.example"
        )
    ) == 0  # the address is gone from the outbox too
    again = mail_program.post(path(header.strip("<>")), data="List-Unsubscribe=One-Click",
                              content_type="application/x-www-form-urlencoded")
    assert again.status_code == 200  # twice is not an error
    assert subscription_of("keep@kommun.example") is not None

    # Only that endpoint is exempt: another form of the subscriber's still needs its token.
    refused = db_app.test_client().post(f"/subscriptions/{keep.manage_token}", data=form("x@y.example"))
    assert refused.status_code == 400
    assert rows(SubscriptionKind, subscription_id=keep.id) == 0


def test_unsubscribe_from_the_personal_page(app):
    client = app.test_client()
    ulla = subscribed("ulla@kommun.example", frequency=F.WEEKLY, kinds=[EventKind.COURSE])
    page = client.get(f"/subscriptions/{ulla.manage_token}?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "ulla@kommun.example" in html and "Unsubscribe and delete my address" in html
    assert page.headers["Cache-Control"] == "no-store"

    changed = client.post(
        f"/subscriptions/{ulla.manage_token}", data=form("", kinds=[EventKind.LECTURE], frequency="daily")
    )
    assert changed.status_code == 303
    ulla = subscription_of("ulla@kommun.example")
    assert ulla.frequency == F.DAILY and [r.kind for r in ulla.kinds] == [EventKind.LECTURE]

    ask = client.get(f"/subscriptions/{ulla.manage_token}/unsubscribe?lang=en")
    assert ask.status_code == 200 and subscription_of("ulla@kommun.example") is not None  # GET only asks
    done = client.post(f"/subscriptions/{ulla.manage_token}/unsubscribe?lang=en", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "You are unsubscribed" in done.get_data(as_text=True)
    assert subscription_of("ulla@kommun.example") is None
    assert rows(SubscriptionKind) == 0
    assert client.get(f"/subscriptions/{ulla.manage_token}").status_code == 404
    assert client.get(f"/subscriptions/{ulla.manage_token}/unsubscribe").status_code == 404


# --- deleting unconfirmed addresses --------------------------------------------------


def test_unconfirmed_addresses_are_deleted_after_the_set_days(db_app, smtp_sink):
    days = db_app.config["SUBSCRIPTION_UNCONFIRMED_DAYS"]
    choice = subscribing.Choice(F.WEEKLY)
    subscribing.subscribe("old@kommun.example", choice, "sv")
    subscribed("confirmed-long-ago@kommun.example")
    past = publish(days_ahead=2)
    subscribed_late = subscribed("late@kommun.example")
    later = publish(days_ahead=20)
    assert digests.send_digests().digests >= 1
    assert rows(SubscriptionDelivery, subscription_id=subscribed_late.id, event_id=later.id) == 1
    assert rows(SubscriptionDelivery, event_id=past.id) == 1  # new only to the one confirmed before it

    clock.travel(timedelta(days=days, hours=1))
    old_link = db.session.scalar(sa.select(Subscription.confirm_token).where(Subscription.email == "old@kommun.example"))
    assert db_app.test_client().get(f"/subscriptions/confirm/{old_link}").status_code == 404  # expired
    with pytest.raises(NotFound):
        subscribing.confirm(old_link)
    subscribing.subscribe("fresh@kommun.example", choice, "sv")
    assert rows(Subscription) == 4
    assert db_app.test_cli_runner().invoke(args=["subscriptions", "purge"]).exit_code == 0
    remaining = set(db.session.scalars(sa.select(Subscription.email)))
    assert remaining == {"confirmed-long-ago@kommun.example", "late@kommun.example", "fresh@kommun.example"}
    db.session.rollback()
    assert db.session.scalar(
        sa.select(sa.func.count()).select_from(OutboxMessage).where(OutboxMessage.recipient == "old@kommun.example")
    ) == 0
    # `past` (two days ahead) is over by now: nothing can be sent about it, the record goes.
    assert rows(SubscriptionDelivery, event_id=past.id) == 0
    assert rows(SubscriptionDelivery, event_id=later.id) == 2
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "subscriptions.purge"))
    assert entry.details["unconfirmed"] == 1 and entry.details["delivery_records"] == 1

    again = db_app.test_cli_runner().invoke(args=["subscriptions", "purge"])
    assert "Deleted 0 unconfirmed subscription(s)" in again.output
    assert rows(AuditEntry, action="subscriptions.purge") == 1  # nothing deleted: nothing to audit
    clock.travel(timedelta(days=2 * days + 1))  # `fresh` is now older than the limit too
    subscribing.purge()
    assert subscription_of("fresh@kommun.example") is None


# --- digests: each event once ---------------------------------------------------------


def test_each_new_event_is_in_each_subscribers_digest_exactly_once(db_app, smtp_sink):
    # A Wednesday at 10 (Stockholm), so the days below stay in one ISO week until Monday.
    wednesday = clock.now() + timedelta(days=(2 - clock.local(clock.now()).weekday()) % 7 + 7)
    at_stockholm(wednesday)
    org_a, org_b = f.organisation("Alingsås kommun"), f.organisation("Lerums kommun")
    alice = subscribed("alice@kommun.example")  # everything, daily
    bob = subscribed("bob@kommun.example", kinds=[EventKind.COURSE], organisations=[org_a])
    carol = subscribed("carol@kommun.example", frequency=F.WEEKLY, kinds=[EventKind.LECTURE])
    gone = subscribed("gone@kommun.example")

    course_a = publish(EventKind.COURSE, org_a, days_ahead=20)
    lecture_b = publish(EventKind.LECTURE, org_b, days_ahead=25, gauging=True)
    f.event(status=EventStatus.DRAFT, organising_organisation_id=org_a.id)  # never public
    seats.cancel_event(publish(EventKind.COURSE, org_a).id, None)  # cancelled before any digest
    subscribing.unsubscribe(gone.manage_token)

    def run() -> digests.DigestRun:
        result = digests.send_digests()
        delivery.send_due()
        return result

    first = [run() for _ in range(3)]  # cron repeated the same day
    assert [r.digests for r in first] == [3, 0, 0]
    course_b = publish(EventKind.COURSE, org_b, days_ahead=30)  # after today's digest
    assert run().digests == 0  # daily: tomorrow

    at_stockholm(wednesday + timedelta(days=1))  # Thursday
    assert [run().digests for _ in range(2)] == [1, 0]  # alice: course_b; bob: not org B
    lecture_a = publish(EventKind.LECTURE, org_a, days_ahead=12)
    at_stockholm(wednesday + timedelta(days=2), hour=7)  # Friday
    assert run().digests == 1  # alice; carol waits for Monday
    at_stockholm(wednesday + timedelta(days=5), hour=7)  # Monday: a new week
    assert [run().digests for _ in range(2)] == [1, 0]  # carol: lecture_a only

    def events_in_digests(address: str) -> list[str]:
        return [
            event_id
            for message in messages_of(smtp_sink, notices.DIGEST, address)
            for event_id in EVENT_LINK.findall(text_of(message))
        ]

    ids = lambda *events: sorted(str(e.id) for e in events)  # noqa: E731
    assert sorted(events_in_digests("alice@kommun.example")) == ids(course_a, lecture_b, course_b, lecture_a)
    assert sorted(events_in_digests("bob@kommun.example")) == ids(course_a)
    assert sorted(events_in_digests("carol@kommun.example")) == ids(lecture_b, lecture_a)
    assert events_in_digests("gone@kommun.example") == []
    for address in ("alice@kommun.example", "bob@kommun.example", "carol@kommun.example"):
        found = events_in_digests(address)
        assert len(found) == len(set(found)), address  # once each
    assert len(messages_of(smtp_sink, notices.DIGEST, "carol@kommun.example")) == 2
    assert rows(SubscriptionDelivery, kind=DeliveryKind.DIGEST) == 4 + 1 + 2
    gauging_text = text_of(messages_of(smtp_sink, notices.DIGEST, "carol@kommun.example")[0])
    assert "Gauging interest" in gauging_text
    assert subscription_of("alice@kommun.example").last_digest_at is not None
    assert {alice.id, bob.id, carol.id} == set(db.session.scalars(sa.select(Subscription.id)))


def test_digest_runs_at_once_send_each_subscriber_one_digest(db_app):
    subscribers = [subscribed(f"s{n}@kommun.example").id for n in range(6)]
    events = [publish(days_ahead=10 + n) for n in range(3)]
    errors: list[BaseException] = []
    results: list[digests.DigestRun] = []
    barrier = threading.Barrier(3)

    def cron() -> None:
        try:
            with db_app.app_context():
                barrier.wait()
                results.append(digests.send_digests())
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=cron) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sum(r.digests for r in results) == len(subscribers)
    assert sum(r.events for r in results) == len(subscribers) * len(events)
    db.session.rollback()
    keys = list(db.session.scalars(sa.select(OutboxMessage.dedupe_key).where(OutboxMessage.kind == notices.DIGEST)))
    assert len(keys) == len(subscribers) == len(set(keys))
    assert rows(SubscriptionDelivery) == len(subscribers) * len(events)


def test_what_a_digest_leaves_out(app, smtp_sink):
    subscribed("dora@kommun.example")
    started = publish(days_ahead=1)
    clock.travel(timedelta(days=1, hours=1))  # `started` has begun
    closed = publish(days_ahead=10, registration_closes_at=clock.now() + timedelta(minutes=5))
    full = publish(days_ahead=10, capacity=1)
    f.sign_up(full.id, f.organisation().id, 1)
    clock.travel(timedelta(days=1, hours=2))  # `closed` closed
    assert digests.send_digests().events == 1
    delivery.send_due()
    [digest] = messages_of(smtp_sink, notices.DIGEST)
    assert EVENT_LINK.findall(text_of(digest)) == [str(full.id)]  # full, but still taking a waiting list
    assert "Full" in text_of(digest)
    assert started.id and closed.id


# --- the headers, through the mail package's general extra-headers argument -----------


def test_extra_headers_are_one_ascii_line_and_never_one_the_message_sets_itself(app):
    from app.mail import message as mime
    from app.mail import outbox

    url = "<http://kvarn.test/subscriptions/" + "x" * 43 + "/unsubscribe>"
    assert mime.check_headers({"List-Unsubscribe": url}) == [("List-Unsubscribe", url)]
    for bad in (
        {"Subject": "Another subject"},
        {"reply-to": "someone@else.example"},
        {"List-Unsubscribe": "<http://a>\r\nBcc: victim@example.org"},
        {"X-Kvärn": "1"},
        {"X-Kvarn": "å"},
        {"X Kvarn": "1"},
        {"X-Kvarn": "a" * 1000},
    ):
        with pytest.raises(ValueError):
            mime.check_headers(bad)
        with pytest.raises(ValueError):  # never queued without them
            outbox.enqueue(kind=notices.EXISTS, recipient="a@kommun.example", locale="sv",
                           dedupe_key="x", context={}, headers=bad)
    assert rows(OutboxMessage) == 0
