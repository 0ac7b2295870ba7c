"""The first mail of a sign-up from the event's stencil (registrations/first_mail.py) is
exactly what the templates render for that person: subject, text and HTML, in both
languages, for a seat, the waiting list and an interest, with names and needs that need
escaping, with and without the optional lines, and a new stencil after the event changes."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.core.database import write_transaction
from app.core.extensions import db
from app.mail import outbox
from app.models import Event, EventStatus, OutboxMessage, Registration
from app.registrations import first_mail, notices
from tests import factories as f

PEOPLE = [
    {"name": "Åsa Öberg", "work_team": "", "needs": ""},
    {"name": 'Bo "Bosse" <b>&amp; O\'Neil', "work_team": "Lag <1> & 2", "needs": "Vegan & <glutenfri>\nRullstol"},
    {"name": "Li Wei, Jr.; M.D.", "work_team": "Förskolan Solrosen", "needs": ""},
    {"name": "Z" * 120, "work_team": "", "needs": "Hörslinga"},
    # Braces: the stencil fills format strings, so neither a value nor the text may be read
    # as a slot.
    {"name": "Eva {0} {name}", "work_team": "{work_team}", "needs": "}{ {{x}}"},
]


def per_person(kind: str, registration: Registration, position: int | None) -> tuple[str, str, str]:
    method = notices.ICS_METHOD.get(kind)
    files = len(registration.event.sessions) if method else 0
    context = notices.registration_context(
        registration, calendar_method=method, position=position, calendar_files=files
    )
    return outbox.render(kind, registration.locale, context)


@pytest.mark.parametrize("locale", ["sv", "en"])
def test_the_stencil_makes_exactly_the_per_person_mail(app, locale):
    org = f.organisation('Kommun "A" & <B>')
    full = f.event(capacity=1, sessions=2, title="Kurs <i>&</i> {samtal} {{0}}")
    gauged = f.event(status=EventStatus.GAUGING, title="Föreläsning")
    f.sign_up(full.id, org.id, "first")
    made = []
    for n, person in enumerate(PEOPLE):
        for event in (full, gauged):
            made.append(f.sign_up(event.id, org.id, f"{locale}{n}", locale=locale, **person).registration)
    for registration in made:
        registration = db.session.get(Registration, registration.id)
        message = db.session.scalar(
            sa.select(OutboxMessage).where(OutboxMessage.registration_id == registration.id)
        )
        position = None
        if message.kind == "waitlisted":
            from app.registrations.reads import waitlist_position

            position = waitlist_position(registration)
        assert (message.subject, message.body_text, message.body_html) == per_person(
            message.kind, registration, position
        ), (message.kind, registration.name)
    from flask import current_app

    # Alike people share a stencil: three more plain sign-ups make no new one.
    cached = len(current_app.extensions["kvarn_first_mail"])
    for n in range(3):
        f.sign_up(gauged.id, org.id, f"{locale}more{n}", locale=locale)
    assert len(current_app.extensions["kvarn_first_mail"]) == cached


def test_a_change_to_the_event_makes_a_new_stencil(app):
    org = f.organisation()
    event = f.event(capacity=10, title="Gammal titel")
    f.sign_up(event.id, org.id, 1)

    def rename():
        db.session.get(Event, event.id).title = "Ny titel"

    write_transaction(rename)
    f.sign_up(event.id, org.id, 2)
    subjects = db.session.scalars(sa.select(OutboxMessage.subject).order_by(OutboxMessage.id)).all()
    assert "Gammal titel" in subjects[0] and "Ny titel" in subjects[1]


def test_team_members_and_unusual_text_are_rendered_per_person(app):
    org = f.organisation()
    event = f.event(capacity=10)
    one = f.sign_up(event.id, org.id, 1, needs="a\n\n\nb").registration
    team = f.team(event.id, org.id, ["lead", "b"])
    for registration in (one, team.placed[0][1]):
        assert not first_mail._fits(db.session.get(Registration, registration.id))
    message = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.registration_id == one.id))
    registration = db.session.get(Registration, one.id)
    assert (message.subject, message.body_text, message.body_html) == per_person("confirmation", registration, None)


@pytest.mark.parametrize("name", ["Åsa Öberg", 'Bo "Bosse", Jr.; M:D', "Z" * 120, "Anna^Berg\\n"])
def test_the_calendar_stencil_makes_exactly_icalendars_files(app, name):
    org = f.organisation()
    event = f.event(capacity=10, sessions=3, title="Kurs, med; tecken: och en lång titel " * 3)
    f.sign_up(event.id, org.id, "warm")  # the stencil exists now
    registration = f.sign_up(event.id, org.id, "x", name=name).registration
    registration = db.session.get(Registration, registration.id)
    message = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.registration_id == registration.id))
    def unstamped(files):  # DTSTAMP is the moment each was made; the rest must be identical
        return [re.sub(r"DTSTAMP:\d{8}T\d{6}Z", "DTSTAMP:-", a["data"]) for a in files]

    assert unstamped(message.attachments) == unstamped(notices.calendar_attachments(registration, "REQUEST"))
    assert len(message.attachments) == 3
    assert all(re.search(r"\r\nDTSTAMP:\d{8}T\d{6}Z\r\n", a["data"]) for a in message.attachments)


def test_a_stencil_that_cannot_be_built_falls_back_to_the_per_person_mail(app, monkeypatch):
    """A template that changed a placeholder must never cost a sign-up its mail."""

    def refuse(*args, **kwargs):
        raise ValueError("a template changes a personal value; render it per person")

    monkeypatch.setattr(first_mail, "Stencil", refuse)
    org = f.organisation()
    event = f.event(capacity=10)
    registration = f.sign_up(event.id, org.id, "p").registration
    registration = db.session.get(Registration, registration.id)
    message = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.registration_id == registration.id))
    assert (message.subject, message.body_text, message.body_html) == per_person("confirmation", registration, None)


def test_placeholders_never_start_alike(monkeypatch):
    from app.mail import stencil

    given = iter(["aaaa" + "0" * 20, "aaaa" + "1" * 20, "bbbb" + "0" * 20, "cccc" + "0" * 20])
    monkeypatch.setattr(stencil.secrets, "token_hex", lambda n: next(given))
    tokens = stencil._placeholders(["name", "email"])
    assert len({t[: len("kvarnstencil") + 4] for t in tokens.values()}) == 2
