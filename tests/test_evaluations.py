"""Evaluations after the last session: the thank-you mail exactly once per attendee and one
reminder, a link answers once, nothing joins an answer to a person, and the summaries
(averages, distributions, free texts; per organisation only in groups of at least
EVALUATION_MIN_GROUP, once answering has closed)."""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
from datetime import timedelta

import openpyxl
import pytest
import sqlalchemy as sa

from app.cli import evaluations_send_due_command
from app.core import clock
from app.core.errors import NotFound, Refused
from app.core.extensions import db
from app.evaluations import answers, certificates, invitations, notices, questions, summary
from app.models import (
    AuditEntry,
    Evaluation,
    EvaluationAnswer,
    EvaluationInvitation,
    EventStatus,
    OutboxMessage,
    Registration,
    RegistrationStatus,
    Role,
)
from app.registrations import seats
from tests import factories as f
from tests.staff_clients import logged_in
from tests.staff_helpers import make_user

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


# --- helpers -------------------------------------------------------------------------------


def course(sessions: int = 2, capacity: int = 5, people: int = 6, org=None, **fields):
    """A course two days ahead with ``people`` signed up (the last ones wait)."""
    org = org or f.organisation()
    ev = f.event(capacity=capacity, days_ahead=2, sessions=sessions, **fields)
    regs = [f.sign_up(ev.id, org.id, f"{ev.id}-{n}").registration for n in range(people)]
    return ev, org, regs


def at(moment) -> None:
    """Set the clock to ``moment``."""
    clock.travel(None)
    clock.travel(moment - clock.now())


def later(delta: timedelta) -> None:
    at(clock.now() + delta)


def after_the_end(ev, extra: timedelta = 3 * HOUR) -> None:
    """Move the clock to ``extra`` after the event's last session ended."""
    at(max(s.ends_at for s in ev.sessions) + extra)


def check_in(registration_id: int, session_id: int) -> None:
    seats.set_attendance(registration_id, True, None, session_id)


def mails(kind: str | None = None) -> list[OutboxMessage]:
    db.session.rollback()
    query = sa.select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return list(db.session.scalars(query))


def recipients(kind: str) -> list[str]:
    return sorted(m.recipient for m in mails(kind))


def invitation_of(registration_id: int) -> EvaluationInvitation:
    db.session.rollback()
    return db.session.scalar(
        sa.select(EvaluationInvitation).where(EvaluationInvitation.registration_id == registration_id)
    )


def answer(registration_id: int, ratings=None, texts=None, give=False) -> None:
    invitation = invitation_of(registration_id)
    evaluation = invitation.evaluation
    rating_ids = [q.id for q in evaluation.questions if q.kind == questions.RATING]
    text_ids = [q.id for q in evaluation.questions if q.kind == questions.TEXT]
    given = answers.Given(
        ratings=dict(zip(rating_ids, [4] if ratings is None else ratings, strict=False)),
        texts=dict(zip(text_ids, texts or [], strict=False)),
        give_organisation=give,
    )
    answers.answer(invitation.token, given)


# --- the thank-you mail and the reminder, exactly once ----------------------------------------


def test_thank_you_mail_once_per_attendee_and_one_reminder_over_repeated_cron_runs(db_app):
    ev, _org, regs = course(sessions=2, capacity=5, people=7)
    seats.cancel(regs[4].manage_token)  # a seat is freed: the first waiting person gets it
    seated = [r for r in regs if db.session.get(Registration, r.id).status == RegistrationStatus.CONFIRMED]
    assert len(seated) == 5
    first, second = ev.sessions[0].id, ev.sessions[1].id
    after_the_end(ev)
    check_in(seated[0].id, first)
    check_in(seated[1].id, first)
    check_in(seated[1].id, second)
    check_in(seated[2].id, second)
    attended = sorted(r.email for r in seated[:3])  # seated[3], seated[4] never came

    for _ in range(3):  # cron every few minutes
        invitations.send_due()
    assert recipients(notices.THANKS) == attended
    assert recipients(notices.REMINDER) == []
    assert {m.dedupe_key for m in mails(notices.THANKS)} == {
        notices.thanks_key(r.id) for r in seated[:3]
    }

    later(2 * DAY)
    invitations.send_due()
    assert recipients(notices.REMINDER) == []  # not yet: the reminder waits four days

    answer(seated[0].id, [5, 4])
    later(3 * DAY)
    for _ in range(3):
        invitations.send_due()
    assert recipients(notices.REMINDER) == sorted(r.email for r in seated[1:3])
    later(5 * DAY)
    invitations.send_due()
    assert recipients(notices.THANKS) == attended
    assert recipients(notices.REMINDER) == sorted(r.email for r in seated[1:3])

    entries = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "evaluation.sent").order_by(AuditEntry.id)
    ).all()
    assert [(e.user_id, e.details["thanked"], e.details["reminded"]) for e in entries] == [
        (None, 3, 0),
        (None, 0, 2),
    ]


def test_without_any_check_in_everyone_with_a_seat_is_thanked(db_app):
    ev, _org, regs = course(sessions=3, capacity=3, people=5)
    after_the_end(ev)
    invitations.send_due()
    assert recipients(notices.THANKS) == sorted(r.email for r in regs[:3])  # not the two waiting


def test_two_runs_at_once_thank_each_person_once(db_app):
    ev, _org, regs = course(sessions=1, capacity=4, people=4)
    after_the_end(ev)
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run():
        try:
            with db_app.app_context():
                barrier.wait()
                invitations.send_due()
                db.session.remove()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert recipients(notices.THANKS) == sorted(r.email for r in regs)


def test_not_too_soon_not_for_old_or_cancelled_events(app):
    ev, _org, regs = course(sessions=1, capacity=2, people=2)
    cancelled, _o, _r = course(sessions=1, capacity=2, people=2)
    seats.cancel_event(cancelled.id, None)
    after_the_end(ev, extra=HOUR)  # the setting waits two hours for the last check-ins
    assert invitations.send_due().thanked == 0
    after_the_end(ev, extra=app.config["EVALUATION_SEND_WITHIN_DAYS"] * DAY + HOUR)
    assert invitations.send_due().thanked == 0  # ended before anyone could thank: never
    assert mails(notices.THANKS) == []
    assert questions.is_editable(questions.of_event(ev.id))  # and its questions stay editable


def test_someone_checked_in_late_is_thanked_while_answering_is_open(app):
    ev, _org, regs = course(sessions=1, capacity=3, people=3)
    after_the_end(ev)
    check_in(regs[0].id, ev.sessions[0].id)
    invitations.send_due()
    assert recipients(notices.THANKS) == [regs[0].email]
    later(2 * DAY)
    check_in(regs[1].id, ev.sessions[0].id)  # the organiser completes the list later
    invitations.send_due()
    assert recipients(notices.THANKS) == sorted([regs[0].email, regs[1].email])


def test_a_turned_off_evaluation_sends_no_link_and_no_reminder(app):
    ev, _org, regs = course(sessions=1, capacity=2, people=2)
    user = make_user(Role.ORGANISER)
    certificates.set_share(ev.id, user.id, None)  # and no certificates either
    questions.save(ev.id, user.id, questions.default_questions("sv"), enabled=False)
    after_the_end(ev)
    invitations.send_due()
    later(6 * DAY)
    invitations.send_due()
    assert mails(notices.THANKS) == [] and mails(notices.REMINDER) == []


def test_the_cli_command_runs_the_same_rule(app):
    ev, _org, regs = course(sessions=1, capacity=2, people=2)
    after_the_end(ev)
    runner = app.test_cli_runner()
    result = runner.invoke(evaluations_send_due_command)
    assert result.exit_code == 0, result.output
    assert "queued 2 thank-you mail(s)" in result.output
    again = runner.invoke(evaluations_send_due_command)
    assert "queued 0 thank-you mail(s)" in again.output
    assert recipients(notices.THANKS) == sorted(r.email for r in regs)


# --- a link answers once ----------------------------------------------------------------------


def sent_course(people: int = 4, sessions: int = 1, **fields):
    ev, org, regs = course(sessions=sessions, capacity=people, people=people, **fields)
    after_the_end(ev)
    invitations.send_due()
    return ev, org, regs


def test_a_link_answers_once(db_app):
    ev, _org, regs = sent_course(people=2)
    answer(regs[0].id, [5, 4, 3, 2, 1], ["Bra kurs"])
    with pytest.raises(Refused) as again:
        answer(regs[0].id, [1])
    assert again.value.code == answers.ALREADY
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(EvaluationAnswer.id))) == 1
    assert invitation_of(regs[0].id).used is True
    assert invitation_of(regs[1].id).used is False
    with pytest.raises(NotFound):
        answers.answer("not-a-token", answers.Given({}, {}))


def test_two_answers_at_once_with_one_link_store_one(db_app):
    ev, _org, regs = sent_course(people=1)
    invitation = invitation_of(regs[0].id)
    token = invitation.token
    rating = next(q.id for q in invitation.evaluation.questions if q.kind == questions.RATING)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def send():
        with db_app.app_context():
            barrier.wait()
            try:
                answers.answer(token, answers.Given({rating: 3}, {}))
                outcomes.append("stored")
            except Refused as refusal:
                outcomes.append(refusal.code)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == [answers.ALREADY, "stored"]
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(EvaluationAnswer.id))) == 1


def test_answers_are_refused_once_answering_has_closed_and_nothing_empty_is_stored(app):
    ev, _org, regs = sent_course(people=2)
    with pytest.raises(Refused):
        answer(regs[0].id, [], [])  # nothing answered
    later((app.config["EVALUATION_ANSWER_DAYS"] + 1) * DAY)
    with pytest.raises(Refused) as closed:
        answer(regs[1].id, [4])
    assert closed.value.code == answers.CLOSED
    assert db.session.scalar(sa.select(sa.func.count(EvaluationAnswer.id))) == 0


def test_the_answer_page_answers_once(app):
    ev, _org, regs = sent_course(people=1)
    invitation = invitation_of(regs[0].id)
    url = f"/evaluations/{invitation.token}?lang=en"
    client = app.test_client()
    page = client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    rating_questions = [q for q in invitation.evaluation.questions if q.kind == questions.RATING]
    text_questions = [q for q in invitation.evaluation.questions if q.kind == questions.TEXT]
    # One fieldset with a legend per rating, radios 1-5 with labels, a textarea per text.
    assert html.count('<fieldset class="field choices rating') == len(rating_questions)
    assert html.count("<legend") >= len(rating_questions)
    assert html.count('type="radio"') == 6 * len(rating_questions)
    assert html.count("<textarea") == len(text_questions)
    assert 'name="give_organisation"' in html
    assert "no-store" in page.headers["Cache-Control"]

    data = {f"q{q.id}": "4" for q in rating_questions}
    data[f"q{rating_questions[0].id}"] = "9"  # not on the scale
    refused = client.post(url, data=data)
    assert refused.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(EvaluationAnswer.id))) == 0

    data[f"q{rating_questions[0].id}"] = "5"
    data[f"q{text_questions[0].id}"] = "Mycket bra"
    sent = client.post(url, data=data)
    assert sent.status_code == 303
    done = client.get(url)
    assert done.status_code == 200
    assert "already been answered" in done.get_data(as_text=True)
    again = client.post(url, data=data)
    assert again.status_code == 409
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(EvaluationAnswer.id))) == 1
    assert client.get("/evaluations/not-a-real-token").status_code == 404


# --- nothing joins an answer to a person -------------------------------------------------------


def _hashable(value):
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value


def _snapshot() -> dict[str, set[tuple]]:
    """Every row of every table."""
    db.session.rollback()
    return {
        table.name: {tuple(_hashable(v) for v in row) for row in db.session.execute(sa.select(table))}
        for table in db.metadata.sorted_tables
    }


def test_the_answer_tables_have_nothing_that_joins_to_a_person(db_app):
    inspector = sa.inspect(db.engine)
    answer_columns = {c["name"]: c for c in inspector.get_columns("evaluation_answer")}
    item_columns = {c["name"]: c for c in inspector.get_columns("evaluation_answer_item")}
    assert set(answer_columns) == {"id", "evaluation_id", "organisation_id"}
    assert set(item_columns) == {"answer_id", "question_id", "rating", "text"}
    for columns in (answer_columns, item_columns):
        for column in columns.values():
            assert not isinstance(column["type"], sa.DateTime | sa.Date), column
    referred = {
        fk["referred_table"]
        for name in ("evaluation_answer", "evaluation_answer_item")
        for fk in inspector.get_foreign_keys(name)
    }
    assert referred == {"evaluation", "organisation", "evaluation_answer", "evaluation_question"}
    # The invitation records only that it was used, never when.
    invitation_columns = {c["name"] for c in inspector.get_columns("evaluation_invitation")}
    assert invitation_columns == {
        "id", "evaluation_id", "registration_id", "token", "used", "invited_at", "reminded_at",
    }
    # Nothing anywhere points at an answer, and registrations never point into evaluations.
    for table in inspector.get_table_names():
        for fk in inspector.get_foreign_keys(table):
            if fk["referred_table"] == "evaluation_answer":
                assert table == "evaluation_answer_item"


def test_answering_changes_nothing_but_the_answer_and_the_used_mark(db_app, caplog):
    ev, org, regs = sent_course(people=3)
    before = _snapshot()
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    answer(regs[1].id, [4, 5, 3, 2, 1], ["Lärorikt"], give=True)
    after = _snapshot()
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"evaluation_invitation", "evaluation_answer", "evaluation_answer_item"}
    assert after["audit_entry"] == before["audit_entry"]
    assert after["outbox_message"] == before["outbox_message"]
    # The invitation: the same row, with only "used" turned on.
    removed = before["evaluation_invitation"] - after["evaluation_invitation"]
    added = after["evaluation_invitation"] - before["evaluation_invitation"]
    assert len(removed) == len(added) == 1
    differing = [i for i, (old, new) in enumerate(zip(*removed, *added, strict=True)) if old != new]
    used_index = [c.name for c in EvaluationInvitation.__table__.columns].index("used")
    assert differing == [used_index]
    # The answer: a random key, the evaluation and (with consent) the organisation only.
    (stored,) = after["evaluation_answer"] - before["evaluation_answer"]
    assert set(stored[1:]) == {questions.of_event(ev.id).id, org.id}
    assert len(stored[0]) == 32 and stored[0] != str(regs[1].id)
    token = invitation_of(regs[1].id).token
    for record in caplog.records:
        message = record.getMessage()
        assert token not in message and stored[0] not in message, message


def test_without_consent_the_answer_has_no_organisation_and_ids_are_not_in_order(app):
    ev, _org, regs = sent_course(people=4)
    for registration in regs:
        answer(registration.id, [3])
    stored = db.session.scalars(sa.select(EvaluationAnswer)).all()
    assert {a.organisation_id for a in stored} == {None}
    ids = [a.id for a in stored]
    assert len(set(ids)) == 4 and all(len(i) == 32 for i in ids)


# --- questions ------------------------------------------------------------------------------


def test_questions_can_change_until_the_invitations_go_out(app):
    ev, _org, regs = course(sessions=1, capacity=2, people=2)
    user = make_user(Role.ORGANISER)
    own = [questions.Question("rating", "Hur var fikat?"), questions.Question("text", "  Övrigt?  ")]
    questions.save(ev.id, user.id, own, enabled=True)
    assert [(q.kind, q.text) for q in questions.of_event(ev.id).questions] == [
        ("rating", "Hur var fikat?"),
        ("text", "Övrigt?"),
    ]
    with pytest.raises(Refused):
        questions.save(ev.id, user.id, [questions.Question("rating", " ")], enabled=True)
    with pytest.raises(Refused):
        questions.save(ev.id, user.id, [questions.Question("essay", "Skriv")], enabled=True)
    after_the_end(ev)
    invitations.send_due()
    with pytest.raises(Refused):
        questions.save(ev.id, user.id, own[:1], enabled=True)
    with pytest.raises(Refused):
        questions.reset(ev.id, user.id)
    assert len(questions.of_event(ev.id).questions) == 2
    actions = db.session.scalars(
        sa.select(AuditEntry.action).where(AuditEntry.action == "evaluation.questions")
    ).all()
    assert actions == ["evaluation.questions"]


def test_the_organiser_edits_the_questions_on_the_page(app):
    ev, _org, regs = course(sessions=1, capacity=2, people=2)
    organiser = make_user(Role.ORGANISER)
    client = logged_in(app, organiser)
    client.get("/lang/en")
    page = client.get(f"/staff/events/{ev.id}/evaluation")
    assert page.status_code == 200
    default = questions.default_questions("sv")
    data = {"enabled": "y"}
    for index, question in enumerate(default):
        data[f"questions-{index}-kind"] = question.kind
        data[f"questions-{index}-text"] = question.text
    data["questions-1-remove"] = "y"
    added = client.post(f"/staff/events/{ev.id}/evaluation/questions", data={**data, "add_question": "1"})
    assert added.status_code == 200
    assert f'name="questions-{len(default)}-text"' in added.get_data(as_text=True)
    data[f"questions-{len(default)}-kind"] = "text"
    data[f"questions-{len(default)}-text"] = "Något mer?"
    saved = client.post(f"/staff/events/{ev.id}/evaluation/questions", data=data)
    assert saved.status_code == 303
    texts = [q.text for q in questions.of_event(ev.id).questions]
    assert len(texts) == len(default) and default[1].text not in texts and texts[-1] == "Något mer?"

    after_the_end(ev)
    invitations.send_due()
    refused = client.post(f"/staff/events/{ev.id}/evaluation/questions", data=data)
    assert refused.status_code == 400
    assert "can no longer change" in refused.get_data(as_text=True)
    fixed = client.get(f"/staff/events/{ev.id}/evaluation").get_data(as_text=True)
    assert 'name="questions-0-text"' not in fixed and "Något mer?" in fixed


# --- the summary ------------------------------------------------------------------------------


def _closed(app, ev) -> None:
    evaluation = questions.of_event(ev.id)
    later((evaluation.sent_at + app.config["EVALUATION_ANSWER_DAYS"] * DAY - clock.now()) + HOUR)


def test_summary_averages_distributions_and_free_texts(app):
    ev, _org, regs = sent_course(people=5)
    for registration, first, text in zip(regs, [5, 4, 4, 2, None], ["Ö sist", "Bra", "", "Alltför kort", "bäst"], strict=True):
        answer(registration.id, [first, 3] if first else [None, 1], [text] if text else [])
    found = summary.for_organiser(ev)
    assert found.answers == 5 and found.withheld is None
    first, second = found.figures.ratings[:2]
    assert first.answers == 4 and first.average == pytest.approx(15 / 4)
    assert first.distribution == {1: 0, 2: 1, 3: 0, 4: 2, 5: 1}
    assert second.answers == 5 and second.average == pytest.approx(13 / 5)
    assert found.figures.ratings[2].answers == 0 and found.figures.ratings[2].average is None
    # Free texts in alphabetical order, not in the order they came.
    assert found.figures.texts[0].answers == ["Alltför kort", "Bra", "bäst", "Ö sist"]
    assert found.figures.texts[1].answers == []
    assert found.groups == [] and found.groups_withheld  # "shown when answering has closed"


def test_a_rating_few_answered_shows_only_its_count(app):
    ev, _org, regs = sent_course(people=4)
    for registration in regs[:3]:
        answer(registration.id, [4, 5])
    answer(regs[3].id, [4, 5, 2])  # the only one who rated the third question
    third = summary.for_organiser(ev).figures.ratings[2]
    assert third.hidden and third.answers == 1 and third.average is None
    assert set(third.distribution.values()) == {0}


def test_no_figures_below_the_minimum_group(app):
    ev, _org, regs = sent_course(people=3)
    answer(regs[0].id, [5])
    answer(regs[1].id, [1])
    found = summary.for_organiser(ev)
    assert found.figures is None and found.answers == 2 and "3" in found.withheld
    answer(regs[2].id, [3])
    assert summary.for_organiser(ev).figures.ratings[0].average == pytest.approx(3)


def test_the_rest_is_never_smaller_than_the_minimum_group():
    # A (5) and C (3) shown, rest: B (1) + not given (2) = 3.
    assert sorted(summary.shown_organisations({1: 5, 2: 1, 3: 3, None: 2}, 3)) == [1, 3]
    # Rest of 2 would be told apart from the total: C, the smallest, joins it.
    assert summary.shown_organisations({1: 5, 2: 1, 3: 3, None: 1}, 3) == [1]
    # Nothing left to show without giving away the rest.
    assert summary.shown_organisations({1: 3, 2: 1}, 3) == []
    assert summary.shown_organisations({1: 3, 2: 4}, 3) == [1, 2]


def per_organisation_world():
    """Answers: Alingsås 3 (with consent), Lerum 1 (with consent), Partille 3, and 2 without."""
    alingsas, lerum, partille = f.organisation("Alingsås kommun"), f.organisation("Lerums kommun"), f.organisation("Partille kommun")
    ev = f.event(capacity=9, days_ahead=2, sessions=1)
    plan = [(alingsas, True, 5)] * 3 + [(lerum, True, 1)] + [(partille, True, 2)] * 3 + [(alingsas, False, 4), (lerum, False, 4)]
    regs = [
        f.sign_up(ev.id, org.id, f"po-{n}").registration for n, (org, _give, _rating) in enumerate(plan)
    ]
    after_the_end(ev)
    invitations.send_due()
    for registration, (_org, give, rating) in zip(regs, plan, strict=True):
        answer(registration.id, [rating], [f"Text {registration.id}"], give=give)
    return ev, alingsas, lerum, partille


def test_coordinators_see_their_own_organisation_only_in_groups_after_closing(app):
    ev, alingsas, lerum, partille = per_organisation_world()
    early = summary.for_coordinator(ev, alingsas.id)
    assert early.figures is None and early.withheld  # each new answer would show
    _closed(app, ev)
    own = summary.for_coordinator(ev, alingsas.id)
    assert own.figures.answers == 3
    assert own.figures.ratings[0].average == pytest.approx(5)
    assert own.figures.ratings[0].distribution[5] == 3
    assert len(own.figures.texts[0].answers) == 3
    small = summary.for_coordinator(ev, lerum.id)
    assert small.figures is None and small.answers == 1 and "3" in small.withheld

    organiser = summary.for_organiser(ev)
    assert organiser.figures.answers == 9
    rows = [(g.name, g.answers, g.averages[0]) for g in organiser.groups]
    assert rows[:2] == [("Alingsås kommun", 3, 5.0), ("Partille kommun", 3, 2.0)]
    assert rows[2][1:] == (3, pytest.approx(3.0)) and organiser.groups[2].other


def test_the_summary_pages_and_exports_for_each_role(app):
    ev, alingsas, lerum, _partille = per_organisation_world()
    organiser = logged_in(app, make_user(Role.ORGANISER))
    coordinator_a = logged_in(app, make_user(Role.COORDINATOR, organisation=alingsas))
    coordinator_b = logged_in(app, make_user(Role.COORDINATOR, organisation=lerum))
    for client in (organiser, coordinator_a, coordinator_b):
        client.get("/lang/en")
    url = f"/staff/events/{ev.id}/evaluation/summary"
    texts = sorted(t.text for t in db.session.scalars(sa.select(answers.EvaluationAnswerItem)) if t.text)

    page = organiser.get(url).get_data(as_text=True)
    assert "Average 3.3 of 5, from 9 answers." in page and all(t in page for t in texts)
    early = coordinator_a.get(url).get_data(as_text=True)
    assert "Text " not in early and "once answering has closed" in early
    assert coordinator_a.get(f"/staff/events/{ev.id}/evaluation.csv").status_code == 303  # nothing yet

    _closed(app, ev)
    own = coordinator_a.get(url).get_data(as_text=True)
    assert "Average 5.0 of 5, from 3 answers." in own
    assert sum(t in own for t in texts) == 3
    small = coordinator_b.get(url).get_data(as_text=True)
    assert "Text " not in small and ("Fewer than 3" in small or "Färre än 3" in small)

    exported = coordinator_a.get(f"/staff/events/{ev.id}/evaluation.csv")
    assert exported.status_code == 200 and exported.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig")), delimiter=";"))
    assert ["Answers", "3"] in rows and sum(1 for row in rows if row and row[-1].startswith("Text ")) == 3
    workbook = openpyxl.load_workbook(io.BytesIO(organiser.get(f"/staff/events/{ev.id}/evaluation.xlsx").data))
    assert [s.title for s in workbook.worksheets] == ["Summary", "Free text", "Per organisation"]
    per_org = [row for row in workbook["Per organisation"].iter_rows(values_only=True)]
    assert per_org[1][:2] == ("Alingsås kommun", 3)
    exports = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "evaluation.export").order_by(AuditEntry.id)
    ).all()
    assert [(e.details["format"], e.details["scope"], e.details["answers"]) for e in exports] == [
        ("csv", "organisation", 3),
        ("xlsx", "all", 9),
    ]


def test_a_draft_is_not_for_coordinators(app):
    draft = f.event(status=EventStatus.DRAFT)
    coordinator = logged_in(app, make_user(Role.COORDINATOR, organisation="Alingsås kommun"))
    assert coordinator.get(f"/staff/events/{draft.id}/evaluation/summary").status_code == 404
    assert coordinator.get(f"/staff/events/{draft.id}/evaluation").status_code == 403


def test_an_evaluation_row_is_made_with_the_default_questions_in_the_events_language(app):
    ev, _org, regs = course(sessions=1, capacity=1, people=1, language="en")
    after_the_end(ev)
    invitations.send_due()
    evaluation = db.session.scalar(sa.select(Evaluation).where(Evaluation.event_id == ev.id))
    assert [q.text for q in evaluation.questions] == [q.text for q in questions.default_questions("en")]
    assert evaluation.questions[0].text == "Overall, how satisfied are you with the event?"
