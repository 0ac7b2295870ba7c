"""Retention: the archive record first, then the event's personal data goes (``privacy.purge``).

What is anonymised (and what stays: every figure), that the record is written before anything
is purged and a failed record purges nothing, that a second run changes nothing, that the
exports and the audit log hold nothing personal afterwards, and the archive files themselves
(CSV as the exports write them, PDF/A-1b as far as it can be checked without veraPDF).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from datetime import timedelta
from pathlib import Path

import openpyxl
import pypdf
import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from app.core import clock
from app.core.database import write_transaction
from app.core.extensions import db
from app.mail import delivery
from app.models import (
    AuditEntry,
    Evaluation,
    EvaluationAnswer,
    EvaluationAnswerItem,
    EvaluationQuestion,
    Event,
    EventStatus,
    OutboxMessage,
    OutboxStatus,
    Registration,
    Role,
    SessionAttendance,
    Subscription,
    SubscriptionFrequency,
    Team,
)
from app.privacy import archive, forgetting, purge
from app.registrations import seats
from app.registrations.invariants import rule_violations
from app.subscriptions import subscribing
from tests import factories as f
from tests.staff_clients import logged_in
from tests.staff_helpers import make_user

#: Everything personal the held event's people gave: none of it may remain after the purge.
PEOPLE = {
    "seated_a": ("Agnes Arkivsdotter", "agnes.arkiv@alingsas.example"),
    "seated_b": ("Bror Bevarsson", "bror.bevar@lerum.example"),
    "seated_c": ("Cilla Cederlund", "cilla.ceder@alingsas.example"),
    "waiting": ("Dan Dröjsmål", "dan.drojs@lerum.example"),
    "cancelled": ("Eva Ersätt", "eva.ersatt@alingsas.example"),
}
NEEDS = "Glutenfri kost, rullstolsplats"
WORK_TEAM = "Hemtjänst Norra"


@pytest.fixture
def app_config(tmp_path, smtp_sink):
    return {**smtp_sink.config(), "ARCHIVE_FOLDER": str(tmp_path / "archive")}


def archive_folder(app) -> Path:
    return Path(app.config["ARCHIVE_FOLDER"])


def held_event():
    """A two-session course that took place: three seats taken (two checked in), one
    waiting, one cancelled, a team of two waiting, mail sent, one mail failed and sent
    again by staff, evaluation answers; and a subscription of one of the people."""
    org_a, org_b = f.organisation("Alingsås kommun"), f.organisation("Lerums kommun")
    orgs = {"a": org_a, "b": org_b}
    event = f.event(capacity=3, sessions=2, days_ahead=5, title="Arkivkurs")
    made = {}
    for key, (name, email) in PEOPLE.items():
        org = orgs["b" if "lerum" in email else "a"]
        made[key] = f.sign_up(
            event.id, org.id, name=name, email=email, needs=NEEDS, work_team=WORK_TEAM,
            submission_key=f"form-{key}",
        ).registration
    seats.cancel(made["cancelled"].manage_token)  # was waiting: nobody moves up
    team = f.team(event.id, org_b.id, ["lag.arkiv.ett", "lag.arkiv.tva"]).team
    admin = make_user(Role.ADMIN)

    def failed_message() -> int:
        message = OutboxMessage(
            dedupe_key="purge-failed",
            kind="reminder",
            recipient=PEOPLE["seated_b"][1],
            sender="Kvarn <noreply@kvarn.test>",
            subject="Påminnelse: Arkivkurs",
            body_text=f"Hej {PEOPLE['seated_b'][0]}",
            body_html=f"<p>Hej {PEOPLE['seated_b'][0]}</p>",
            message_id="<purge@kvarn.test>",
            status=OutboxStatus.FAILED,
            last_error=f"550 <{PEOPLE['seated_b'][1]}> mailbox unavailable",
            event_id=event.id,
            registration_id=made["seated_b"].id,
        )
        db.session.add(message)
        db.session.flush()
        return message.id

    delivery.send_due()
    failed_id = write_transaction(failed_message)
    delivery.retry(failed_id, admin.id)  # an audit entry that names the address
    subscribing.subscribe(PEOPLE["seated_a"][1], subscribing.Choice(SubscriptionFrequency.WEEKLY), "sv")

    sessions = event.sessions
    clock.travel(timedelta(days=5, hours=1))  # the course is on
    seats.set_attendance(made["seated_a"].id, True, admin.id, session_id=sessions[0].id)
    seats.set_attendance(made["seated_b"].id, True, admin.id, session_id=sessions[0].id)
    seats.set_attendance(made["seated_b"].id, True, admin.id, session_id=sessions[1].id)

    def answers() -> None:
        evaluation = Evaluation(event_id=event.id, sent_at=clock.now())
        db.session.add(evaluation)
        db.session.flush()
        question = EvaluationQuestion(evaluation_id=evaluation.id, position=0, kind="rating", text="Hur var kursen?")
        db.session.add(question)
        db.session.flush()
        for rating, org in ((5, org_a), (4, None)):
            answer = EvaluationAnswer(evaluation_id=evaluation.id, organisation_id=org.id if org else None)
            db.session.add(answer)
            db.session.flush()
            db.session.add(EvaluationAnswerItem(answer_id=answer.id, question_id=question.id, rating=rating))

    write_transaction(answers)
    return event, made, team, admin


def after_retention(app, event_id: int, months: int | None = None) -> None:
    """Move the clock to just past the retention period after the event's end."""
    ends = db.session.get(Event, event_id).ends_at
    months = app.config["RETENTION_MONTHS"] if months is None else months
    clock.travel(None)
    target = ends + timedelta(days=31 * months + 1)
    clock.travel(target - clock.now())


def figures(event_id: int) -> dict:
    """Every figure the purge must keep, read straight from the tables."""
    db.session.rollback()
    by_org_status = sorted(
        (org, str(status), n)
        for org, status, n in db.session.execute(
            sa.select(Registration.organisation_id, Registration.status, sa.func.count())
            .where(Registration.event_id == event_id)
            .group_by(Registration.organisation_id, Registration.status)
        )
    )
    attendance = sorted(
        db.session.execute(
            sa.select(SessionAttendance.session_id, sa.func.count())
            .join(Registration, Registration.id == SessionAttendance.registration_id)
            .where(Registration.event_id == event_id)
            .group_by(SessionAttendance.session_id)
        ).all()
    )
    answers = sorted(
        db.session.execute(
            sa.select(EvaluationAnswer.id, EvaluationAnswer.organisation_id, EvaluationAnswerItem.rating)
            .join(EvaluationAnswerItem, EvaluationAnswerItem.answer_id == EvaluationAnswer.id)
        ).all()
    )
    teams = db.session.scalar(sa.select(sa.func.count(Team.id)).where(Team.event_id == event_id))
    checked_in = sorted(
        db.session.execute(
            sa.select(Registration.id, Registration.checked_in_at, Registration.team_id)
            .where(Registration.event_id == event_id)
        ).all()
    )
    return {
        "by_org_status": by_org_status,
        "attendance": attendance,
        "answers": answers,
        "teams": teams,
        "rows": checked_in,
    }


def personal_strings(made: dict, team) -> list[str]:
    strings = [NEEDS, WORK_TEAM]
    for name, email in PEOPLE.values():
        strings += [name, email]
    strings += ["lag.arkiv.ett@example.org", "lag.arkiv.tva@example.org"]
    strings += [r.manage_token for r in made.values()] + [team.manage_token]
    return strings


def dump(model, where=None) -> str:
    """Every column of every row (JSON and bytes included) as one text to search in."""
    query = sa.select(model.__table__)
    if where is not None:
        query = query.where(where)
    rows = db.session.execute(query).mappings().all()
    return "\n".join(
        repr({k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else v) for k, v in row.items()})
        for row in rows
    )


def mail_metadata() -> str:
    """Who each message went to and how it stands (not its contents, which age out alone)."""
    return repr(
        db.session.execute(
            sa.select(OutboxMessage.id, OutboxMessage.recipient, OutboxMessage.status, OutboxMessage.last_error)
            .order_by(OutboxMessage.id)
        ).all()
    )


def test_purge_archives_first_then_anonymises_exactly_the_personal_data(db_app, client):
    event, made, team, _admin = held_event()
    other = f.event(capacity=5, days_ahead=40, title="Kommande kurs")  # not due: untouched
    org = db.session.scalar(sa.select(Registration.organisation_id).where(Registration.id == made["seated_a"].id))
    f.sign_up(other.id, org, name="Fanny Framtid", email="fanny@alingsas.example", needs="Vegetariskt")
    before = figures(event.id)
    old_tokens = {key: r.manage_token for key, r in made.items()}
    old_team_token = team.manage_token
    secrets = personal_strings(made, team)
    after_retention(db_app, event.id)

    report = purge.run()

    assert [e.event_id for e in report.events] == [event.id]
    assert report.failures == []
    done = report.events[0]
    assert (done.registrations, done.teams) == (7, 1)
    db.session.rollback()
    # The archive record is on disk, with its checksums.
    folder = archive_folder(db_app)
    names = archive.file_names(event.id)
    assert sorted(p.name for p in folder.iterdir()) == sorted(names.values())
    sums = (folder / names["checksums"]).read_text().splitlines()
    assert sums == [
        f"{hashlib.sha256((folder / names[key]).read_bytes()).hexdigest()}  {names[key]}"
        for key in ("attendance", "figures", "pdf")
    ]
    attendance = (folder / names["attendance"]).read_bytes().decode("utf-8-sig")
    assert PEOPLE["seated_a"][0] in attendance and PEOPLE["waiting"][0] not in attendance

    # Registrations: nothing personal left, the figures intact.
    registrations = list(db.session.scalars(sa.select(Registration).where(Registration.event_id == event.id)))
    for r in registrations:
        assert r.name == "" and r.needs == "" and r.work_team == "" and r.submission_key is None
        assert r.email == f"registration-{r.id}@{seats.ERASED_DOMAIN}"
        assert r.active_email == (None if r.status.value == "cancelled" else r.email)
        assert r.manage_token not in old_tokens.values()
    for token in old_tokens.values():
        assert client.get(f"/r/{token}").status_code == 404  # the personal links are dead
    db.session.refresh(team)
    assert team.contact_name == "" and team.contact_email == f"team-{team.id}@{seats.ERASED_DOMAIN}"
    assert team.manage_token != old_team_token and team.submission_key is None
    assert client.get(f"/t/{old_team_token}").status_code == 404
    assert figures(event.id) == before
    assert rule_violations(event.id) == []
    assert db.session.get(Event, event.id).purged_at is not None

    # Mail: the unsent one (the failed mail sent again) is gone; sent ones keep metadata only.
    messages = list(db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.event_id == event.id)))
    assert messages and all(m.status == OutboxStatus.SENT for m in messages)
    for m in messages:
        assert (m.recipient, m.body_text, m.body_html, m.wire, m.attachments, m.last_error) == ("", "", "", None, [], None)
        assert m.subject and m.kind and m.sent_at is not None
    assert db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.dedupe_key == "purge-failed")) is None

    # Nothing personal of the event anywhere: its rows, its mail, the whole audit log.
    everywhere = "\n".join(
        [
            dump(Registration, Registration.event_id == event.id),
            dump(Team, Team.event_id == event.id),
            dump(OutboxMessage, OutboxMessage.event_id == event.id),
            dump(AuditEntry),
        ]
    )
    assert [s for s in secrets if s in everywhere] == []

    # The audit log says what happened: archive files with checksums, then the purge.
    entries = {
        e.action: e.details
        for e in db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action.in_(["event.archive", "event.purge"]))
        )
    }
    assert entries["event.archive"]["files"][names["pdf"]] == hashlib.sha256((folder / names["pdf"]).read_bytes()).hexdigest()
    assert entries["event.archive"]["files"][names["checksums"]] == hashlib.sha256((folder / names["checksums"]).read_bytes()).hexdigest()
    assert entries["event.purge"] == {
        "registrations": 7,
        "teams": 1,
        "messages": done.messages,
        "audit_entries": 1,
        "archive": names["pdf"],
        "sha256": entries["event.archive"]["files"][names["pdf"]],
    }
    retry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "outbox.retry"))
    assert retry.details == {"recipient": None, "kind": "reminder", "error": None}

    # Separate things stay: the subscription, and the event that is not due.
    assert db.session.scalar(sa.select(Subscription.email)) == PEOPLE["seated_a"][1]
    assert db.session.scalar(
        sa.select(Registration.name).where(Registration.event_id == other.id)
    ) == "Fanny Framtid"


def test_a_failed_archive_record_purges_nothing(app, tmp_path):
    event, made, team, _admin = held_event()
    before = dump(Registration) + dump(Team) + mail_metadata()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    app.config["ARCHIVE_FOLDER"] = str(blocker / "archive")
    after_retention(app, event.id)

    report = purge.run()

    assert report.events == [] and [e for e, _ in report.failures] == [event.id]
    db.session.rollback()
    assert dump(Registration) + dump(Team) + mail_metadata() == before
    assert db.session.get(Event, event.id).purged_at is None
    # (Old mail still lost its contents: that rule does not wait for any archive.)
    assert report.old_messages > 0
    assert db.session.scalar(
        sa.select(sa.func.count(AuditEntry.id)).where(AuditEntry.action.in_(["event.archive", "event.purge"]))
    ) == 0

    # The next run, with a folder that works, archives and purges.
    app.config["ARCHIVE_FOLDER"] = str(tmp_path / "archive")
    assert [e.event_id for e in purge.run().events] == [event.id]


def test_a_record_that_fails_halfway_leaves_no_file_and_purges_nothing(app, monkeypatch):
    event, made, _team, _admin = held_event()
    after_retention(app, event.id)
    real_replace = os.replace
    calls = []

    def failing_replace(source, target):
        calls.append(target)
        if len(calls) == 3:  # the attendance list and figures are in place, the PDF is not
            raise OSError(28, "No space left on device")
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", failing_replace)
    report = purge.run()
    monkeypatch.setattr(os, "replace", real_replace)

    assert [e for e, _ in report.failures] == [event.id]
    assert "No space left" in report.failures[0][1]
    folder = archive_folder(app)
    assert not [p for p in folder.iterdir() if p.name.endswith(".part")]  # no half files
    assert not (folder / archive.file_names(event.id)["checksums"]).exists()  # never complete
    db.session.rollback()
    assert db.session.get(Registration, made["seated_a"].id).name == PEOPLE["seated_a"][0]
    assert db.session.get(Event, event.id).purged_at is None


def test_a_second_run_changes_nothing_and_writes_no_second_record(app):
    event, _made, _team, _admin = held_event()
    after_retention(app, event.id)
    first = purge.run()
    assert [e.event_id for e in first.events] == [event.id]
    db.session.rollback()
    folder = archive_folder(app)
    files = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
    tables = [Registration, Team, OutboxMessage, AuditEntry, Event, SessionAttendance, EvaluationAnswer]
    before = [dump(model) for model in tables]

    clock.travel(clock._offset + timedelta(days=1))
    second = purge.run()

    assert (second.events, second.failures, second.old_messages) == ([], [], 0)
    db.session.rollback()
    assert [dump(model) for model in tables] == before
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()} == files


def test_only_events_past_the_retention_period_are_due(app):
    org = f.organisation()
    ended = f.event(days_ahead=1, title="Slut för länge sedan")
    recent = f.event(days_ahead=40, title="Slut nyss")
    draft = f.event(days_ahead=1, status=EventStatus.DRAFT, title="Utkast")
    f.sign_up(ended.id, org.id, 1)
    f.sign_up(recent.id, org.id, 2)
    clock.travel(timedelta(days=1))  # now "ended" has ended; "recent" ends 39 days later

    now = clock.now()
    assert purge.due_events(now + timedelta(days=365)) == []  # 12 months have not passed
    later = purge.months_before(now, -12) + timedelta(days=2)
    assert purge.due_events(later) == [ended.id]  # the draft never; the recent one not yet
    assert draft.id not in purge.due_events(later + timedelta(days=400))
    assert purge.months_before(clock.now().replace(month=3, day=31), 1).day in (28, 29)


def test_a_dry_run_says_what_would_go_and_writes_nothing(app):
    event, _made, _team, _admin = held_event()
    after_retention(app, event.id)
    tables = [Registration, Team, OutboxMessage, AuditEntry, Event]
    before = [dump(model) for model in tables]

    report = purge.run(dry_run=True)

    assert [(e.event_id, e.registrations, e.teams, e.written) for e in report.events] == [(event.id, 7, 1, None)]
    db.session.rollback()
    assert [dump(model) for model in tables] == before
    assert not archive_folder(app).exists()


def test_exports_hold_nothing_personal_after_a_purge(app):
    event, made, team, admin = held_event()
    after_retention(app, event.id)
    purge.run()
    db.session.rollback()
    staff = logged_in(app, admin)
    text = staff.get(f"/staff/events/{event.id}/registrations.csv?lang=en").get_data().decode("utf-8-sig")
    workbook = staff.get(f"/staff/events/{event.id}/registrations.xlsx?lang=en")
    book = openpyxl.load_workbook(io.BytesIO(workbook.data))
    cells = "\n".join(str(v) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for v in row)
    assert [s for s in personal_strings(made, team) if s in cells] == []
    assert text.count("\r\n") == 8  # the header and every registration are still counted
    assert [s for s in personal_strings(made, team) if s in text] == []
    assert "Alingsås kommun" in text  # organisations stay


def test_the_archive_files_are_what_an_archive_takes(app):
    event, made, _team, _admin = held_event()
    after_retention(app, event.id)
    app.config["BABEL_DEFAULT_LOCALE"] = "en"  # the record's language (new texts: not merged yet)
    purge.run()
    folder = archive_folder(app)
    names = archive.file_names(event.id)

    raw = (folder / names["attendance"]).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, semicolons, CRLF: Excel in Swedish
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0][:5] == ["Name", "Organisation", "Status", "Registered", "Checked in"]
    assert len(rows[0]) == 7  # a column per session
    by_name = {row[0]: row for row in rows[1:]}
    assert set(by_name) == {PEOPLE["seated_a"][0], PEOPLE["seated_b"][0], PEOPLE["seated_c"][0]}
    assert by_name[PEOPLE["seated_b"][0]][2] == "Attended" and by_name[PEOPLE["seated_b"][0]][5:] == ["yes", "yes"]
    assert by_name[PEOPLE["seated_a"][0]][5:] == ["yes", ""]
    assert by_name[PEOPLE["seated_c"][0]][2] == "Seat" and by_name[PEOPLE["seated_c"][0]][4] == ""
    assert NEEDS not in raw.decode("utf-8-sig") and "@" not in raw.decode("utf-8-sig")

    figures_rows = list(
        csv.reader(io.StringIO((folder / names["figures"]).read_bytes().decode("utf-8-sig"), newline=""), delimiter=";")
    )
    header = figures_rows[0]
    assert header[:9] == ["Organisation", "Seat", "Attended", "Did not attend", "Waiting list", "Interested", "Cancelled", "Total", "Checked in, session 1"]
    total = dict(zip(header, figures_rows[-1], strict=True))
    assert total["Organisation"] == "Total"
    assert (total["Seat"], total["Attended"], total["Waiting list"], total["Cancelled"], total["Total"]) == ("1", "2", "3", "1", "7")
    assert (total["Checked in, session 1"], total["Checked in, session 2"]) == ("2", "1")

    data = (folder / names["pdf"]).read_bytes()
    assert data.startswith(b"%PDF-1.4")
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert not reader.is_encrypted
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode("utf-8")
    assert "<pdfaid:part>1</pdfaid:part>" in xmp and "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    intent = root["/OutputIntents"][0].get_object()
    assert intent["/S"] == "/GTS_PDFA1" and intent["/DestOutputProfile"].get_object().get_data()
    assert len(reader.trailer["/ID"]) == 2
    fonts = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font["/DescendantFonts"][0].get_object()
            fonts.append(font["/BaseFont"])
            assert "/FontFile2" in descendant["/FontDescriptor"].get_object()  # embedded
    assert fonts and all("DejaVu" in name for name in fonts)
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Arkivkurs" in text and PEOPLE["seated_b"][0] in text and PEOPLE["waiting"][0] not in text


def test_old_sent_mail_loses_its_contents_but_not_its_metadata(app):
    org = f.organisation()
    event = f.event(days_ahead=200)
    f.sign_up(event.id, org.id, 1)
    f.sign_up(event.id, org.id, 2)
    delivery.send_due()
    first, second = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()

    def age(message_id: int, days: int) -> None:
        def work():
            db.session.get(OutboxMessage, message_id).sent_at = clock.now() - timedelta(days=days)

        write_transaction(work)

    age(first.id, 31)
    age(second.id, 29)
    report = purge.run()
    assert report.old_messages == 1
    db.session.rollback()
    first, second = db.session.get(OutboxMessage, first.id), db.session.get(OutboxMessage, second.id)
    assert (first.body_text, first.body_html, first.attachments, first.wire) == ("", "", [], None)
    assert first.recipient == "person1@example.org" and first.subject  # who and what stay
    assert second.body_text and second.attachments
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "outbox.purge"))
    assert entry.details == {"messages": 1, "older_than_days": 30}
    assert purge.run().old_messages == 0  # nothing more to do
    assert forgetting.clear_old_contents() == 0


def test_the_command_line(app, tmp_path):
    event, _made, _team, _admin = held_event()
    after_retention(app, event.id)
    runner = app.test_cli_runner()

    dry = runner.invoke(args=["privacy", "purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"Would purge event {event.id} \"Arkivkurs\": 7 registration(s), 1 team(s)" in dry.output

    blocker = tmp_path / "file"
    blocker.write_text("")
    app.config["ARCHIVE_FOLDER"] = str(blocker / "archive")
    failed = runner.invoke(args=["privacy", "purge"])
    assert failed.exit_code == 1
    assert f"Event {event.id} NOT purged" in failed.output

    app.config["ARCHIVE_FOLDER"] = str(tmp_path / "archive")
    done = runner.invoke(args=["privacy", "purge"])
    assert done.exit_code == 0, done.output
    assert f"Purged event {event.id}" in done.output and "archived kvarn-event-" in done.output
    again = runner.invoke(args=["privacy", "purge"])
    assert again.exit_code == 0 and "Purged 0 event(s)" in again.output


def test_audit_sentences_of_a_purge_read_well(app):
    from app.audit import labels

    event, _made, _team, _admin = held_event()
    after_retention(app, event.id)
    purge.run()
    db.session.rollback()
    for action in ("event.archive", "event.purge"):
        entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == action))
        sentence = labels.describe(action, entry.details)
        assert "kvarn-event-" in sentence and ":" in sentence, sentence
        assert json.dumps(entry.details) not in sentence  # a sentence, not raw JSON
    retry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "outbox.retry"))
    with force_locale("en"):
        assert "(erased)" in labels.describe("outbox.retry", retry.details)


def test_a_record_that_cannot_be_made_purges_nothing(app, tmp_path):
    event, made, _team, _admin = held_event()
    after_retention(app, event.id)
    app.config["ARCHIVE_FONT"] = str(tmp_path / "no-such-font.ttf")  # PDF/A needs its fonts

    report = purge.run()

    assert [e for e, _ in report.failures] == [event.id] and report.events == []
    db.session.rollback()
    assert db.session.get(Registration, made["seated_b"].id).name == PEOPLE["seated_b"][0]
    assert not archive_folder(app).exists() or not list(archive_folder(app).iterdir())
