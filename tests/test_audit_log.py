"""The audit log staff read and archive: every recorded action labelled (read from the
source), sentences instead of codes and JSON, objects by title with a link (one query per
kind of object), Stockholm times, filters by event, who did it, participant, action, kind
of object and dates; pages; and the archive CSV (BOM, ISO times with offset, one row per
entry, formula-safe, streamed, audited, same filters and access)."""

from __future__ import annotations

import ast
import csv
import io
import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

import app as app_package
from app.accounts import organisations
from app.audit import labels
from app.core import clock
from app.core.database import write_transaction
from app.core.extensions import db
from app.events import editing, publishing, schedule
from app.models import AuditEntry, EventKind, EventStatus, Role
from app.registrations import details as person_details
from app.registrations import seats
from app.reporting import audit_log
from tests import factories as f
from tests.staff_clients import logged_in
from tests.staff_helpers import make_user

APP_DIR = Path(app_package.__file__).resolve().parent


def entry(
    action: str,
    when: datetime,
    user_id: int | None = None,
    object_type: str = "event",
    object_id: int | None = 1,
    **details,
) -> int:
    def work():
        row = AuditEntry(
            action=action,
            created_at=when,
            user_id=user_id,
            object_type=object_type,
            object_id=object_id,
            details=details,
        )
        db.session.add(row)
        db.session.flush()
        return row.id

    return write_transaction(work)


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def shown(html: str) -> list[str]:
    """The action codes of the rows listed, in page order."""
    return re.findall(r'<tr id="entry-\d+" data-action="([^"]+)">', html)


def cells(html: str) -> list[list[str]]:
    """Each row's cells as text (tags dropped, spaces folded)."""
    rows = re.findall(r'<tr id="entry-\d+"[^>]*>(.*?)</tr>', html, re.S)
    return [
        [
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in rows
    ]


def english(client):
    client.get("/lang/en")
    return client


# --- every action code used in app/ is labelled ---------------------------------------------


@dataclass
class Found:
    codes: set[str]
    prefixes: set[str]
    problems: list[str]


class _Scanner:
    """Finds the action of every ``audit.entries.record(...)`` call in one module: string
    literals, both sides of ``a if c else b``, f-string prefixes, and names bound in the
    enclosing functions or passed in by calls of those functions in the same module."""

    def __init__(self, source: str, where: str) -> None:
        self.tree = ast.parse(source)
        self.where = where
        self.parents = {
            child: node for node in ast.walk(self.tree) for child in ast.iter_child_nodes(node)
        }
        self.modules, self.functions = self._aliases()
        self.found = Found(set(), set(), [])

    def _aliases(self) -> tuple[set[str], set[str]]:
        modules, functions = set(), set()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                for alias in node.names:
                    if module.split(".")[-1] == "audit" and alias.name == "entries":
                        modules.add(alias.asname or alias.name)
                    if module.endswith("audit.entries") and alias.name == "record":
                        functions.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.endswith("audit.entries") and alias.asname:
                        modules.add(alias.asname)
        return modules, functions

    def _is_record(self, call: ast.Call) -> bool:
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr == "record":
            return isinstance(func.value, ast.Name) and func.value.id in self.modules
        return isinstance(func, ast.Name) and func.id in self.functions

    def scan(self) -> Found:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call) and self._is_record(node):
                if len(node.args) >= 2:
                    action = node.args[1]
                else:
                    action = next((k.value for k in node.keywords if k.arg == "action"), None)
                if action is None:
                    self.found.problems.append(
                        f"{self.where}:{node.lineno}: record() without an action"
                    )
                else:
                    self._resolve(action, depth=0)
        return self.found

    def _functions_around(self, node: ast.AST):
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield node

    def _resolve(self, node: ast.AST, depth: int) -> None:
        if depth > 6:
            self.found.problems.append(
                f"{self.where}:{node.lineno}: the action is passed on too far to follow"
            )
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            self.found.codes.add(node.value)
        elif isinstance(node, ast.IfExp):
            self._resolve(node.body, depth + 1)
            self._resolve(node.orelse, depth + 1)
        elif isinstance(node, ast.JoinedStr):
            first = node.values[0] if node.values else None
            if isinstance(first, ast.Constant) and first.value:
                self.found.prefixes.add(first.value)
            else:
                self.found.problems.append(
                    f"{self.where}:{node.lineno}: an f-string action must start with its prefix"
                )
        elif isinstance(node, ast.Name) and self._resolve_name(node, depth):
            pass
        else:
            self.found.problems.append(
                f"{self.where}:{node.lineno}: cannot tell the action {ast.unparse(node)!r}; use a string literal"
            )

    def _resolve_name(self, name: ast.Name, depth: int) -> bool:
        for function in self._functions_around(name):
            bound = [
                assign.value
                for assign in ast.walk(function)
                if isinstance(assign, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == name.id for t in assign.targets)
            ]
            if bound:
                for value in bound:
                    self._resolve(value, depth + 1)
                return True
            parameters = [a.arg for a in function.args.posonlyargs + function.args.args]
            keyword_only = [a.arg for a in function.args.kwonlyargs]
            if name.id in parameters or name.id in keyword_only:
                return self._resolve_parameter(function, name.id, parameters, depth)
        for assign in self.tree.body:  # a module constant
            if isinstance(assign, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name.id for t in assign.targets
            ):
                self._resolve(assign.value, depth + 1)
                return True
        return False

    def _resolve_parameter(
        self, function, parameter: str, parameters: list[str], depth: int
    ) -> bool:
        index = parameters.index(parameter) if parameter in parameters else None
        calls = [
            call
            for call in ast.walk(self.tree)
            if isinstance(call, ast.Call)
            and (
                (isinstance(call.func, ast.Name) and call.func.id == function.name)
                or (isinstance(call.func, ast.Attribute) and call.func.attr == function.name)
            )
        ]
        given = []
        for call in calls:
            keyword = next((k.value for k in call.keywords if k.arg == parameter), None)
            if keyword is not None:
                given.append(keyword)
            elif index is not None and index < len(call.args):
                given.append(call.args[index])
        if not given:
            return False
        for value in given:
            self._resolve(value, depth + 1)
        return True


def recorded_actions(root: Path = APP_DIR) -> Found:
    found = Found(set(), set(), [])
    for path in sorted(root.rglob("*.py")):
        one = _Scanner(path.read_text(encoding="utf-8"), str(path.relative_to(root.parent))).scan()
        found.codes |= one.codes
        found.prefixes |= one.prefixes
        found.problems += one.problems
    return found


def unlabelled(found: Found) -> list[str]:
    missing = [
        f"{code}: no label in app/audit/labels.py"
        for code in sorted(found.codes - set(labels.ACTIONS))
    ]
    missing += [
        f"{prefix}…: no label in app/audit/labels.py for any code it makes"
        for prefix in sorted(found.prefixes)
        if not any(code.startswith(prefix) for code in labels.ACTIONS)
    ]
    return missing


def test_every_action_recorded_in_the_app_has_a_label_and_a_sentence():
    found = recorded_actions()
    assert not found.problems, "\n".join(found.problems)
    assert not unlabelled(found), "\n".join(unlabelled(found))
    # The scanner does find what it must: literals, a name passed in (publishing), both
    # sides of a conditional (organisations) and an f-string prefix (passwords).
    assert {
        "event.capacity",
        "event.publish",
        "event.close",
        "organisation.activate",
        "organisation.deactivate",
        "export",
    } <= found.codes
    assert "user.password_" in found.prefixes


def test_the_label_check_fails_for_an_unlabelled_or_unreadable_action():
    source = """
from ..audit import entries as audit
from ..audit.entries import record as write_down

def _helper(user_id, what):
    audit.record(user_id, what, None)

def first(user_id, flag):
    _helper(user_id, "event.no_such_thing")
    action = "event.capacity" if flag else "team.vanished"
    audit.record(user_id, action, None, {})
    write_down(user_id, f"widget.{flag}", None)
    audit.record(user_id, choose(), None)
"""
    found = _Scanner(source, "app/fake.py").scan()
    assert found.codes == {"event.no_such_thing", "event.capacity", "team.vanished"}
    assert found.prefixes == {"widget."}
    assert found.problems == [
        "app/fake.py:13: cannot tell the action 'choose()'; use a string literal"
    ]
    assert unlabelled(found) == [
        "event.no_such_thing: no label in app/audit/labels.py",
        "team.vanished: no label in app/audit/labels.py",
        "widget.…: no label in app/audit/labels.py for any code it makes",
    ]


@pytest.mark.parametrize("language", ["en", "sv"])
def test_every_declared_sentence_reads_its_example(app, language):
    with app.test_request_context(), force_locale(language):
        for code, declared in labels.ACTIONS.items():
            words = audit_log.StaffWords()
            sentence = declared.sentence(declared.example, words)  # raises if it cannot read it
            assert sentence and sentence != labels.pairs(declared.example), code
            assert "%(" not in sentence and "{" not in sentence and "_" not in sentence, (
                code,
                sentence,
            )
            assert str(declared.label) and labels.label(code) == str(declared.label)


def test_an_unknown_action_or_odd_details_read_as_key_value_pairs(app):
    with app.test_request_context(), force_locale("en"):
        assert labels.label("widget.polish") == "Other action"
        text = labels.describe(
            "widget.polish", {"b": {"c": [1, 2]}, "a": None, "when": "2025-07-01T10:00:00+00:00"}
        )
        assert text == "a: (none); b.c: 1, 2; when: 2025-07-01 12:00"
        # A declared action whose entry has an older shape falls back the same way.
        assert labels.describe("event.capacity", {"old": 3}) == "old: 3"
        assert labels.describe("event.capacity", "not a dict") == ""


# --- the page ------------------------------------------------------------------------------


@pytest.fixture
def log():
    organiser = make_user(Role.ORGANISER)
    admin = make_user(Role.ADMIN)
    entry("event.publish", utc(2025, 3, 1, 10), organiser.id, object_id=7, **{"from": "draft"})
    entry(
        "export",
        utc(2025, 3, 1, 23, 30),
        admin.id,
        format="csv",
        rows=12,
        scope="all",
        organisation_id=None,
    )  # 00.30 on 2 March in Stockholm
    entry(
        "organisation.create",
        utc(2025, 3, 5, 9),
        admin.id,
        object_type="organisation",
        name="<b>Ny</b>",
        sort_order=1,
    )
    entry("event.reminders", utc(2025, 3, 6, 5), None, label="scheduled", queued=40)
    return organiser, admin


def test_filters(app, log):
    organiser, admin = log
    client = english(logged_in(app, organiser))
    everything = client.get("/staff/audit")
    assert everything.status_code == 200
    html = everything.get_data(as_text=True)
    assert shown(html) == ["event.reminders", "organisation.create", "export", "event.publish"]
    assert "“&lt;b&gt;Ny&lt;/b&gt;”" in html and "<b>Ny</b>" not in html  # details are escaped

    def actions(**args):
        response = client.get("/staff/audit", query_string=args)
        assert response.status_code == 200, response.get_data(as_text=True)
        return shown(response.get_data(as_text=True))

    assert actions(action="export") == ["export"]
    assert actions(user=str(admin.id)) == ["organisation.create", "export"]
    assert actions(user="system") == ["event.reminders"]
    assert actions(object_type="organisation") == ["organisation.create"]
    # Days are Stockholm days (UTC+1 in winter): the export at 23.30 UTC was on 2 March.
    assert actions(date_from="2025-03-01", date_to="2025-03-01") == ["event.publish"]
    assert actions(date_from="2025-03-02") == ["event.reminders", "organisation.create", "export"]
    assert actions(date_to="2025-03-05", user=str(admin.id)) == ["organisation.create", "export"]


def test_entries_read_as_sentences_with_local_times_and_no_codes_or_json(app, log):
    organiser, admin = log
    html = english(logged_in(app, organiser)).get("/staff/audit").get_data(as_text=True)
    rows = cells(html)
    assert rows[0] == [
        "2025-03-06 06:00",  # 05.00 UTC
        "The system",
        "Reminders sent",
        "Event (removed)",  # entry about event 7, which never existed here
        "40 reminders were queued for sending. The scheduled reminder before the event.",
    ]
    assert rows[2][0] == "2025-03-02 00:30"
    assert rows[2][1] == f"{admin.name} {admin.email}"
    assert rows[2][2:] == [
        "List downloaded",
        "Event (removed)",
        "The registration list was downloaded as CSV: 12 people, from every organisation.",
    ]
    assert rows[3][2:] == [
        "Event published",
        "Event (removed)",
        "Status changed from “Draft” to “Open for registration”.",
    ]
    assert '<time datetime="2025-03-01T11:00:00+01:00">' in html
    assert "event.publish</" not in html and "{&#34;" not in html and '{"' not in html


def test_real_actions_name_their_objects_and_link_to_them(app):
    org = f.organisation("Alingsås kommun")
    ev = f.event(capacity=1, title="Brandskydd i praktiken")
    first = f.sign_up(ev.id, org.id, 1, name="Anna Andersson").registration
    waiting = f.sign_up(ev.id, org.id, 2, name="Bertil Berg").registration
    organiser = make_user(Role.ORGANISER)
    seats.set_capacity(ev.id, 2, organiser.id)  # Bertil gets a seat
    seats.cancel_by_staff(first.id, organiser.id)
    person_details.update_details(
        waiting.manage_token,
        person_details.Details(
            name="Bertil Berg-Ek", organisation_id=org.id, work_team="Elevhälsan", needs=""
        ),
    )
    client = english(logged_in(app, organiser))
    html = client.get("/staff/audit").get_data(as_text=True)
    assert shown(html) == ["registration.edit", "registration.cancel", "event.capacity"]
    edit, cancel, capacity = cells(html)
    assert edit[1:] == [
        "The person themselves",
        "Registration details changed",
        "Registration Bertil Berg-Ek, Brandskydd i praktiken",
        "The person corrected their own details. Changed: Name, Work team.",
    ]
    assert cancel[3:] == [
        "Registration Anna Andersson, Brandskydd i praktiken",
        "Status changed from “Seat” to “Cancelled”.",
    ]
    assert capacity[3:] == [
        "Event Brandskydd i praktiken",
        "Capacity changed from 1 to 2. 1 person on the waiting list got a seat.",
    ]
    assert f'<a href="/staff/events/{ev.id}">Brandskydd i praktiken</a>' in html
    assert (
        f'<a href="/staff/events/{ev.id}/registrations#r{first.id}">Anna Andersson, Brandskydd i praktiken</a>'
        in html
    )


def test_sentences_read_what_the_services_record(app):
    """The services' real details, not hand-made ones: an edit of title, closing time and
    venue, publishing, and an organisation renamed read as what changed from what to what."""
    f.at_noon_in_stockholm()  # the old session then reads as one span, "HH:MM–HH:MM"
    org = f.organisation("Alingsås kommun")
    organiser = make_user(Role.ORGANISER)
    admin = make_user(Role.ADMIN)
    ev = f.event(status=EventStatus.DRAFT, title="Brandskydd")
    old_start, old_end = ev.sessions[0].starts_at, ev.sessions[0].ends_at
    starts = datetime(2031, 3, 14, 8, tzinfo=UTC)
    data = editing.EventData(
        kind=EventKind.COURSE,
        title="Brandskydd i praktiken",
        capacity=ev.capacity,
        contact_email=ev.contact_email,
        registration_closes_at=datetime(2031, 3, 10, 11, tzinfo=UTC),
        sessions=(schedule.SessionData(starts, starts + timedelta(hours=3), "Sal 2"),),
    )
    editing.update_event(ev.id, data, organiser.id, notify_confirmed=True)
    publishing.publish(ev.id, organiser.id)
    organisations.update_organisation(org.id, "Alingsås", 4, admin.id)
    html = english(logged_in(app, admin)).get("/staff/audit").get_data(as_text=True)
    assert shown(html) == ["organisation.update", "event.publish", "event.update"]
    renamed, published, edited = (row[4] for row in cells(html))
    assert (
        renamed
        == "Name changed from “Alingsås kommun” to “Alingsås”. Position in lists changed from 0 to 4."
    )
    assert published == "Status changed from “Draft” to “Open for registration”."
    with app.test_request_context(), force_locale("en"):
        before = f"{labels.stamp(old_start)}–{clock.local(old_end):%H:%M}"
    assert edited == (
        "Title changed from “Brandskydd” to “Brandskydd i praktiken”. "
        "Registration closes changed from (none) to 2031-03-10 12:00. "
        f"The sessions changed from {before}, Sal 1 "
        "to 2031-03-14 09:00–12:00, Sal 2. 0 people were told of the change."  # a draft: nobody
    )


def test_staff_account_links_only_for_admins(app):
    admin = make_user(Role.ADMIN)
    organiser = make_user(Role.ORGANISER)
    entry(
        "user.deactivate",
        utc(2025, 3, 1, 10),
        admin.id,
        object_type="user",
        object_id=organiser.id,
        email=organiser.email,
    )
    as_admin = english(logged_in(app, admin)).get("/staff/audit").get_data(as_text=True)
    as_organiser = english(logged_in(app, organiser)).get("/staff/audit").get_data(as_text=True)
    title = f"{organiser.name} &lt;{organiser.email}&gt;"
    assert f'<a href="/staff/admin/users">{title}</a>' in as_admin
    assert title in as_organiser and f">{title}</a>" not in as_organiser
    assert f"{organiser.email} can no longer log in; every session ended." in as_organiser


def test_objects_are_named_in_one_query_per_kind_not_one_per_row(app):
    org = f.organisation()
    organiser = make_user(Role.ORGANISER)
    client = english(logged_in(app, organiser))

    serial = itertools.count()

    def add(n: int) -> None:
        for _ in range(n):
            ev = f.event()
            registration = f.sign_up(ev.id, org.id, next(serial)).registration
            when = utc(2025, 3, 1, 10)
            entry(
                "event.capacity",
                when,
                organiser.id,
                object_id=ev.id,
                **{"from": 1, "to": 2, "promoted": []},
            )
            entry(
                "registration.attendance",
                when,
                organiser.id,
                object_type="registration",
                object_id=registration.id,
                attended=True,
            )
            entry(
                "organisation.update",
                when,
                None,
                object_type="organisation",
                object_id=org.id,
                name={"from": "A", "to": "B"},
            )
            entry(
                "export",
                when,
                organiser.id,
                object_id=ev.id,
                format="xlsx",
                rows=3,
                scope="organisation",
                organisation_id=org.id,
            )

    def queries_for_page() -> int:
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            response = client.get("/staff/audit")
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        assert response.status_code == 200
        return len(statements)

    add(2)
    few = queries_for_page()
    add(10)
    many = queries_for_page()
    assert many == few
    html = client.get("/staff/audit").get_data(as_text=True)
    assert len(shown(html)) == 48 and "(removed)" not in html


def test_who_is_the_person_or_the_system_without_a_user(app):
    organiser = make_user(Role.ORGANISER)
    entry(
        "registration.email_changed",
        utc(2025, 3, 1, 10),
        None,
        object_type="registration",
        object_id=5,
        by="person",
    )
    entry(
        "widget.polish",
        utc(2025, 3, 1, 11),
        None,
        object_type="widget",
        object_id=3,
        shine={"level": 2, "tools": ["cloth", "wax"]},
    )
    html = english(logged_in(app, organiser)).get("/staff/audit").get_data(as_text=True)
    unknown, changed = cells(html)
    assert unknown == [
        "2025-03-01 12:00",
        "The system",
        "Other action widget.polish",
        "Other object No. 3",
        "shine.level: 2; shine.tools: cloth, wax",
    ]
    assert changed[1:4] == [
        "The person themselves",
        "Email address changed",
        "Registration (removed)",
    ]


def test_the_event_filter_takes_its_registrations_teams_and_details(db_app):
    org = f.organisation()
    ev, other = f.event(title="Kursen"), f.event(title="Den andra")
    registration = f.sign_up(ev.id, org.id, 1).registration
    elsewhere = f.sign_up(other.id, org.id, 2).registration
    team = f.team(ev.id, org.id, 2).team
    organiser = make_user(Role.ORGANISER)
    when = utc(2025, 3, 1, 10)
    entry("event.capacity", when, organiser.id, object_id=ev.id, **{"from": 1, "to": 2})
    entry("event.capacity", when, organiser.id, object_id=other.id, **{"from": 1, "to": 3})
    entry(
        "registration.attendance",
        when,
        organiser.id,
        object_type="registration",
        object_id=registration.id,
        attended=True,
    )
    entry(
        "registration.attendance",
        when,
        organiser.id,
        object_type="registration",
        object_id=elsewhere.id,
        attended=False,
    )
    entry(
        "team.keep",
        when,
        None,
        object_type="team",
        object_id=team.id,
        event_id=ev.id,
        members=[1, 2],
    )
    entry(
        "registration.cancel",
        when,
        organiser.id,
        object_type="registration",
        object_id=999_999,
        event_id=ev.id,
        previous_status="confirmed",
    )
    entry(
        "user.two_step_on",
        when,
        organiser.id,
        object_type="user",
        object_id=organiser.id,
        email=organiser.email,
    )
    client = english(logged_in(db_app, organiser))
    html = client.get("/staff/audit", query_string={"event": str(ev.id)}).get_data(as_text=True)
    assert sorted(shown(html)) == [
        "event.capacity",
        "registration.attendance",
        "registration.cancel",
        "team.keep",
    ]
    assert "Den andra" not in html.split('<table class="audit">', 1)[1]
    # A participant by email (the whole address, any case), and nothing for a stranger.
    by_person = client.get("/staff/audit", query_string={"participant": registration.email.upper()})
    assert shown(by_person.get_data(as_text=True)) == ["registration.attendance"]
    assert (
        shown(client.get("/staff/audit?participant=nobody@example.org").get_data(as_text=True))
        == []
    )
    assert 'value="Kursen"' not in html and f'<option selected value="{ev.id}">Kursen (' in html


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"date_from": "igår"}, "Enter a date like 2025-03-31."),
        (
            {"date_from": "2025-03-05", "date_to": "2025-03-01"},
            "The end date is before the start date.",
        ),
        ({"action": "no.such.action"}, "Choose a value from the list."),
        ({"user": "12345678"}, "Choose a value from the list."),
        ({"event": "12345678"}, "Choose a value from the list."),
        ({"participant": "not an address"}, "Enter a valid email address"),
    ],
)
@pytest.mark.parametrize("url", ["/staff/audit", "/staff/audit.csv"])
def test_bad_filters_are_explained(app, log, args, message, url):
    client = english(logged_in(app, log[0]))
    before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
    response = client.get(url, query_string=args)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == before


def test_pages_of_fifty(app):
    organiser = make_user(Role.ORGANISER)
    start = datetime(2025, 1, 1, tzinfo=UTC)

    def work():
        for n in range(120):
            db.session.add(
                AuditEntry(
                    action=f"test.{n:03d}",
                    created_at=start + timedelta(hours=n),
                    object_type="event",
                )
            )

    write_transaction(work)
    client = logged_in(app, organiser)
    first = shown(client.get("/staff/audit").get_data(as_text=True))
    assert first == [f"test.{n:03d}" for n in range(119, 69, -1)]
    third = client.get("/staff/audit?page=3").get_data(as_text=True)
    assert shown(third) == [f"test.{n:03d}" for n in range(19, -1, -1)]
    assert 'rel="prev"' in third and 'rel="next"' not in third
    # The filter is kept in the page links and in the download link.
    filtered = client.get("/staff/audit?object_type=event").get_data(as_text=True)
    assert "/staff/audit?page=2&amp;object_type=event" in filtered
    assert "/staff/audit.csv?object_type=event" in filtered
    assert shown(client.get("/staff/audit?page=99").get_data(as_text=True)) == []
    assert client.get("/staff/audit?page=0").status_code == 404


@pytest.mark.parametrize("url", ["/staff/audit", "/staff/audit.csv"])
def test_only_organisers_and_admins(app, log, url):
    organiser, admin = log
    assert logged_in(app, admin).get(url).status_code == 200
    assert logged_in(app, organiser).get(url).status_code == 200
    coordinator = make_user(Role.COORDINATOR, organisation="Lerums kommun")
    assert logged_in(app, coordinator).get(url).status_code == 403
    anonymous = logged_in(app, None).get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


# --- the archive CSV ------------------------------------------------------------------------


def read_csv(response) -> list[list[str]]:
    data = response.get_data()
    assert data.startswith("\ufeff".encode())  # UTF-8 with BOM, for Excel
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))


def test_the_csv_is_the_archive_copy(app, log):
    organiser, admin = log
    summer = entry(
        "event.capacity",
        utc(2025, 7, 1, 10),
        organiser.id,
        object_id=7,
        **{"from": 5, "to": 8, "promoted": []},
    )
    entry(
        "widget.polish",
        utc(2025, 7, 2, 10),
        None,
        object_type="widget",
        object_id=2,
        note='=HYPERLINK("http://x")',
        lines="a\nb",
    )
    client = english(logged_in(app, organiser))
    response = client.get("/staff/audit.csv")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"
    assert re.fullmatch(
        r'attachment; filename="kvarn-audit-log-\d{8}-\d{4}\.csv"',
        response.headers["Content-Disposition"],
    )
    header, *rows = read_csv(response)
    assert header == [
        "Entry",
        "Time",
        "Action code",
        "Action",
        "What happened",
        "Done by",
        "Done by (email)",
        "Object",
        "Object number",
        "Object title",
    ]
    assert len(rows) == 6  # one row per entry, the line break inside a cell included
    assert [row[2] for row in rows] == [
        "event.publish",
        "export",
        "organisation.create",
        "event.reminders",
        "event.capacity",
        "widget.polish",
    ]
    assert rows[0][:2] == [rows[0][0], "2025-03-01T11:00:00+01:00"]
    assert rows[1][1] == "2025-03-02T00:30:00+01:00"
    assert rows[4] == [
        str(summer),
        "2025-07-01T12:00:00+02:00",
        "event.capacity",
        "Capacity changed",
        "Capacity changed from 5 to 8.",
        organiser.name,
        organiser.email,
        "Event",
        "7",
        "(removed)",
    ]
    assert rows[2][7:] == ["Organisation", "1", "(removed)"]
    assert rows[3][5:7] == ["The system", ""]
    # A formula is neutralised; the readable sentence keeps the break inside its cell.
    assert rows[5][4] == 'lines: a\nb; note: =HYPERLINK("http://x")'
    assert rows[5][3] == "Other action"

    # The export is itself audited, with what it covered, and is not in its own file.
    export = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert export.action == "export" and export.user_id == organiser.id and export.object_id is None
    assert export.details == {
        "list": "audit_log",
        "format": "csv",
        "rows": 6,
        "up_to_entry": export.id - 1,
        "filters": {},
    }
    page = client.get("/staff/audit").get_data(as_text=True)
    assert (
        "The audit log was downloaded as CSV: 6 entries. No filters: everything up to then." in page
    )


def test_a_cell_starting_like_a_formula_gets_an_apostrophe(app):
    organiser = make_user(Role.ORGANISER)
    ev = f.event(title='=HYPERLINK("http://evil")')
    entry(
        "event.capacity", utc(2025, 3, 1, 10), organiser.id, object_id=ev.id, **{"from": 1, "to": 2}
    )
    header, row = read_csv(logged_in(app, organiser).get("/staff/audit.csv"))
    assert row[9] == '\'=HYPERLINK("http://evil")'
    for value in ("=1+1", "+1", "-1", "@SUM(A1)", "＝1"):
        assert audit_log.csv_cell(value) == "'" + value
    assert audit_log.csv_cell("Kurs = bra") == "Kurs = bra"


def test_the_csv_honours_the_filters_and_records_them(db_app, monkeypatch):
    monkeypatch.setattr(audit_log, "CHUNK", 3)  # several chunks, a boundary among equal times
    organiser = make_user(Role.ORGANISER)
    ev = f.event(title="Kursen")
    times = [
        utc(2025, 3, 9, 10),
        utc(2025, 3, 2, 10),
        *[utc(2025, 3, 3, 10)] * 4,
        utc(2025, 3, 1, 10),
        utc(2025, 3, 30, 10),
    ]
    wanted = [
        entry("event.capacity", when, organiser.id, object_id=ev.id, **{"from": n, "to": n + 1})
        for n, when in enumerate(times)
    ]
    entry(
        "event.capacity",
        utc(2025, 3, 4, 10),
        organiser.id,
        object_id=ev.id + 1,
        **{"from": 1, "to": 2},
    )
    entry(
        "event.capacity", utc(2025, 4, 1, 10), organiser.id, object_id=ev.id, **{"from": 1, "to": 2}
    )
    entry("event.capacity", utc(2025, 3, 4, 10), None, object_id=ev.id, **{"from": 1, "to": 2})
    oldest_first = [entry_id for _when, entry_id in sorted(zip(times, wanted, strict=True))]
    client = english(logged_in(db_app, organiser))
    args = {
        "event": str(ev.id),
        "date_from": "2025-03-01",
        "date_to": "2025-03-31",
        "user": str(organiser.id),
    }
    header, *rows = read_csv(client.get("/staff/audit.csv", query_string=args))
    assert [int(row[0]) for row in rows] == oldest_first  # each once, by (time, entry)
    assert {row[9] for row in rows} == {"Kursen"}
    export = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "export")).one()
    assert export.details["rows"] == 8
    assert export.details["filters"] == {
        "user": f"{organiser.name} <{organiser.email}>",
        "event": f"Kursen ({ev.id})",
        "date_from": "2025-03-01",
        "date_to": "2025-03-31",
    }
    page = client.get("/staff/audit", query_string={"action": "export"}).get_data(as_text=True)
    assert (
        f"The audit log was downloaded as CSV: 8 entries. Filters: Done by: {organiser.name} &lt;{organiser.email}&gt;; "
        f"Event: Kursen ({ev.id}); From (date): 2025-03-01; To (date): 2025-03-31."
    ) in page


def test_the_csv_is_read_in_chunks_not_all_at_once(app, monkeypatch):
    organiser = make_user(Role.ORGANISER)
    for n in range(7):
        entry(
            "event.capacity",
            utc(2025, 3, 1, n),
            organiser.id,
            object_id=1,
            **{"from": n, "to": n + 1},
        )
    monkeypatch.setattr(audit_log, "CHUNK", 3)
    reads = []

    def listener(conn, cursor, statement, *rest):
        if "FROM audit_entry" in statement and "LIMIT" in statement:
            reads.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listener)
    try:
        response = logged_in(app, organiser).get("/staff/audit.csv")
        chunks = list(response.response)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listener)
    assert len(reads) == 4  # 3 + 3 + 1, then an empty read
    assert len(chunks) == 4  # the header, then one piece per chunk
    assert sum(chunk.count(b"\r\n") for chunk in chunks) == 8


def test_a_sentence_in_swedish_uses_the_swedish_names_of_statuses(app):
    organiser = make_user(Role.ORGANISER)
    entry(
        "registration.cancel",
        utc(2025, 3, 1, 10),
        organiser.id,
        object_type="registration",
        object_id=1,
        event_id=1,
        previous_status="waitlisted",
    )
    html = logged_in(app, organiser).get("/staff/audit?lang=sv").get_data(as_text=True)
    assert "”Väntelista”" in html or "“Väntelista”" in html
    assert "2025-03-01 kl. 11.00" in html


def test_the_event_filter_lists_events_latest_first(app):
    organiser = make_user(Role.ORGANISER)
    soon, later = f.event(title="Snart", days_ahead=2), f.event(title="Sedan", days_ahead=30)
    html = english(logged_in(app, organiser)).get("/staff/audit").get_data(as_text=True)
    options = re.findall(r'<option value="(\d+)">(Snart|Sedan) \(\d{4}-\d\d-\d\d\)</option>', html)
    assert [int(value) for value, _title in options] == [later.id, soon.id]
