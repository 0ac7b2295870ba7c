"""Three journeys through the real pages in Chromium, with CSRF on and Swedish pages.

A professional signs up and cancels; an organiser creates, publishes, raises capacity
and sends a reminder that a real SMTP server receives; a coordinator reads the counts
for their municipality. Each checks what the person sees and what the database holds.

Expected texts are looked up in the Swedish catalogue (``sv``), so the tests hold both
before and after the staff pages are translated; a few literals pin that the page
really is Swedish.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale, gettext, ngettext

from app.core import clock
from app.core.extensions import db
from app.mail import delivery
from app.models import (
    AuditEntry,
    Event,
    EventKind,
    EventSession,
    EventStatus,
    OutboxMessage,
    OutboxStatus,
    Registration,
    RegistrationStatus,
    Role,
)
from tests import factories as f
from tests.browser import browser_page
from tests.staff_helpers import PASSWORD, live_server, make_user

pytestmark = pytest.mark.browser
S = RegistrationStatus
SWEDISH = "sv-SE"


@pytest.fixture
def app_config(smtp_sink):
    return {"WTF_CSRF_ENABLED": True, **smtp_sink.config()}


def sv(text: str, **variables) -> str:
    """What a Swedish page says for ``text`` (the English msgid until it is translated)."""
    with force_locale("sv"):
        return gettext(text, **variables)


def sv_n(singular: str, plural: str, num: int, **variables) -> str:
    with force_locale("sv"):
        return ngettext(singular, plural, num, **variables)


def log_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")


def fresh_rows(query):
    db.session.rollback()  # end the test's own read snapshot: the server thread wrote
    return db.session.execute(query).all()


def mail_kinds(email: str) -> list[str]:
    return [
        kind
        for (kind,) in fresh_rows(
            sa.select(OutboxMessage.kind)
            .where(OutboxMessage.recipient == email)
            .order_by(OutboxMessage.id)
        )
    ]


def test_a_professional_signs_up_and_cancels_and_the_next_in_line_gets_the_seat(app):
    from playwright.sync_api import expect

    alingsas = f.organisation("Alingsås kommun")
    f.organisation("Lerums kommun")
    event = f.event(capacity=1, title="Samtal i förskolan", days_ahead=20)

    with live_server(app) as base, browser_page(SWEDISH) as asa, browser_page(SWEDISH) as bertil:
        asa.goto(f"{base}/events")
        expect(asa.locator("html")).to_have_attribute("lang", "sv")
        asa.get_by_role("link", name="Samtal i förskolan").click()
        expect(asa.get_by_role("heading", level=1)).to_have_text("Samtal i förskolan")

        # A mistyped address: a Swedish message next to the field, nothing stored.
        asa.fill("#name", "Åsa Öberg")
        asa.fill("#email", "asa.oberg@")
        asa.select_option("#organisation", label="Alingsås kommun")
        asa.fill("#work_team", "Familjeteamet")
        asa.click("form.signup > button[type=submit]")
        expect(asa.locator("#email-error")).to_have_text(
            "Ange en giltig e-postadress, till exempel namn@kommun.se."
        )
        assert fresh_rows(sa.select(Registration.id)) == []

        asa.fill("#email", "asa.oberg@alingsas.example")
        asa.click("form.signup > button[type=submit]")
        expect(asa.locator(".flash-success")).to_have_text(
            sv("You have a seat. A confirmation is on its way by email.")
        )
        expect(asa.locator("dd.status")).to_have_text("Du har en plats")

        # A colleague comes second: the event is full, so she waits as number 1.
        bertil.goto(f"{base}/events/{event.id}")
        expect(bertil.locator("#signup-heading")).to_have_text(sv("Sign up"))
        bertil.fill("#name", "Bertil Lund")
        bertil.fill("#email", "bertil.lund@lerum.example")
        bertil.select_option("#organisation", label="Lerums kommun")
        bertil.click("form.signup > button[type=submit]")
        expect(bertil.locator("dd.status")).to_have_text("På väntelistan, nummer 1")
        bertil_link = bertil.url

        # Åsa cancels from her own link, on purpose: a confirmation step says what happens.
        asa.get_by_role("link", name=sv("Cancel my registration…")).click()
        expect(asa.locator("main p").nth(1)).to_contain_text(
            sv(
                "You give up your seat. It goes at once to the first person on the waiting list, "
                "and you cannot get it back: if you sign up again, you join the back of the queue."
            )
        )
        asa.get_by_role("link", name=sv("No, keep it")).click()
        expect(asa.locator("dd.status")).to_have_text("Du har en plats")  # nothing happened
        asa.get_by_role("link", name=sv("Cancel my registration…")).click()
        asa.get_by_role("button", name=sv("Yes, cancel my seat")).click()
        expect(asa.locator(".flash-success")).to_have_text(
            sv("Your registration is cancelled. A receipt is on its way by email.")
        )
        expect(asa.locator("dd.status")).to_have_text(sv("Cancelled"))
        expect(asa.get_by_role("link", name=sv("Cancel my registration…"))).to_have_count(0)

        bertil.goto(bertil_link)
        expect(bertil.locator("dd.status")).to_have_text("Du har en plats")

    rows = fresh_rows(
        sa.select(
            Registration.name,
            Registration.status,
            Registration.organisation_id,
            Registration.work_team,
            Registration.locale,
        ).order_by(Registration.created_at, Registration.id)
    )
    assert [tuple(r) for r in rows] == [
        ("Åsa Öberg", S.CANCELLED, alingsas.id, "Familjeteamet", "sv"),
        ("Bertil Lund", S.CONFIRMED, rows[1].organisation_id, "", "sv"),
    ]
    assert mail_kinds("asa.oberg@alingsas.example") == ["confirmation", "cancelled"]
    assert mail_kinds("bertil.lund@lerum.example") == ["waitlisted", "promoted"]


def test_an_organiser_creates_publishes_raises_capacity_and_reminds(app, smtp_sink):
    from playwright.sync_api import expect

    organiser = make_user(Role.ORGANISER)
    org = f.organisation("Alingsås kommun")
    start = clock.local(clock.now() + timedelta(days=14)).replace(hour=9, minute=0, second=0, microsecond=0)
    end = start.replace(hour=16)

    with live_server(app) as base, browser_page(SWEDISH) as page:
        log_in(page, base, organiser.email)
        page.wait_for_url(f"{base}/staff/events")
        expect(page.get_by_role("heading", level=1)).to_have_text(sv("Manage events"))

        # Create: the event is a draft until published.
        page.get_by_role("link", name=sv("New event")).click()
        page.select_option("#kind", "course")
        page.fill("#title", "Att leda föräldragrupper")
        page.fill("#description", "En dag om samtal med föräldrar.")
        page.fill("#sessions-0-starts_at", start.strftime("%Y-%m-%dT%H:%M"))
        page.fill("#sessions-0-ends_at", end.strftime("%Y-%m-%dT%H:%M"))
        page.fill("#sessions-0-venue", "Alingsås kulturhus, Sal Fors")
        page.fill("#capacity", "1")
        page.fill("#contact_email", "foraldraskap@alingsas.example")
        page.click("form.event-form button[data-once]")
        expect(page.locator(".flash-success")).to_have_text(
            sv("The event is saved as a draft. Publish it when it is ready.")
        )
        event_id = int(re.search(r"/staff/events/(\d+)$", page.url).group(1))
        assert fresh_rows(sa.select(Event.status))[0].status == EventStatus.DRAFT

        page.get_by_role("button", name=sv("Publish and open for registration")).click()
        expect(page.locator(".flash-success")).to_have_text(
            sv("The event is published and open for registration.")
        )

        # Two people sign up (through the service, as the public journey covers the form):
        # the first gets the only seat, the second waits.
        first = f.sign_up(event_id, org.id, 1, name="Anna Lindqvist")
        second = f.sign_up(event_id, org.id, 2, name="Björn Sandberg")
        assert (first.outcome.value, second.outcome.value) == ("confirmed", "waitlisted")

        page.get_by_role("link", name=sv("Registrations"), exact=True).click()
        row = page.locator(f"#r{second.registration.id}")
        expect(row.locator("td").nth(2)).to_have_text(
            sv("Waiting list") + " (" + sv("no. %(position)d", position=1) + ")"
        )

        # Raising the capacity promotes Björn at once.
        page.goto(f"{base}/staff/events/{event_id}/edit")
        page.fill("#capacity", "2")
        page.click("form.event-form button[data-once]")
        expect(page.locator(".flash-success")).to_have_text(
            sv("The changes are saved.")
            + " "
            + sv_n(
                "%(num)d person got a seat from the waiting list.",
                "%(num)d people got a seat from the waiting list.",
                1,
            )
        )
        page.get_by_role("link", name=sv("Registrations"), exact=True).click()
        expect(row.locator("td").nth(2)).to_have_text(sv("Seat"))

        # The reminder: preview, send, and watch the worker deliver it over SMTP.
        page.goto(f"{base}/staff/events/{event_id}")
        page.get_by_role("link", name=sv("Send a reminder")).click()
        expect(page.locator("pre.mail-preview")).to_contain_text("Att leda föräldragrupper")
        page.click("form[action$='/reminder'] button[type=submit]")
        expect(page.locator(".flash-success")).to_have_text(
            sv_n(
                "The reminder is on its way to %(num)d person.",
                "The reminder is on its way to %(num)d people.",
                2,
            )
        )
        expect(page.locator("progress[data-progress-bar]")).to_have_attribute("max", "2")
        db.session.rollback()
        report = delivery.send_due()
        assert report.total >= 2
        done = dict(done=2, total=2, sent=2, failed=0, waiting=0)
        expect(page.locator("[data-progress-text]")).to_have_text(
            sv(
                "%(done)d of %(total)d handled: %(sent)d sent, %(failed)d failed, %(waiting)d waiting.",
                **done,
            )
        )
        assert page.evaluate("document.querySelector('progress').value") == 2

    event = fresh_rows(sa.select(Event.status, Event.capacity, Event.organiser_id))[0]
    assert (event.status, event.capacity, event.organiser_id) == (EventStatus.OPEN, 2, organiser.id)
    session = fresh_rows(sa.select(EventSession.starts_at, EventSession.ends_at, EventSession.venue))
    assert [tuple(r) for r in session] == [(start, end, "Alingsås kulturhus, Sal Fors")]
    statuses = fresh_rows(sa.select(Registration.name, Registration.status).order_by(Registration.id))
    assert [tuple(r) for r in statuses] == [
        ("Anna Lindqvist", S.CONFIRMED),
        ("Björn Sandberg", S.CONFIRMED),
    ]
    actions = [
        a
        for (a,) in fresh_rows(
            sa.select(AuditEntry.action).where(AuditEntry.user_id == organiser.id).order_by(AuditEntry.id)
        )
    ]
    assert actions == ["event.create", "event.publish", "event.capacity", "event.reminders"]
    reminders = fresh_rows(
        sa.select(OutboxMessage.recipient, OutboxMessage.status, OutboxMessage.message_id)
        .where(OutboxMessage.kind == "reminder")
        .order_by(OutboxMessage.recipient)
    )
    assert [(r.recipient, r.status) for r in reminders] == [
        ("person1@example.org", OutboxStatus.SENT),
        ("person2@example.org", OutboxStatus.SENT),
    ]
    # Everything queued was delivered over SMTP once, Björn's promotion among it, in Swedish.
    queued = fresh_rows(
        sa.select(OutboxMessage.kind, OutboxMessage.status, OutboxMessage.message_id)
        .where(OutboxMessage.recipient == "person2@example.org")
        .order_by(OutboxMessage.id)
    )
    assert [(q.kind, q.status) for q in queued] == [
        ("waitlisted", OutboxStatus.SENT),
        ("promoted", OutboxStatus.SENT),
        ("reminder", OutboxStatus.SENT),
    ]
    received = {m["Message-ID"]: m for m in smtp_sink.to("person2@example.org")}
    assert sorted(received) == sorted(q.message_id for q in queued)
    assert received[queued[1].message_id]["Subject"] == sv(
        "You have a seat: %(title)s", title="Att leda föräldragrupper"
    )
    assert {r.message_id for r in reminders} <= {m["Message-ID"] for m in smtp_sink.messages()}


def test_a_coordinator_sees_the_counts_and_only_their_own_people(app):
    from playwright.sync_api import expect

    alingsas = f.organisation("Alingsås kommun")
    lerum = f.organisation("Lerums kommun")
    course = f.event(capacity=3, title="Föräldraskapsstöd i praktiken", days_ahead=12)
    f.sign_up(course.id, alingsas.id, 1, name="Anna Lindqvist")
    f.sign_up(course.id, lerum.id, 2, name="Lars Öhman")
    f.sign_up(course.id, alingsas.id, 3, name="Cecilia Holm")
    f.sign_up(course.id, alingsas.id, 4, name="David Ekström")  # waits
    lecture = f.event(
        capacity=80,
        status=EventStatus.GAUGING,
        kind=EventKind.LECTURE,
        title="Skärmtid och sömn hos barn",
        interest_threshold=5,
        days_ahead=30,
    )
    f.sign_up(lecture.id, alingsas.id, 5, name="Elin Forsberg")
    f.sign_up(lecture.id, lerum.id, 6, name="Fredrik Nyström")
    f.sign_up(lecture.id, lerum.id, 7, name="Gunilla Åberg")
    coordinator = make_user(Role.COORDINATOR, organisation=alingsas)

    def per_org(section) -> dict[str, list[str]]:
        """The per-organisation table (under the chart, opened on request)."""
        table = section.locator("details.chart-table table").first
        return {
            row.locator("th").text_content().strip(): [
                cell.text_content().strip() for cell in row.locator("td").all()
            ]
            for row in table.locator("tbody tr").all()
        }

    with live_server(app) as base, browser_page(SWEDISH) as page:
        log_in(page, base, coordinator.email)
        page.wait_for_url(f"{base}/staff/dashboard")
        expect(page.get_by_role("heading", level=1)).to_have_text(sv("Dashboard"))
        # No organiser pages for a coordinator.
        expect(page.get_by_role("link", name=sv("Manage events"))).to_have_count(0)

        course_section = page.locator(f"section[aria-labelledby='event-{course.id}']")
        expect(course_section.locator("p.seats")).to_have_text(
            sv("%(confirmed)d of %(capacity)d seats taken", confirmed=3, capacity=3)
            + " · "
            + sv_n("%(num)d on the waiting list", "%(num)d on the waiting list", 1)
        )
        assert per_org(course_section) == {"Alingsås kommun": ["2", "1"], "Lerums kommun": ["1", "0"]}
        assert course_section.locator("svg.bars rect:has(title)").count() == 3

        lecture_section = page.locator(f"section[aria-labelledby='event-{lecture.id}']")
        expect(lecture_section.locator("p.seats")).to_contain_text(
            sv("%(count)d of %(threshold)d interested", count=3, threshold=5)
        )
        assert per_org(lecture_section) == {"Alingsås kommun": ["1"], "Lerums kommun": ["2"]}

        # The event page names the Alingsås people only; the CSV is the same list.
        course_section.get_by_role("link", name="Föräldraskapsstöd i praktiken").click()
        names = page.locator("section[aria-labelledby='people-heading'] tbody tr td:first-child")
        expect(names).to_have_text(["Anna Lindqvist", "Cecilia Holm", "David Ekström"])
        expect(page.get_by_text("Lars Öhman")).to_have_count(0)
        with page.expect_download() as download_info:
            page.get_by_role("link", name=sv("Download CSV")).click()
        text = download_info.value.path().read_bytes().decode("utf-8-sig")

    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert [(r[0], r[2]) for r in rows[1:]] == [
        ("Anna Lindqvist", "Alingsås kommun"),
        ("Cecilia Holm", "Alingsås kommun"),
        ("David Ekström", "Alingsås kommun"),
    ]
    exports = fresh_rows(
        sa.select(AuditEntry.action, AuditEntry.object_id).where(AuditEntry.user_id == coordinator.id)
    )
    assert [tuple(e) for e in exports] == [("export", course.id)]
    # Looking changed nothing.
    counts = fresh_rows(
        sa.select(Registration.status, sa.func.count())
        .where(Registration.event_id == course.id)
        .group_by(Registration.status)
    )
    assert dict(counts) == {S.CONFIRMED: 3, S.WAITLISTED: 1}
