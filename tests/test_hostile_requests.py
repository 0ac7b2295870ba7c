"""Hostile requests against every route: never a 5xx, and a refusal writes nothing.

For every rule of ``app.url_map`` (the dev mailbox included) and each of its methods,
Hypothesis draws requests from hostile values: ids past what a database holds, NUL and
other control characters, very long and right-to-left text, dates at both ends of the
calendar, markup and SQL, a file part where text belongs, broken percent-encoding, a
Host name no DNS would accept. Path parameters, query strings, form bodies and headers
are all drawn, and each request is sent as an anonymous visitor, a coordinator, an
organiser and an admin in turn. A form body starts from the valid values of the page
that holds the form (read from its HTML, a few gaps filled in) with a few fields
spoiled, so requests also get past validation into the services; Hypothesis's first
example of each route is that valid request itself.

Two things must hold for every answer, on every database (``db_app``):

- its status is below 500;
- if it is a refusal (400 or more), every table has as many rows as before it, the
  audit log and the outbox included.

Failures are collected, deduplicated and listed together (with the exception the app
logged). The number of requests sent is printed and stored in the test's user
properties as ``hostile_requests``. The guard itself is tested too: a route that
raises and one that writes before refusing are both reported.
"""

from __future__ import annotations

import io
import logging
import re
import sys
import time
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule

from app.audit.entries import record
from app.core.database import write_transaction
from app.core.extensions import db
from app.models import User
from tests.staff_clients import logged_in
from tests.staff_helpers import login
from tests.test_access_matrix import QUERY, World, build_world, requests_to_make

#: The visitors: anonymous and one of each staff role (access-matrix world names).
ROLES = ("anonymous", "coordinator_a", "organiser", "admin")

#: Requests per database, spread evenly over every (route, method, role), at least
#: MIN_EXAMPLES each: fewer on the servers, where each request and row count is a round
#: trip. About 40 s on SQLite on two cores.
BUDGET = {"sqlite": 3000, "postgresql": 1500, "mariadb": 1500}
MIN_EXAMPLES = 3

APP_DIR = Path(__file__).resolve().parent.parent / "app"

#: Text that has broken web apps before: in form fields, query strings and path parts.
HOSTILE_TEXT = [
    "\x00",
    "a\x00b",
    "\x0b",
    "\x1b[31m",
    "\r\n",
    "a" * 5000,
    "9" * 40,
    "-1",
    "0",
    "-0",
    "+1",
    "1.5",
    "1e309",
    "NaN",
    str(2**31),
    str(2**63),
    str(10**30),
    str(-(2**63) - 1),
    "0001-01-01",
    "9999-12-31",
    "0000-00-00",
    "2024-02-30",
    "0001-01-01T00:00",
    "9999-12-31T23:59",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    '"; DROP TABLE "user"; --',
    "{{ 7*7 }}",
    "%s%s%n",
    "Åsa\u202e",
    "\ufeffBOM",
    "𝕂vårn 🎉",
    "../../../etc/passwd",
    "//evil.example/",
    "javascript:alert(1)",
    " ",
    "",
]
#: Path parameters: the same, plus ids and names that look almost right.
HOSTILE_PATH = [value for value in HOSTILE_TEXT if value] + ["..", "%", "%2e%2e", "a" * 300]
#: Query strings that are not even well formed.
RAW_QUERIES = ["%", "page=%ZZ", "q=%ff%fe", "=&=&&", "page[]=1&page=2", "a" * 3000]
#: Query names any page reads (``request.args``); the page's own GET forms add theirs.
QUERY_NAMES = [
    "page", "event_id", "q", "status", "show", "kind", "label", "locale", "lang", "next",
    "to", "action", "user", "object_type", "date_from", "date_to",
]
#: Form field names posted to every POST route, besides those its forms really have.
BROAD_FIELDS = [
    "name", "email", "organisation", "work_team", "needs", "title", "description",
    "capacity", "sessions-0-starts_at", "sessions-0-ends_at", "sessions-0-venue",
    "sessions-99-starts_at", "date_from", "date_to", "role", "password", "confirm",
    "current_password", "code", "q", "message", "next", "submission_key", "attended", "key",
    "sort_order", "event_id", "kind", "language", "interest_threshold", "add_session", "back",
]
#: Values that make an empty form valid, so a spoiled field is judged past the others.
VALID = {
    "name": "Fuzz Person",
    "email": "fuzz.person@alingsas.example",
    "title": "Fuzzkurs",
    "capacity": "10",
    "sessions-0-starts_at": "2031-05-01T09:00",
    "sessions-0-ends_at": "2031-05-01T12:00",
    "sessions-0-venue": "Sal 1",
    "message": "Kursen är inställd.",
    "work_team": "Team Fuzz",
}
HOSTILE_HOSTS = [
    "a" * 64 + ".kvarn.test",
    "x" * 254,
    "kvarn..test",
    ".",
    "kvarn.test:99999",
    "[::1",
    "kvarn.test\x0b",
]
HOSTILE_REFERERS = ["//evil.example/", "javascript:alert(1)", "http://localhost/" + "a" * 3000]
#: Sent last: they end a session or take away what the other requests use.
LAST = (
    "public.cancel", "public.subscription_unsubscribe", "staff.registration_cancel",
    "staff.event_cancel", "auth.logout",
)


class _FilePart:
    """Marks the field that is sent as an uploaded file (a fresh one per request)."""

    def __repr__(self) -> str:
        return "<file x.txt>"


FILE_PART = _FilePart()


@dataclass(frozen=True)
class Route:
    endpoint: str
    method: str
    rule: Rule


@dataclass
class Forms:
    """What the app's pages say about each endpoint's forms."""

    defaults: dict[str, dict[str, str]] = field(default_factory=dict)  # POST: name -> value
    names: dict[str, set[str]] = field(default_factory=dict)  # every field name, POST or GET


@dataclass
class Sent:
    role: str
    method: str
    url: str
    data: dict[str, object]
    headers: dict[str, str]
    base: dict[str, str] = field(default_factory=dict)  # the page's own form values

    def describe(self) -> str:
        changed = {k: v for k, v in self.data.items() if self.base.get(k) != v}
        kept = len(self.data) - len(changed)
        body = ", ".join(f"{k}={_short(v)}" for k, v in changed.items())
        form = f" form=[{kept} page values] + {{{body}}}" if kept else f" form={{{body}}}"
        headers = ", ".join(f"{k}: {_short(v)}" for k, v in self.headers.items())
        return (
            f"{self.method} {_short(self.url, 200)} as {self.role}"
            + (form if self.method == "POST" else "")
            + (f" headers={{{headers}}}" if headers else "")
        )


#: Kinds of failure the test asserts on; anything else is a note, printed only.
ASSERTED = ("5xx", "write on refusal", "lost session")


@dataclass
class Failure:
    kind: str  # one of ASSERTED, or "error logged" (an exception behind a <500 answer)
    endpoint: str
    method: str
    status: int
    cause: str
    example: Sent
    roles: set[str] = field(default_factory=set)
    times: int = 0


@dataclass
class Report:
    sent: int = 0
    relogins: int = 0
    failures: dict[tuple, Failure] = field(default_factory=dict)

    def fail(self, kind: str, endpoint: str, status: int, cause: str, sent: Sent) -> None:
        key = (kind, endpoint, sent.method, status, cause) if kind in ASSERTED else (kind, cause)
        found = self.failures.setdefault(key, Failure(kind, endpoint, sent.method, status, cause, sent))
        found.roles.add(sent.role)
        found.times += 1

    def lines(self, asserted: bool = True) -> list[str]:
        return [
            f"{f.kind}: {f.method} {f.endpoint} -> {f.status} ({f.times}x, as {', '.join(sorted(f.roles))})"
            f"\n    {f.cause}\n    e.g. {f.example.describe()}"
            for f in self.failures.values()
            if (f.kind in ASSERTED) == asserted
        ]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}...({len(text)} chars)"


def _short(value: object, limit: int = 60) -> str:
    return _clip(repr(value), limit)


# -- What the pages hold ----------------------------------------------------------------


class _FormParser(HTMLParser):
    """Each form of a page: method, action, the values a browser would send, all names."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, str, dict[str, str], set[str]]] = []
        self._select: tuple[str, bool, list[tuple[str, bool]]] | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.forms.append((a.get("method", "get").lower(), a.get("action", ""), {}, set()))
            return
        if not self.forms or not a.get("name"):
            if tag == "option" and self._select is not None:
                self._select[2].append((a.get("value", ""), "selected" in a))
            return
        _method, _action, defaults, names = self.forms[-1]
        name = a["name"]
        names.add(name)
        kind = a.get("type", "text").lower()
        if tag == "input" and kind not in ("submit", "button", "image", "file"):
            if kind not in ("checkbox", "radio") or "checked" in a:
                defaults.setdefault(name, a.get("value", ""))
        elif tag == "select":
            self._select = (name, "required" in a, [])
        elif tag == "textarea":
            self._textarea = name
            defaults.setdefault(name, "")

    def handle_data(self, data: str) -> None:
        if self._textarea is not None and self.forms:
            self.forms[-1][2][self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea" and self._textarea is not None and self.forms:
            defaults = self.forms[-1][2]  # a browser drops the newline after <textarea>
            defaults[self._textarea] = re.sub(r"^\r?\n", "", defaults[self._textarea])
            self._textarea = None
        elif tag == "select" and self._select is not None and self.forms:
            name, required, options = self._select
            chosen = [value for value, selected in options if selected] or [v for v, _s in options[:1]]
            if required and not any(chosen):  # the person must choose: the first real choice
                chosen = [value for value, _selected in options if value]
            if chosen:
                self.forms[-1][2].setdefault(name, chosen[0])
            self._select = None


def discover_forms(app: Flask, clients: dict[str, FlaskClient], world: World) -> Forms:
    """Open every page (as admin and anonymous) and note each endpoint's form fields."""
    adapter = app.url_map.bind("localhost")
    calls, _problems = requests_to_make(app, world.params)
    pages = [url for endpoint, method, url in calls if method == "GET" and endpoint != "static"]
    forms = Forms()
    for role in ("admin", "anonymous"):
        for url in pages:
            response = clients[role].get(url)
            if response.mimetype != "text/html":
                continue
            parser = _FormParser()
            parser.feed(response.get_data(as_text=True))
            for method, action, defaults, names in parser.forms:
                target = urlsplit(action).path or urlsplit(url).path
                try:
                    endpoint, _args = adapter.match(target, method=method.upper())
                except HTTPException:
                    continue
                forms.names.setdefault(endpoint, set()).update(names)
                if method == "post":
                    forms.defaults.setdefault(endpoint, {k: v for k, v in defaults.items() if k != "csrf_token"})
    return forms


def baseline(forms: Forms, endpoint: str) -> dict[str, str]:
    """The form as the page offers it, with the gaps a person would fill in filled."""
    values = dict(forms.defaults.get(endpoint, {}))
    if "contact_email" in values:  # the factories' example.test address is not one
        values["contact_email"] = "kurs@alingsas.example"
    for name, value in VALID.items():
        if name in values and not values[name]:
            values[name] = value
    return values


# -- The routes and the requests --------------------------------------------------------


def routes_of(app: Flask) -> list[Route]:
    """Every rule and method but static files; pages first, the session enders last."""
    routes = [
        Route(rule.endpoint, method, rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]
    last = {endpoint: n for n, endpoint in enumerate(LAST, start=1)}
    return sorted(routes, key=lambda r: (last.get(r.endpoint, 0), r.method != "GET", r.endpoint))


def real_values(world: World) -> dict[str, list[str]]:
    """Values that name real objects, per path parameter (the lecture is the course + 1)."""
    values = {name: [str(value)] for name, value in world.params.items()}
    values["event_id"].append(str(world.params["event_id"] + 1))
    values["index"] = ["0"]
    return values


_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def path_for(rule: Rule, values: dict[str, str]) -> str:
    return _ARGUMENT.sub(lambda m: quote(values[m.group(1)], safe=""), rule.rule)


#: Hostile text for query and form values (built once: strategies are costly to make).
HOSTILE_VALUE = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.text(max_size=40),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
)
HOSTILE_PATH_VALUE = st.one_of(st.sampled_from(HOSTILE_PATH), st.text(min_size=1, max_size=30))


def path_values(real: list[str]) -> st.SearchStrategy[str]:
    """Half the time a real object (or its id with leading zeros), else hostile."""
    return st.one_of(
        st.sampled_from(real),
        st.sampled_from(real).map(lambda value: "000" + value),
        HOSTILE_PATH_VALUE,
        HOSTILE_PATH_VALUE,
    )


def one_in(n: int) -> st.SearchStrategy[bool]:
    """True about once in ``n`` draws, and False in Hypothesis's first, simplest example
    (which is then the page's own request, unspoiled)."""
    return st.integers(1, n).map(lambda k: k == n)


def now_and_then(n: int, strategy: st.SearchStrategy) -> st.SearchStrategy:
    """A value of ``strategy`` about once in ``n`` draws, else None."""
    return st.tuples(one_in(n), strategy).map(lambda drawn: drawn[1] if drawn[0] else None)


def _query(fixed: dict[str, str], drawn: dict[str, str], raw: str | None) -> str:
    query = urlencode({**fixed, **drawn})
    query = "&".join(part for part in (query, raw) if part)
    return f"?{query}" if query else ""


def _body(base: dict[str, str], drop_base: bool, spoiled: dict[str, str], file_in: str | None) -> dict:
    body = {} if drop_base else dict(base)
    body.update(spoiled)
    if file_in is not None:
        body[file_in] = FILE_PART
    return body


def _headers(host: str | None, json: bool, referer: str | None) -> dict[str, str]:
    headers = {"Host": host, "Accept": "application/json" if json else None, "Referer": referer}
    return {name: value for name, value in headers.items() if value is not None}


def hostile_requests(route: Route, real: dict[str, list[str]], forms: Forms, base: dict[str, str]):
    """Strategy for one request to ``route``: (url, form data or None, headers)."""
    arguments = {name: path_values(real.get(name, ["1"])) for name in sorted(route.rule.arguments)}
    path = st.fixed_dictionaries(arguments).map(lambda values: path_for(route.rule, values))
    names = sorted(set(QUERY_NAMES) | forms.names.get(route.endpoint, set()))
    query = st.builds(
        _query,
        st.just(QUERY.get(route.endpoint, {})),
        st.dictionaries(st.sampled_from(names), HOSTILE_VALUE, max_size=4),
        now_and_then(10, st.sampled_from(RAW_QUERIES)),
    )
    body: st.SearchStrategy[dict | None] = st.none()
    if route.method == "POST":
        fields = sorted(set(BROAD_FIELDS) | forms.names.get(route.endpoint, set()))
        body = st.builds(
            _body,
            st.just(base),
            one_in(5),
            st.dictionaries(st.sampled_from(fields), HOSTILE_VALUE, max_size=4),
            now_and_then(8, st.sampled_from(fields)),
        )
    headers = st.builds(
        _headers,
        now_and_then(12, st.sampled_from(HOSTILE_HOSTS)),
        one_in(6),
        now_and_then(8, st.sampled_from(HOSTILE_REFERERS)),
    )
    return st.tuples(path, query, body, headers).map(lambda r: (r[0] + r[1], r[2], r[3]))


# -- Watching the app: row counts and logged errors -------------------------------------


def row_counts() -> dict[str, int]:
    """Rows in every table, on a connection of its own (a fresh snapshot each time)."""
    tables = db.metadata.sorted_tables
    query = sa.select(
        *(sa.select(sa.func.count()).select_from(t).scalar_subquery().label(t.name) for t in tables)
    )
    with db.engine.connect() as conn:
        return dict(conn.execute(query).one()._mapping)


class _ErrorLog(logging.Handler):
    """Errors the app logs; one logged while an exception is handled gets that exception."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.exc_info and sys.exc_info()[1] is not None:
            record.exc_info = sys.exc_info()  # e.g. "database unavailable", logged in a handler
        self.records.append(record)


@contextmanager
def errors_logged(app: Flask) -> Iterator[_ErrorLog]:
    """Collect what ``app.logger`` and the app's modules log (alembic's fileConfig may
    have disabled those loggers: enabled again meanwhile)."""
    handler = _ErrorLog()
    loggers = [app.logger] + [
        logger
        for name, logger in logging.root.manager.loggerDict.items()
        if name.startswith("app.") and isinstance(logger, logging.Logger)
    ]
    disabled = [logger.disabled for logger in loggers]
    for logger in loggers:
        logger.disabled = False
    app.logger.addHandler(handler)
    try:
        yield handler
    finally:
        app.logger.removeHandler(handler)
        for logger, was in zip(loggers, disabled, strict=True):
            logger.disabled = was


def cause_of(records: Iterable[logging.LogRecord]) -> str:
    """The exception the app logged, at its last frame inside app/ (else the message)."""
    for rec in records:
        if rec.exc_info and rec.exc_info[1] is not None:
            error = rec.exc_info[1]
            return f"{type(error).__name__}: {_clip(str(error), 200)} at {_last_frame(error)}"
    messages = [rec.getMessage() for rec in records]
    return _clip("; ".join(messages), 240) if messages else "no error logged"


def _last_frame(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if frame.filename.startswith(str(APP_DIR))]
    last = (ours or frames)[-1]
    path = Path(last.filename)
    shown = path.relative_to(APP_DIR.parent) if ours else path.name
    return f"{shown}:{last.lineno} {last.name}"


# -- Sending ----------------------------------------------------------------------------


@dataclass
class Fuzzer:
    app: Flask
    clients: dict[str, FlaskClient]
    users: dict[str, User | None]
    forms: Forms
    real: dict[str, list[str]]
    log: _ErrorLog
    report: Report = field(default_factory=Report)
    base: dict[str, dict[str, str]] = field(default_factory=dict)  # endpoint -> baseline

    def send(self, route: Route, role: str, url: str, data: dict | None, headers: dict[str, str]) -> None:
        sent = Sent(role, route.method, url, dict(data or {}), headers, self.base.get(route.endpoint, {}))
        body = None
        if data is not None:
            body = {k: (io.BytesIO(b"x"), "x.txt") if v is FILE_PART else v for k, v in data.items()}
        before = row_counts()
        self.log.records.clear()
        try:
            response = self.clients[role].open(url, method=route.method, data=body, headers=headers)
            status = response.status_code
            response.close()
        except Exception as error:  # noqa: BLE001 - a request the app could not answer at all
            db.session.rollback()
            status, cause = 500, f"{type(error).__name__} in the test client: {_clip(str(error), 200)}"
        else:
            cause = cause_of(self.log.records)
            if status < 500 and self.log.records:
                self.report.fail("error logged", route.endpoint, status, cause, sent)
        self.report.sent += 1
        if status >= 500:
            self.report.fail("5xx", route.endpoint, status, cause, sent)
        if status >= 400:
            after = row_counts()
            if after != before:
                grew = {t: after[t] - before[t] for t in after if after[t] != before[t]}
                self.report.fail("write on refusal", route.endpoint, status, f"rows {grew}", sent)

    def keep_logged_in(self, role: str) -> None:
        """Log the role back in if an earlier request ended its session (counted)."""
        user = self.users[role]
        if user is None:
            return
        cookie = self.clients[role].get_cookie(self.app.config["SESSION_COOKIE_NAME"])
        session = {}
        if cookie is not None:
            serializer = self.app.session_interface.get_signing_serializer(self.app)
            session = serializer.loads(cookie.value)
        with db.engine.connect() as conn:
            secret = conn.execute(sa.select(User.session_secret).where(User.id == user.id)).scalar_one()
        if session.get("_user_id") == f"{user.id}:{secret}":
            return
        self.report.relogins += 1
        response = login(self.clients[role], user.email)
        if response.status_code != 302:
            sent = Sent(role, "POST", "/login", {"email": user.email}, {})
            self.report.fail("lost session", "auth.login", response.status_code, "cannot log in again", sent)

    def fuzz(self, route: Route, examples: int) -> None:
        """``examples`` drawn requests to ``route``, each sent as every role in turn."""
        for role in ROLES:
            self.keep_logged_in(role)
        base = self.base.setdefault(route.endpoint, baseline(self.forms, route.endpoint))
        strategy = hostile_requests(route, self.real, self.forms, base)

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=[Phase.generate],  # no shrinking: a failure is noted, not raised
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
        )
        @given(strategy)
        def one(drawn: tuple[str, dict | None, dict[str, str]]) -> None:
            for role in ROLES:
                self.send(route, role, *drawn)

        one()


def run_fuzz(app: Flask, world: World, routes: list[Route], examples: int) -> Report:
    """Send ``examples`` hostile requests per (route, method) as each role; the report."""
    clients = {role: logged_in(app, world.users[role]) for role in ROLES}
    forms = discover_forms(app, clients, world)
    with errors_logged(app) as log:
        fuzzer = Fuzzer(app, clients, {r: world.users[r] for r in ROLES}, forms, real_values(world), log)
        for route in routes:
            fuzzer.fuzz(route, examples)
    return fuzzer.report


@pytest.fixture
def app_config() -> dict:
    """Production's answer to an exception (a 500 page, logged) and every route served."""
    return {"PROPAGATE_EXCEPTIONS": False, "DEV_MAILBOX": True}


def test_hostile_requests_never_5xx_and_refusals_never_write(db_app, request):
    backend = request.node.callspec.params["db_app"]
    world = build_world()
    started = time.monotonic()
    routes = routes_of(db_app)
    examples = max(MIN_EXAMPLES, BUDGET[backend] // (len(routes) * len(ROLES)))
    report = run_fuzz(db_app, world, routes, examples)
    seconds = time.monotonic() - started
    request.node.user_properties.append(("hostile_requests", report.sent))
    print(
        f"\n{backend}: {report.sent} hostile requests ({len(routes)} routes x {len(ROLES)} roles"
        f" x {examples}) in {seconds:.1f} s, {report.relogins} re-logins"
    )
    notes = report.lines(asserted=False)
    if notes:
        print("Not failures, but the app logged an error behind these answers:\n" + "\n".join(notes))
    problems = report.lines()
    assert not problems, f"{len(problems)} distinct failures:\n" + "\n".join(problems)


# -- The guard itself -------------------------------------------------------------------


def _add_broken_routes(app: Flask) -> list[Route]:
    """Two routes that break the property: one raises, one writes and then refuses."""

    def raises() -> str:
        raise RuntimeError("a route that raises")

    def writes_then_refuses() -> tuple[str, int]:
        write_transaction(lambda: record(None, "fuzz.leak", None))
        return "refused", 400

    app.add_url_rule("/fuzz/raises", "fuzz_raises", raises, methods=["GET"])
    app.add_url_rule("/fuzz/leaks", "fuzz_leaks", writes_then_refuses, methods=["POST"])
    return [r for r in routes_of(app) if r.endpoint.startswith("fuzz_")]


def test_a_route_that_raises_or_writes_before_refusing_is_reported(db_app):
    """The property can fail: both broken routes show up in the report, with the cause,
    on every database (the row counts see another connection's commit)."""
    world = build_world()
    routes = _add_broken_routes(db_app)
    report = run_fuzz(db_app, world, routes, examples=3)
    assert report.sent == len(routes) * len(ROLES) * 3
    found = {(f.kind, f.endpoint) for f in report.failures.values() if f.kind in ASSERTED}
    assert found == {("5xx", "fuzz_raises"), ("write on refusal", "fuzz_leaks")}
    causes = [f.cause for f in report.failures.values() if f.kind == "5xx"]
    assert any("RuntimeError: a route that raises" in cause for cause in causes), causes
