"""A person's own data from the personal link: a copy (JSON) and erasure, both confirmed
from the registration's address (``privacy.own_data``, ``privacy.erasure``)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core import clock
from app.core.extensions import db
from app.mail import delivery
from app.models import (
    AuditEntry,
    OutboxMessage,
    OutboxStatus,
    Registration,
    RegistrationStatus,
    Role,
    Subscription,
    SubscriptionFrequency,
    Team,
)
from app.privacy import forgetting, links, purge
from app.registrations import details, seats
from app.registrations.invariants import rule_violations
from app.reporting import audit_log
from app.subscriptions import subscribing
from tests import factories as f
from tests.staff_helpers import make_user

S = RegistrationStatus
ME = ("Maja Mittdata", "maja.mittdata@alingsas.example")
NEEDS = "Nötallergi"


@pytest.fixture
def app_config(smtp_sink):
    return smtp_sink.config()


def world():
    """Maja has a seat in a full course (Nils waits for it), waits in another, signed up a
    team of colleagues in a third, and subscribes to new events."""
    org = f.organisation("Alingsås kommun")
    full = f.event(capacity=1, title="Fullbokad kurs")
    other = f.event(capacity=1, title="Annan kurs")
    third = f.event(capacity=5, title="Lagkurs")
    mine = f.sign_up(full.id, org.id, name=ME[0], email=ME[1], needs=NEEDS, work_team="Kök").registration
    waiting = f.sign_up(full.id, org.id, name="Nils Näst", email="nils.nast@alingsas.example").registration
    f.sign_up(other.id, org.id, name="Olle Först", email="olle.forst@alingsas.example")
    second = f.sign_up(other.id, org.id, name=ME[0], email=ME[1]).registration
    team = seats.sign_up_team(
        third.id,
        seats.TeamSignUp(
            members=(
                seats.Member(name=ME[0], email=ME[1], organisation_id=org.id),
                seats.Member(name="Kollega Ett", email="kollega.ett@alingsas.example", organisation_id=org.id),
            ),
            keep_together=False,
        ),
    )
    subscribing.subscribe(ME[1], subscribing.Choice(SubscriptionFrequency.WEEKLY), "sv")
    return {
        "full": full, "other": other, "third": third, "mine": mine, "waiting": waiting,
        "second": second, "team": team.team,
    }


def mailed_link(kind: str, pattern: str) -> str:
    db.session.rollback()
    message = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id.desc())
    ).first()
    assert message is not None and message.recipient == ME[1]
    found = re.search(pattern, message.body_text)
    assert found, message.body_text
    return found.group(0).removeprefix("http://kvarn.test")


# --- a copy of one's data -----------------------------------------------------------------


def test_the_copy_of_ones_data_is_mailed_as_a_link_and_holds_everything(app, client):
    w = world()
    page = client.get(f"/r/{w['mine'].manage_token}?lang=en")
    assert f'href="/r/{w["mine"].manage_token}/my-data"' in page.get_data(as_text=True)
    assert f'href="/r/{w["mine"].manage_token}/erase"' in page.get_data(as_text=True)
    assert client.get(f"/r/{w['mine'].manage_token}/my-data?lang=en").status_code == 200

    response = client.post(f"/r/{w['mine'].manage_token}/my-data?lang=en")
    assert response.status_code == 303
    url = mailed_link("own_data_link", r"http://kvarn\.test/r/data/[^/\s]+/kvarn-data\.json")
    download = client.get(url)

    assert download.status_code == 200 and download.mimetype == "application/json"
    assert "attachment" in download.headers["Content-Disposition"]
    assert "no-store" in download.headers.get("Cache-Control", "")
    data = json.loads(download.data)
    assert data["email"] == ME[1]
    assert sorted(r["event"]["title"] for r in data["registrations"]) == ["Annan kurs", "Fullbokad kurs", "Lagkurs"]
    seat = next(r for r in data["registrations"] if r["event"]["title"] == "Fullbokad kurs")
    assert (seat["name"], seat["needs"], seat["work_team"], seat["status"]) == (ME[0], NEEDS, "Kök", "confirmed")
    waits = next(r for r in data["registrations"] if r["event"]["title"] == "Annan kurs")
    assert (waits["status"], waits["waiting_list_position"]) == ("waitlisted", 1)
    assert [t["members"] for t in data["teams_signed_up"]] == [2]
    assert data["subscription"]["email"] == ME[1] and data["subscription"]["confirmed_at"] is None
    kinds = {m["kind"] for m in data["messages"]}
    assert {"confirmation", "waitlisted", "team_created", "subscription_confirm", "own_data_link"} <= kinds
    assert all(set(m) == {"kind", "to", "subject", "status", "queued_at", "sent_at", "event_id"} for m in data["messages"])
    assert "Nils Näst" not in download.get_data(as_text=True)  # nobody else's data
    # No secret link goes into the file.
    secrets = [w["mine"].manage_token, w["second"].manage_token, w["team"].manage_token]
    assert [s for s in secrets if s in download.get_data(as_text=True)] == []
    actions = [e.action for e in db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-2:] == ["person.data_requested", "person.data_download"]


def test_a_download_link_works_only_for_its_address_and_its_time(app, client):
    w = world()
    token = links.make(links.OWN_DATA, w["mine"])
    assert client.get(f"/r/data/{token}/kvarn-data.json").status_code == 200
    # Another purpose's link, a forged one and a stale one do not open anything.
    erasure = links.make(links.ERASURE, w["mine"])
    assert client.get(f"/r/data/{erasure}/kvarn-data.json").status_code == 410
    assert client.get(f"/r/data/{token[:-2]}xx/kvarn-data.json").status_code == 410
    clock.travel(timedelta(hours=49))
    assert client.get(f"/r/data/{token}/kvarn-data.json").status_code == 410
    clock.travel(None)
    # Once the registration has moved to another address, the link is dead.
    details.confirm_email_change(details.email_change_token(w["mine"], "ny.adress@alingsas.example"))
    assert client.get(f"/r/data/{token}/kvarn-data.json").status_code == 410


# --- erasure --------------------------------------------------------------------------------


def test_erasure_frees_the_seat_for_the_waiting_list_and_keeps_nothing_personal(db_app, smtp_sink):
    client = db_app.test_client()
    w = world()
    admin = make_user(Role.ADMIN)
    # The audit log was once downloaded filtered by Maja's address.
    audit_log.export_csv(audit_log.Filters(participant=ME[1]), admin.id)
    delivery.send_due()
    old_tokens = [w["mine"].manage_token, w["second"].manage_token, w["team"].manage_token]

    page = client.get(f"/r/{w['mine'].manage_token}/erase?lang=en")
    assert page.status_code == 200 and ME[1] in page.get_data(as_text=True)
    assert client.post(f"/r/{w['mine'].manage_token}/erase?lang=en").status_code == 303
    url = mailed_link("erasure_confirm", r"http://kvarn\.test/r/erase/\S+")
    confirm_page = client.get(url + "?lang=en")  # what a link scanner does: nothing erased
    assert confirm_page.status_code == 200
    assert "3 registrations of maja.mittdata@alingsas.example will be erased." in confirm_page.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(Registration, w["mine"].id).name == ME[0]

    done = client.post(url + "?lang=en")

    assert done.status_code == 200 and "3 registrations were erased." in done.get_data(as_text=True)
    db.session.rollback()
    # Nils had waited for Maja's seat: he has it, and his "promoted" mail is queued.
    assert db.session.get(Registration, w["waiting"].id).status == S.CONFIRMED
    promoted = db.session.scalar(
        sa.select(OutboxMessage).where(OutboxMessage.kind == "promoted", OutboxMessage.registration_id == w["waiting"].id)
    )
    assert promoted is not None and promoted.status == OutboxStatus.PENDING
    for event in ("full", "other", "third"):
        assert rule_violations(w[event].id) == []
    # Every registration and the team of the address: cancelled where active, anonymised.
    rows = list(db.session.scalars(sa.select(Registration).where(Registration.id.in_([w["mine"].id, w["second"].id]))))
    rows += list(db.session.scalars(sa.select(Registration).where(Registration.team_id == w["team"].id, Registration.id != w["team"].id)))
    erased = [r for r in rows if r.email.endswith(seats.ERASED_DOMAIN)]
    assert len(erased) == 3 and all(r.status == S.CANCELLED and r.name == "" and r.needs == "" for r in erased)
    colleague = db.session.scalar(sa.select(Registration).where(Registration.email == "kollega.ett@alingsas.example"))
    assert colleague.status == S.CONFIRMED and colleague.name == "Kollega Ett"  # their own
    team = db.session.get(Team, w["team"].id)
    assert team.contact_email.endswith(seats.ERASED_DOMAIN) and team.contact_name == ""
    for token in old_tokens[:2]:
        assert client.get(f"/r/{token}").status_code == 404
    assert client.get(f"/t/{old_tokens[2]}").status_code == 404
    # The address is nowhere but in the receipt still to go and the subscription's own mail.
    holding = [
        (model.__tablename__, row)
        for model in (Registration, Team, OutboxMessage, AuditEntry)
        for row in db.session.execute(sa.select(model.__table__)).mappings().all()
        if ME[1] in repr(dict(row)) or ME[0] in repr(dict(row)) or NEEDS in repr(dict(row))
    ]
    assert sorted((table, row.get("kind")) for table, row in holding) == [
        ("outbox_message", "erasure_done"),
        ("outbox_message", "subscription_confirm"),
    ]
    receipt = next(row for _, row in holding if row["kind"] == "erasure_done")
    assert ME[0] not in receipt["body_text"] and receipt["registration_id"] is None
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "person.erasure"))
    assert entry.user_id is None and ME[1] not in json.dumps(entry.details)
    assert entry.details == {
        "registrations": 3, "events": 3, "cancelled": 3, "promoted": 1, "teams": 1,
        "messages": entry.details["messages"], "audit_entries": 1,
    }
    assert entry.details["messages"] > 0
    export = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "export"))
    assert export.details["filters"] == {"participant": None}
    assert db.session.scalar(sa.select(Subscription.email)) == ME[1]  # separate consent

    # The receipt goes out; the next purge run removes its address too.
    delivery.send_due()
    assert [m["To"] for m in smtp_sink.to(ME[1]) if "erased" in m["Subject"] or "raderade" in m["Subject"]]
    assert smtp_sink.to("nils.nast@alingsas.example")
    assert purge.clear_old_mail() == 1
    db.session.rollback()
    assert list(
        db.session.scalars(sa.select(OutboxMessage.kind).where(OutboxMessage.recipient == ME[1]))
    ) == ["subscription_confirm"]
    assert forgetting.clear_old_contents() == 0
    # Following the link again erases nothing more, and says so.
    audit_entries = db.session.scalar(sa.select(sa.func.count(AuditEntry.id)))
    for again in (client.post(url + "?lang=en"), client.get(url + "?lang=en")):
        assert again.status_code == 200
        assert "already erased: there is nothing more to erase" in again.get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id))) == audit_entries
    assert db.session.scalar(
        sa.select(sa.func.count(OutboxMessage.id)).where(OutboxMessage.kind == "erasure_done")
    ) == 1  # no second receipt
    # A download link of an erased registration opens nothing.
    assert client.get(f"/r/data/{links.make(links.OWN_DATA, db.session.get(Registration, w['mine'].id))}/kvarn-data.json").status_code == 410


def test_erasure_keeps_the_status_of_registrations_in_events_that_are_over(app, client):
    org = f.organisation()
    past = f.event(capacity=2, days_ahead=1, title="Förbi")
    mine = f.sign_up(past.id, org.id, name=ME[0], email=ME[1]).registration
    clock.travel(timedelta(days=3))  # the event is over; the personal link still works
    token = links.make(links.ERASURE, mine)

    assert client.post(f"/r/erase/{token}?lang=en").status_code == 200

    db.session.rollback()
    row = db.session.get(Registration, mine.id)
    assert row.status == S.CONFIRMED and row.name == "" and row.active_email == row.email
    assert rule_violations(past.id) == []


def test_an_erasure_link_needs_its_button_and_a_valid_form(app, client):
    w = world()
    token = links.make(links.ERASURE, w["mine"])
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post(f"/r/erase/{token}?lang=en")  # no CSRF token: refused, nothing erased
    assert response.status_code in (302, 303, 400)
    db.session.rollback()
    assert db.session.get(Registration, w["mine"].id).name == ME[0]
    own = links.make(links.OWN_DATA, w["mine"])
    app.config["WTF_CSRF_ENABLED"] = False
    assert client.post(f"/r/erase/{own}").status_code == 410  # a download link erases nothing
    db.session.rollback()
    assert db.session.get(Registration, w["mine"].id).name == ME[0]
