"""Messages to participants: an organiser's free-text message to everyone with a seat,
on the waiting list or interested, with a preview and its delivery; each person gets it
once however often the form is sent; and the mail of a round, rendered once per language
(mail.stencil), is exactly the mail rendered per person. Mail goes through the real SMTP
server (aiosmtpd) and the real delivery worker."""

from __future__ import annotations

import re
import threading
import time

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from app.core.database import write_transaction
from app.core.errors import Refused
from app.core.extensions import db
from app.mail import delivery, outbox
from app.mail.stencil import Stencil
from app.models import AuditEntry, EventKind, EventStatus, MessageRound, OutboxMessage, Registration
from app.registrations import messages, notices, reminders, seats
from tests import factories as f
from tests.staff_clients import logged_in
from tests.staff_helpers import audit_actions, form_inputs, login_as, make_user

BODY = "Parkera bakom huset.\r\nIngång från gården \x0b(dörr B)\x07.\n\n\n<b>Ta med</b> & \"kaffe\"."
CLEAN_BODY = 'Parkera bakom huset.\nIngång från gården \n(dörr B).\n\n\n<b>Ta med</b> & "kaffe".'


@pytest.fixture
def app_config(smtp_sink):
    return {**smtp_sink.config(), "MAIL_MAX_ATTEMPTS": 1}


def people_event():
    """An open event with two seats: Person 0 (checked in) and Person 1 have seats,
    Person 2 and 3 wait, Person 4 cancelled. And a gauging lecture with two interested."""
    org = f.organisation()
    ev = f.event(capacity=2)
    regs = [f.sign_up(ev.id, org.id, n, locale="en" if n == 1 else "sv").registration for n in range(5)]
    seats.cancel(regs[4].manage_token)
    user = make_user()
    seats.set_attendance(regs[0].id, True, user.id)
    lecture = f.event(status=EventStatus.GAUGING, kind=EventKind.LECTURE, interest_threshold=10)
    for n in (10, 11):
        f.sign_up(lecture.id, org.id, n)
    return ev, lecture, regs


AUDIENCE_OF = {
    messages.SEATED: ("event", {"person0@example.org", "person1@example.org"}),
    messages.WAITING: ("event", {"person2@example.org", "person3@example.org"}),
    messages.INTERESTED: ("lecture", {"person10@example.org", "person11@example.org"}),
}


def delivered(smtp_sink, kind: str = "participant_message") -> list:
    """Deliver what is due; the received messages of ``kind`` (matched by Message-ID)."""
    delivery.send_due()
    db.session.rollback()
    ids = set(db.session.scalars(sa.select(OutboxMessage.message_id).where(OutboxMessage.kind == kind)))
    return [m for m in smtp_sink.messages() if m["Message-ID"] in ids]


def text_and_html(message) -> tuple[str, str]:
    return tuple(
        message.get_body((subtype,)).get_content().replace("\r\n", "\n") for subtype in ("plain", "html")
    )


# --- through the page, to each audience -------------------------------------------------


@pytest.mark.parametrize("audience", list(AUDIENCE_OF))
def test_a_message_reaches_exactly_its_audience_once(db_app, smtp_sink, audience):
    ev, lecture, _regs = people_event()
    where, expected = AUDIENCE_OF[audience]
    event = ev if where == "event" else lecture
    delivery.send_due()  # the sign-up mail first
    smtp_sink.received.clear()
    user = make_user()
    client = logged_in(db_app, user)
    client.get("/lang/en")
    page = client.get(f"/staff/events/{event.id}/messages").get_data(as_text=True)
    fields = {
        **form_inputs(page, f"/staff/events/{event.id}/messages"),
        "audience": audience,
        "subject": "Om parkeringen",
        "body": BODY,
    }
    url = f"/staff/events/{event.id}/messages"
    first = client.post(url, data=fields)
    assert first.status_code == 303
    label = re.search(r"label=([\w-]+)", first.headers["Location"]).group(1)
    # The same form again (a double click, a reload): found, nothing queued twice.
    again = client.post(url, data=fields)
    assert again.status_code == 303 and f"label={label}" in again.headers["Location"]
    assert "already sent, to 2 people" in client.get(again.headers["Location"]).get_data(as_text=True)

    got = delivered(smtp_sink)
    assert sorted(m["To"] for m in got) == sorted(expected)  # each once, nobody else
    text, html = text_and_html(got[0])
    assert got[0]["Subject"] == "Om parkeringen"
    assert "Parkera bakom huset.\nIngång från gården\n(dörr B)." in text
    assert '<b>Ta med</b> & "kaffe".' in text  # plain text stays plain
    assert "&lt;b&gt;Ta med&lt;/b&gt; &amp; &#34;kaffe&#34;." in html  # escaped in the HTML part
    assert "Parkera bakom huset.<br>Ingång från gården<br>(dörr B).</p>" in html
    assert "\x07" not in text + html and "\x0b" not in text + html

    db.session.rollback()
    (round_,) = db.session.scalars(sa.select(MessageRound)).all()
    assert (round_.kind, round_.audience, round_.queued, round_.created_by_id) == (
        "message", audience, 2, user.id,
    )
    assert round_.body == CLEAN_BODY.replace(" \n", "\n")
    entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "event.message")).all()
    assert [(e.user_id, e.object_id, e.details) for e in entries] == [
        (user.id, event.id, {"round": round_.id, "audience": audience, "subject": "Om parkeringen", "queued": 2})
    ]
    progress = client.get(f"/staff/events/{event.id}/messages/progress?label={label}").get_json()
    assert (progress["total"], progress["sent"], progress["finished"]) == (2, 2, True)
    assert progress["text"] == "2 of 2 handled: 2 sent, 0 failed, 0 waiting."


def test_each_person_gets_their_own_name_link_and_language(app, smtp_sink):
    ev, _lecture, regs = people_event()
    user = make_user()
    sent = messages.send_message(
        ev.id, user.id, "a" * 32, messages.Draft(messages.SEATED, "Parkering", "Bakom huset.")
    )
    assert (sent.queued, sent.again) == (2, False)
    by_to = {m["To"]: m for m in delivered(smtp_sink)}
    for reg, greeting in ((regs[0], "Hej Person 0!"), (regs[1], "Hello Person 1,")):
        text, html = text_and_html(by_to[reg.email])
        assert greeting in text and greeting in html
        assert f"/r/{reg.manage_token}" in text and f"/r/{reg.manage_token}" in html
        assert by_to[reg.email]["Content-Language"] == reg.locale
        with force_locale(reg.locale):  # why they get it, in their language
            assert str(messages.REASONS[messages.SEATED]) in text
    other = regs[1].manage_token
    assert other not in "".join(text_and_html(by_to[regs[0].email]))
    assert by_to[regs[0].email]["Reply-To"] == "organiser@kommun.test"


def test_two_sends_of_one_form_at_once_make_one_round(db_app):
    ev, _lecture, _regs = people_event()
    event_id = ev.id
    results: list[messages.Sent] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def send():
        try:
            with db_app.app_context():
                barrier.wait()
                results.append(
                    messages.send_message(
                        event_id, None, "b" * 32, messages.Draft(messages.WAITING, "Kö", "Ni står i kö.")
                    )
                )
                db.session.remove()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sorted((r.again, r.queued) for r in results) == [(False, 2), (True, 2)]
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MessageRound)) == 1
    assert sorted(
        db.session.scalars(
            sa.select(OutboxMessage.recipient).where(OutboxMessage.kind == "participant_message")
        )
    ) == ["person2@example.org", "person3@example.org"]


def test_a_new_form_is_a_new_round(app):
    ev, _lecture, _regs = people_event()
    draft = messages.Draft(messages.SEATED, "Ämne", "Text")
    assert messages.send_message(ev.id, None, "c" * 32, draft).queued == 2
    assert messages.send_message(ev.id, None, "d" * 32, draft).queued == 2
    assert len(messages.rounds_of(ev.id, messages.MESSAGE)) == 2


# --- preview -----------------------------------------------------------------------------


def test_the_preview_is_the_real_mail_to_a_made_up_person_and_queues_nothing(client, smtp_sink):
    ev, _lecture, regs = people_event()
    login_as(client)
    before = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
    page = client.get(f"/staff/events/{ev.id}/messages").get_data(as_text=True)
    fields = {
        **form_inputs(page, f"/staff/events/{ev.id}/messages"),
        "audience": messages.WAITING,
        "subject": "Om kön",
        "body": "Rad ett\nRad <två>",
        "locale": "en",
        "preview": "1",
    }
    shown = client.post(f"/staff/events/{ev.id}/messages", data=fields)
    assert shown.status_code == 200
    page = shown.get_data(as_text=True)
    preview = re.search(r'<pre class="mail-preview">(.*?)</pre>', page, re.S).group(1)
    assert "Hello Anna Andersson," in preview and "Rad ett\nRad &lt;två&gt;" in preview
    assert "because you are on the waiting list" in preview
    assert all(r.manage_token not in page for r in regs)
    # The form keeps what was written, and its key: sending it now sends what was previewed.
    assert form_inputs(page, f"/staff/events/{ev.id}/messages")["key"] == fields["key"]
    assert "Rad ett\nRad &lt;två&gt;</textarea>" in page

    html = client.post(f"/staff/events/{ev.id}/messages/preview.html", data=fields)
    assert html.status_code == 200 and html.mimetype == "text/html"
    body = html.get_data(as_text=True)
    assert "<h1" in body and "Om kön</h1>" in body and "Rad ett<br>Rad &lt;två&gt;" in body
    assert "script-src" not in html.headers["Content-Security-Policy"]
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MessageRound)) == 0


def test_the_page_lists_the_messages_sent_with_who_and_how_many(client, smtp_sink):
    ev, _lecture, _regs = people_event()
    user = login_as(client)
    messages.send_message(ev.id, user.id, "e" * 32, messages.Draft(messages.WAITING, "Kö-info", "Hej kön"))
    delivered(smtp_sink)
    page = client.get(f"/staff/events/{ev.id}/messages").get_data(as_text=True)
    row = re.search(r"<tbody>(.*?)</tbody>", page, re.S).group(1)
    assert user.name in row and "Everyone on the waiting list" in row and "Kö-info" in row
    assert "<td>2</td>" in row and "2 sent, 0 failed, 0 waiting" in row
    assert "Everyone with a seat (2 people)" in page  # each audience with its count
    detail = client.get(f"/staff/events/{ev.id}").get_data(as_text=True)
    assert f'href="/staff/events/{ev.id}/messages"' in detail


# --- refusals ----------------------------------------------------------------------------


def test_an_empty_or_incomplete_form_is_shown_again_and_sends_nothing(client):
    ev, _lecture, _regs = people_event()
    user = login_as(client)
    page = client.get(f"/staff/events/{ev.id}/messages").get_data(as_text=True)
    fields = form_inputs(page, f"/staff/events/{ev.id}/messages")
    for spoiled, message in (
        ({"subject": "", "body": "Text"}, "Write a subject."),
        ({"subject": "Ämne", "body": " \x07 "}, "Write the message."),
        ({"subject": "Ämne", "body": "x" * 5001}, "Use at most 5000 characters."),
        ({"subject": "Ämne", "body": "Text", "audience": "everyone"}, "Not a valid choice"),
    ):
        response = client.post(f"/staff/events/{ev.id}/messages", data={**fields, **spoiled})
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    assert client.post(
        f"/staff/events/{ev.id}/messages", data={**fields, "key": "not-ours", "subject": "Ä", "body": "T"}
    ).status_code == 400
    assert audit_actions(user.id) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MessageRound)) == 0


def test_an_audience_with_nobody_is_refused(client):
    ev, _lecture, _regs = people_event()
    login_as(client)
    page = client.get(f"/staff/events/{ev.id}/messages").get_data(as_text=True)
    fields = {
        **form_inputs(page, f"/staff/events/{ev.id}/messages"),
        "audience": messages.INTERESTED,
        "subject": "Ämne",
        "body": "Text",
    }
    response = client.post(f"/staff/events/{ev.id}/messages", data=fields)
    assert response.status_code == 400
    assert "Nobody is in that group right now." in response.get_data(as_text=True)
    with pytest.raises(Refused):
        messages.send_message(ev.id, None, "f" * 32, messages.Draft("everyone", "Ä", "T"))
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MessageRound)) == 0
    assert db.session.scalar(
        sa.select(sa.func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "participant_message")
    ) == 0


def test_coordinators_may_not_send_messages(client):
    ev, _lecture, _regs = people_event()
    login_as(client, "coordinator", organisation="Alingsås kommun")
    assert client.get(f"/staff/events/{ev.id}/messages").status_code == 403
    data = {"key": "a" * 32, "audience": "seated", "subject": "Ä", "body": "T"}
    assert client.post(f"/staff/events/{ev.id}/messages", data=data).status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MessageRound)) == 0


# --- the stencil: rendered once, exactly as rendered per person -------------------------


@pytest.mark.parametrize("kind", [messages.REMINDER, messages.MESSAGE])
def test_a_rounds_mail_is_exactly_the_mail_rendered_per_person(app, kind):
    org = f.organisation()
    ev = f.event(capacity=5, what_to_bring="Inneskor & <penna>")
    names = ['Åsa "Ö" <Berg> & Co', "O'Brien", "Zoë"]
    regs = [
        f.sign_up(ev.id, org.id, n, name=name, locale=locale).registration
        for n, (name, locale) in enumerate(zip(names, ["sv", "en", "sv"], strict=True))
    ]
    extra = (
        messages.text_context("Rad ett\n\nRad <två> & tre")
        if kind == messages.REMINDER
        else messages.message_context(messages.Draft(messages.SEATED, "Ämne & <mer>", "Hej\nhopp"))
    )
    event = regs[0].event
    for reg in regs:
        made = messages.stencil(event, kind, messages.SEATED, reg.locale, **extra)
        filled = made.fill({"name": reg.name, "manage_token": reg.manage_token})
        context = notices.registration_context(
            reg, calendar_method=None, position=None, calendar_files=0,
            audience=messages.SEATED, reason=messages.REASONS[messages.SEATED], **extra,
        )
        assert filled == outbox.render(messages.MAIL_KIND[kind], reg.locale, context)
        assert "&lt;Berg&gt;" in filled[2] or reg.name != names[0]


def _subject_is(change):
    """A context whose subject is the name placeholder, changed by ``change``."""

    def context_with(values) -> dict:
        return {
            "subject": change(values["name"]),
            "organiser_text": "Text",
            "organiser_paragraphs": [["Text"]],
            "reason": "",
        }

    return context_with


def test_a_template_that_changes_a_personal_value_is_refused(app):
    with app.test_request_context():
        for change in (str.upper, lambda name: name[:20]):
            with pytest.raises(ValueError, match="changes a personal value"):
                Stencil("participant_message", "sv", _subject_is(change), ["name"])
        made = Stencil("participant_message", "sv", _subject_is(lambda name: name), ["name"])
        subject, text, html = made.fill({"name": "A <b> & c"})
        assert subject == "A <b> & c"
        assert "A &lt;b&gt; &amp; c</h1>" in html


def test_a_name_stored_with_control_characters_still_gets_its_mail(app, smtp_sink):
    org = f.organisation()
    ev = f.event()
    reg = f.sign_up(ev.id, org.id, 1).registration

    def spoil():
        db.session.get(Registration, reg.id).name = "Anna\x0bBerg\x00"

    write_transaction(spoil)
    sent = messages.send_message(ev.id, None, "9" * 32, messages.Draft(messages.SEATED, "Ä", "T"))
    assert sent.queued == 1
    (got,) = delivered(smtp_sink)
    text, html = text_and_html(got)
    assert "Hej Anna Berg!" in text and "Hej Anna Berg!" in html


# --- in a real browser: the states of both pages pass axe; the HTML preview opens a tab --


@pytest.mark.browser
def test_in_a_real_browser_the_pages_pass_axe_and_the_html_preview_keeps_the_form(app, smtp_sink):
    from playwright.sync_api import expect

    from tests.browser import browser_page
    from tests.staff_helpers import live_server
    from tests.test_access_matrix import build_world
    from tests.test_accessibility import AXE, LANGUAGES, Audit, assert_accessible, open_page

    if not AXE.is_file():
        pytest.skip("axe-core is not installed (make install)")
    app.config["WTF_CSRF_ENABLED"] = True  # the browser sends the real tokens
    started = time.monotonic()
    world = build_world()
    user = world.users["organiser"]
    ev = world.params["event_id"]
    reminder = reminders.send_reminder(ev, user.id, "a" * 32, "Parkera\nbakom huset")
    sent = messages.send_message(ev, user.id, "b" * 32, messages.Draft("seated", "Ämne", "Hej\n\nhopp"))
    audits = []

    def submit(page, selector: str):
        with page.expect_navigation() as navigation:
            page.click(selector)
        return navigation.value

    with live_server(app) as base:
        for lang, locale in LANGUAGES.items():
            with browser_page(locale) as page:
                audit = Audit("organiser", lang, base)
                audits.append(audit)
                open_page(page, AXE, base, lang, user)
                audit.visit(page, "reminder", f"/staff/events/{ev}/reminder?label={reminder.label}")
                page.fill("#note", "Mer text")
                # A second round today without the box: refused, the warning and box shown.
                refused = submit(page, "form[action$='/reminder'] button[data-once]")
                audit.expect_error(page, "reminder refused", refused, {400})
                expect(page.locator("#confirm_repeat")).to_be_visible()
                previewed = submit(page, "button[name=preview]")
                audit.expect_error(page, "reminder preview", previewed, {200})
                expect(page.locator("pre.mail-preview")).to_contain_text("Mer text")

                audit.visit(page, "messages", f"/staff/events/{ev}/messages?label={sent.label}")
                empty = submit(page, "form[action$='/messages'] button[data-once]")
                audit.expect_error(page, "messages sent empty", empty, {400})
                page.fill("#subject", "Hej")
                page.fill("#body", "Text\nmer <b>")
                previewed = submit(page, "button[name=preview]")
                audit.expect_error(page, "messages preview", previewed, {200})
                # The HTML version opens in a new tab and leaves the send button usable.
                with page.context.expect_page() as tab:
                    page.click("button[formtarget=_blank]")
                html = tab.value
                html.wait_for_load_state()
                expect(html.locator("h1")).to_have_text("Hej")
                assert "Text<br>mer &lt;b&gt;</p>" in html.content()
                html.close()
                expect(page.locator("form[action$='/messages'] button[data-once]")).to_be_enabled()
    assert_accessible(audits, started)
    db.session.rollback()
    assert len(messages.rounds_of(ev, messages.MESSAGE)) == 1  # previews sent nothing
    assert len(messages.rounds_of(ev, messages.REMINDER)) == 1
