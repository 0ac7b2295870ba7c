"""Certificates of attendance: who qualifies (the event's share of sessions, by the
check-in rule), the PDF in the thank-you mail and from the personal link, and the public
page that accepts a real verification code and refuses a forged one."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from app.core import clock
from app.core.extensions import db
from app.evaluations import certificates, invitations, notices
from app.mail import delivery
from app.mail.message import attachment_bytes
from app.models import AuditEntry, Certificate, OutboxMessage, Registration, Role
from app.registrations import seats
from tests import factories as f
from tests.staff_clients import logged_in
from tests.staff_helpers import make_user

HOUR = timedelta(hours=1)


@pytest.fixture
def app_config(smtp_sink):
    return smtp_sink.config()


def at(moment) -> None:
    clock.travel(None)
    clock.travel(moment - clock.now())


def five_session_course(people: int = 4, **fields):
    org = f.organisation("Alingsås kommun")
    ev = f.event(capacity=people, days_ahead=2, sessions=5, title="Lågaffektivt bemötande", **fields)
    regs = [f.sign_up(ev.id, org.id, f"c{ev.id}-{n}", name=f"Deltagare {n}").registration for n in range(people)]
    return ev, regs


def attend(ev, registration: Registration, sessions: int) -> None:
    for session in ev.sessions[:sessions]:
        seats.set_attendance(registration.id, True, None, session.id)


def over(ev) -> None:
    at(max(s.ends_at for s in ev.sessions) + 3 * HOUR)


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_who_qualifies_by_the_events_share_of_sessions(db_app):
    ev, regs = five_session_course(people=4)
    over(ev)
    attend(ev, regs[0], 5)
    attend(ev, regs[1], 4)  # 80 %: exactly the default share
    attend(ev, regs[2], 3)
    db.session.expire_all()
    found = {r.id: certificates.standing(db.session.get(Registration, r.id)) for r in regs}
    assert [(found[r.id].attended, found[r.id].qualifies) for r in regs] == [
        (5, True), (4, True), (3, False), (0, False),
    ]
    user = make_user(Role.ORGANISER)
    certificates.set_share(ev.id, user.id, 0.6)
    db.session.expire_all()
    assert certificates.standing(db.session.get(Registration, regs[2].id)).qualifies
    certificates.set_share(ev.id, user.id, None)
    db.session.expire_all()
    assert not certificates.standing(db.session.get(Registration, regs[0].id)).qualifies
    entries = db.session.scalars(
        sa.select(AuditEntry.details).where(AuditEntry.action == "event.certificate_share").order_by(AuditEntry.id)
    ).all()
    assert entries == [{"from": 0.8, "to": 0.6}, {"from": 0.6, "to": None}]


def test_before_the_end_or_without_a_seat_nobody_qualifies(app):
    org = f.organisation()
    ev = f.event(capacity=1, days_ahead=2, sessions=1)
    seated = f.sign_up(ev.id, org.id, "s").registration
    waiting = f.sign_up(ev.id, org.id, "w").registration
    assert not certificates.standing(seated).qualifies  # not over yet
    over(ev)
    db.session.expire_all()
    assert certificates.standing(db.session.get(Registration, seated.id)).qualifies  # no check-in: all seated
    assert not certificates.standing(db.session.get(Registration, waiting.id)).qualifies


def test_the_thank_you_mail_carries_the_pdf_only_for_those_who_qualify(app, smtp_sink):
    ev, regs = five_session_course(people=3)
    over(ev)
    attend(ev, regs[0], 5)
    attend(ev, regs[1], 2)
    invitations.send_due()
    db.session.rollback()
    thanks = {m.recipient: m for m in db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == notices.THANKS))}
    assert set(thanks) == {regs[0].email, regs[1].email}
    assert [a["content_type"] for a in thanks[regs[0].email].attachments] == ["application/pdf"]
    assert thanks[regs[1].email].attachments == []
    certificate = db.session.scalar(sa.select(Certificate).where(Certificate.registration_id == regs[0].id))
    assert certificate.sessions_attended == 5 and certificate.sessions_total == 5
    code = certificates.format_code(certificate.code)
    assert code in thanks[regs[0].email].body_text
    text = pdf_text(attachment_bytes(thanks[regs[0].email].attachments[0]))
    for expected in ("Deltagare 0", "Lågaffektivt bemötande", code):
        assert expected in text

    assert delivery.send_due().sent == 5  # the three confirmations and the two thank-you mails
    received = [m for m in smtp_sink.to(regs[0].email) if m["Message-ID"] == thanks[regs[0].email].message_id]
    assert len(received) == 1
    parts = [p for p in received[0].walk() if p.get_content_type() == "application/pdf"]
    assert len(parts) == 1
    assert parts[0].get_filename().endswith(".pdf")
    assert pdf_text(parts[0].get_payload(decode=True)).count("Deltagare 0") == 1
    to_second = [m for m in smtp_sink.to(regs[1].email) if m["Message-ID"] == thanks[regs[1].email].message_id]
    assert len(to_second) == 1
    assert not [p for p in to_second[0].walk() if p.get_content_type() == "application/pdf"]


def test_download_from_the_personal_link_keeps_one_code(app):
    ev, regs = five_session_course(people=2)
    client = app.test_client()
    early = client.get(f"/r/{regs[0].manage_token}?lang=en").get_data(as_text=True)
    assert "certificate.pdf" not in early
    assert client.get(f"/r/{regs[0].manage_token}/certificate.pdf").status_code == 303  # not yet
    over(ev)
    attend(ev, regs[0], 4)
    attend(ev, regs[1], 1)
    page = client.get(f"/r/{regs[0].manage_token}?lang=en").get_data(as_text=True)
    assert f"/r/{regs[0].manage_token}/certificate.pdf" in page
    first = client.get(f"/r/{regs[0].manage_token}/certificate.pdf?lang=en")
    assert first.status_code == 200 and first.mimetype == "application/pdf"
    assert "attachment" in first.headers["Content-Disposition"]
    assert "no-store" in first.headers["Cache-Control"]
    text = pdf_text(first.data)
    assert "Certificate of attendance" in text and "Deltagare 0" in text and "Attended 4 of 5 sessions" in text
    again = client.get(f"/r/{regs[0].manage_token}/certificate.pdf")
    assert again.status_code == 200
    db.session.rollback()
    codes = db.session.scalars(sa.select(Certificate.code)).all()
    assert len(codes) == 1 and certificates.format_code(codes[0]) in pdf_text(again.data)
    # The thank-you mail later uses the same certificate.
    invitations.send_due()
    assert db.session.scalars(sa.select(Certificate.code)).all() == codes
    refused = client.get(f"/r/{regs[1].manage_token}/certificate.pdf")
    assert refused.status_code == 303 and refused.headers["Location"].endswith(f"/r/{regs[1].manage_token}")
    assert "certificate.pdf" not in client.get(f"/r/{regs[1].manage_token}").get_data(as_text=True)


def test_verification_accepts_a_real_code_and_refuses_a_forged_one(db_app):
    ev, regs = five_session_course(people=1)
    over(ev)
    certificate = certificates.for_download(regs[0].manage_token)
    code = certificate.code
    client = db_app.test_client()

    for typed in (certificates.format_code(code), code.lower(), " ".join([code[:6], code[6:]])):
        found = client.get("/certificates/verify", query_string={"code": typed, "lang": "en"})
        assert found.status_code == 200
        html = found.get_data(as_text=True)
        assert "Valid certificate" in html and "Deltagare 0" in html and "Lågaffektivt bemötande" in html
        assert "5 of 5 sessions" in html

    forged = ("0" if code[0] != "0" else "1") + code[1:]  # one character changed
    for typed in (forged, "ZZZZ-ZZZZ-ZZZZ", "not a code", "'; DROP TABLE certificate; --", "x" * 80):
        refused = client.get("/certificates/verify", query_string={"code": typed, "lang": "en"})
        assert refused.status_code == 200
        html = refused.get_data(as_text=True)
        assert "Not a valid certificate" in html and "Deltagare 0" not in html
    assert certificates.verify(forged) is None
    assert certificates.verify(code).name == "Deltagare 0"
    blank = client.get("/certificates/verify?lang=en").get_data(as_text=True)
    assert "Valid certificate" not in blank and "Not a valid" not in blank and 'name="code"' in blank


def test_codes_are_random_and_typed_codes_are_forgiving():
    codes = {certificates.new_code() for _ in range(500)}
    assert len(codes) == 500
    assert all(len(c) == 12 and set(c) <= set(certificates.CODE_ALPHABET) for c in codes)
    assert certificates.normalise_code("abcd-efgh-jkmn") == "ABCDEFGHJKMN"
    assert certificates.normalise_code("O1IL-0000-0000") == "0111" + "0" * 8
    assert certificates.normalise_code("ABCD-EFGH-JKMU") is None  # U is not in the alphabet
    assert certificates.normalise_code("ABCD") is None


def test_names_in_any_script_reach_the_pdf(app):
    org = f.organisation()
    ev = f.event(capacity=1, days_ahead=2, sessions=1, title="Föreläsning")
    registration = f.sign_up(ev.id, org.id, "u", name="Łukasz Żółć-Ñúñez").registration
    over(ev)
    certificate = certificates.for_download(registration.manage_token)
    assert "Łukasz Żółć-Ñúñez" in pdf_text(certificates.pdf(certificate, "sv"))
    assert certificates.latin1("Łukasz Żółć – Åsa") == "Lukasz Zólc - Åsa"


def test_the_organiser_sets_the_share_on_the_page(app):
    ev, _regs = five_session_course(people=1)
    client = logged_in(app, make_user(Role.ORGANISER))
    assert client.post(f"/staff/events/{ev.id}/evaluation/certificate", data={"share": "0.75"}).status_code == 303
    db.session.expire_all()
    assert ev.certificate_share == 0.75
    assert client.post(f"/staff/events/{ev.id}/evaluation/certificate", data={"share": "0.01"}).status_code == 400
    assert client.post(f"/staff/events/{ev.id}/evaluation/certificate", data={"share": "none"}).status_code == 303
    db.session.expire_all()
    assert ev.certificate_share is None
    coordinator = logged_in(app, make_user(Role.COORDINATOR, organisation="Alingsås kommun"))
    assert coordinator.post(f"/staff/events/{ev.id}/evaluation/certificate", data={"share": "1.00"}).status_code == 403
