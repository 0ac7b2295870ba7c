"""Check-in on a phone and the printed attendance list, in a real Chromium.

- the check-in page at 390 px wide (an iPhone 12-15): the session picker, the search, the
  walk-in form and every row's button, the undo button too, lie wholly inside the screen,
  and nothing is cut off inside a button; in Swedish (the longest labels) and English;
- a tap per person per session: checking someone in on day 2 of a four-day course leaves
  day 1 as it was;
- a walk-in at the door, added from the phone;
- the printed list through Chromium's print to PDF (``page.pdf()``): 25 people on one
  session fit one A4 page; three sessions give three pages, each naming its session; more
  than a page's worth of people continue on sheets that still say which session they are.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, timedelta

import pytest
import sqlalchemy as sa

from app.core import clock
from app.core.database import write_transaction
from app.core.extensions import db
from app.models import Registration, RegistrationStatus, Role, SessionAttendance
from app.registrations import seats
from tests import factories as f
from tests.browser import browser_page
from tests.staff_helpers import PASSWORD, live_server, make_user

pytestmark = pytest.mark.browser

S = RegistrationStatus
PHONE = {"width": 390, "height": 844}

LONG_NAMES = [
    "Anna-Karin Johansson-Wikström",
    "Bo Ek",
    "Åsa Öberg",
    "Maximiliana Fredrikssonsdotter",
    "Pär Lind",
]


def log_in(page, base: str, user) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", user.email)
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url(re.compile(r"/staff/"))


def four_day_course(names=LONG_NAMES):
    """A four-day course starting today (so today's session is the first), with people
    from a long-named organisation and work teams."""
    org = f.organisation("Kommunalförbundet Sjuhärads samordningsförbund")
    start = clock.local(clock.now()).replace(hour=8, minute=0, second=0, microsecond=0).astimezone(UTC)
    ev = f.event(capacity=30, sessions=4, days_ahead=0, title="Fyradagarskurs i samtalsmetodik för förskolan")

    def place_sessions():
        event = db.session.get(type(ev), ev.id)
        for i, session in enumerate(sorted(event.sessions, key=lambda s: s.starts_at)):
            session.starts_at = start + timedelta(days=i)
            session.ends_at = start + timedelta(days=i, hours=7)
            session.venue = f"Stora salen, Kommunhuset plan {i + 2}"

    write_transaction(place_sessions)
    regs = [
        f.sign_up(ev.id, org.id, n, name=name, work_team="Avdelning Solrosen och Blåklinten").registration
        for n, name in enumerate(names)
    ]
    db.session.expire_all()
    return db.session.get(type(ev), ev.id), regs


def outside_the_screen(page) -> list[str]:
    """Every visible control (button, link-button, select, input, summary) not wholly
    inside the viewport, or whose own content is cut off; and the page's own overflow."""
    return page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          const problems = [];
          if (document.documentElement.scrollWidth > width) {
            problems.push('page scrolls sideways: ' + document.documentElement.scrollWidth + ' > ' + width);
          }
          const controls = document.querySelectorAll(
            'button, .button, select, input:not([type=hidden]), summary');
          for (const el of controls) {
            const box = el.getBoundingClientRect();
            if (box.width === 0 && box.height === 0) continue;  // not shown (closed details)
            const name = el.tagName + ' "' + (el.innerText || el.value || el.name || '').trim() + '"';
            if (box.left < 0 || box.right > width + 0.5) {
              problems.push(name + ' spans ' + Math.round(box.left) + '..' + Math.round(box.right));
            }
            if (el.tagName === 'BUTTON' && el.scrollWidth > el.clientWidth + 1) {
              problems.push(name + ' cuts its label: ' + el.scrollWidth + ' > ' + el.clientWidth);
            }
          }
          return problems;
        }"""
    )


@pytest.mark.parametrize("locale", ["sv-SE", "en-GB"])
def test_the_check_in_page_fits_a_390_px_phone_with_the_undo_button(app, locale):
    ev, regs = four_day_course()
    organiser = make_user(Role.ORGANISER)
    first = sorted(ev.sessions, key=lambda s: s.starts_at)[0]
    seats.set_attendance(regs[0].id, True, organiser.id, session_id=first.id)
    seats.set_attendance(regs[3].id, True, organiser.id, session_id=first.id)
    with live_server(app) as base, browser_page(locale, **PHONE) as page:
        log_in(page, base, organiser)
        page.goto(f"{base}/staff/events/{ev.id}/checkin")
        undo = page.locator(f"#r{regs[0].id} button")
        assert undo.inner_text().startswith("Ångra" if locale == "sv-SE" else "Undo")
        assert outside_the_screen(page) == []
        page.locator("details.walk-in summary").click()
        assert outside_the_screen(page) == []


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_one_tap_per_person_per_session_on_a_phone(app):
    from playwright.sync_api import expect

    ev, regs = four_day_course()
    organiser = make_user(Role.ORGANISER)
    first, second = sorted(ev.sessions, key=lambda s: s.starts_at)[:2]
    with live_server(app) as base, browser_page("en-GB", **PHONE) as page:
        log_in(page, base, organiser)
        page.goto(f"{base}/staff/events/{ev.id}/checkin")
        # Today's session is chosen to begin with.
        assert page.locator("#session").input_value() == str(first.id)
        row = page.locator(f"#r{regs[1].id}")
        row.locator("button").click()
        expect(row).to_have_class(re.compile("is-in"))
        expect(page.locator("[data-checkin-count]")).to_have_text("1 of 5 checked in")
        assert outside_the_screen(page) == []  # the undo button the script put there fits too

        page.select_option("#session", str(second.id))
        page.locator("form.checkin-session button").click()
        page.wait_for_url(re.compile(rf"session={second.id}"))
        row = page.locator(f"#r{regs[1].id}")
        expect(row).not_to_have_class(re.compile("is-in"))  # day 2 is a tap of its own
        expect(page.locator("[data-checkin-count]")).to_have_text("0 of 5 checked in")
        row.locator("button").click()
        expect(row).to_have_class(re.compile("is-in"))
        row.locator("button").click()  # undo day 2 only
        expect(row).not_to_have_class(re.compile("is-in"))

    db.session.rollback()  # end the test's own read snapshot before looking
    sessions = set(
        db.session.scalars(
            sa.select(SessionAttendance.session_id).where(SessionAttendance.registration_id == regs[1].id)
        )
    )
    assert sessions == {first.id}
    registration = db.session.get(Registration, regs[1].id, populate_existing=True)
    assert registration.status == S.ATTENDED


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_a_walk_in_is_added_from_the_phone(app):
    ev, regs = four_day_course()
    organiser = make_user(Role.ORGANISER)
    with live_server(app) as base, browser_page("en-GB", **PHONE) as page:
        log_in(page, base, organiser)
        page.goto(f"{base}/staff/events/{ev.id}/checkin")
        page.locator("details.walk-in summary").click()
        page.locator("details.walk-in button[type=submit]").click()  # empty: the form says why
        assert page.locator(".error-summary").is_visible()
        assert page.locator("details.walk-in").get_attribute("open") is not None
        assert outside_the_screen(page) == []
        page.fill("#name", "Dörr Dörrsson")
        page.fill("#email", "dorr@example.org")
        page.select_option("#organisation", label="Kommunalförbundet Sjuhärads samordningsförbund")
        page.locator("details.walk-in button[type=submit]").click()
        assert "Dörr Dörrsson is registered and checked in." in page.locator(".flash-success").inner_text()
        row = page.locator("li.is-in", has_text="Dörr Dörrsson")
        assert row.count() == 1
        assert outside_the_screen(page) == []
    db.session.rollback()
    walk_in = db.session.scalar(sa.select(Registration).where(Registration.email == "dorr@example.org"))
    assert walk_in.status == S.ATTENDED and walk_in.event_id == ev.id


# --- the printed list ------------------------------------------------------------------


def printed_pages(app, event_id: int, query: str = "") -> list[str]:
    """The attendance list printed to PDF by Chromium: the text of each A4 page."""
    from pypdf import PdfReader

    organiser = make_user(Role.ORGANISER)
    with live_server(app) as base, browser_page("sv-SE") as page:
        log_in(page, base, organiser)
        page.goto(f"{base}/staff/events/{event_id}/attendance{query}")
        pdf = page.pdf(format="A4", print_background=False)
    reader = PdfReader(io.BytesIO(pdf))
    # The page objects themselves agree with the library's count.
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == len(reader.pages)
    return [p.extract_text() for p in reader.pages]


def course_with(people: int, sessions: int):
    org = f.organisation("Kommunalförbundet Sjuhärads samordningsförbund")
    other = f.organisation("Alingsås kommun")
    ev = f.event(capacity=people, sessions=sessions, title="Samtalsmetodik för förskolan")
    for n in range(people):
        f.sign_up(
            ev.id,
            (org if n % 2 else other).id,
            n,
            name=f"Deltagare {n:02d} Långnamnsson-Wikström",
            work_team="Avdelning Solrosen och Blåklinten",
        )
    db.session.expire_all()
    return db.session.get(type(ev), ev.id)


def named_session(text: str, number: int, count: int) -> bool:
    return f"Tillfälle {number} av {count}" in text or f"Session {number} of {count}" in text


def test_twenty_five_people_on_one_session_print_on_one_page(app):
    ev = course_with(25, 1)
    [page] = printed_pages(app, ev.id)
    assert "Samtalsmetodik för förskolan" in page
    assert "Sal 1" in page  # the venue
    assert "Deltagare 00" in page and "Deltagare 24" in page


def test_three_sessions_print_three_pages_each_naming_its_session(app):
    ev = course_with(18, 3)  # the walk-through's 18 people took two pages per session
    pages = printed_pages(app, ev.id)
    assert len(pages) == 3
    for number, text in enumerate(pages, start=1):
        assert "Samtalsmetodik för förskolan" in text
        assert named_session(text, number, 3), text[:200]
        assert f"Sal {number}" in text
        assert "Deltagare 00" in text and "Deltagare 17" in text


def test_one_session_can_be_printed_alone(app):
    ev = course_with(5, 3)
    second = sorted(ev.sessions, key=lambda s: s.starts_at)[1]
    [page] = printed_pages(app, ev.id, f"?session={second.id}")
    assert named_session(page, 2, 3) and "Sal 2" in page


def test_a_longer_list_continues_on_sheets_that_name_the_session(app):
    ev = course_with(40, 2)
    pages = printed_pages(app, ev.id)
    assert len(pages) == 4  # two sheets per session
    for index, text in enumerate(pages):
        number = index // 2 + 1
        assert "Samtalsmetodik för förskolan" in text
        assert named_session(text, number, 2), text[:200]
    assert "Deltagare 39" in pages[1] and "Deltagare 39" not in pages[0]
