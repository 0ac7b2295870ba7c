"""axe-core in Chromium on every page each role can open, in Swedish and English.

WCAG 2.1 AA is the law for Kvarn's users, so the browser suite loads every GET page
of ``app.url_map`` that a role may open (``EXPECTED`` and ``build_world`` from the
access matrix: real objects for every route parameter), as an anonymous visitor, a
coordinator, an organiser and an administrator, in both languages, and runs axe-core
with the WCAG 2.0/2.1 A and AA rules. Error states too: forms sent empty or wrong, a bad
date filter, refused links, the 403 and 404 pages. Any violation fails, with a list of
rule, impact, element, page, role and language.

axe-core comes from the npm registry at the exact version in package.json and
package-lock.json (``make install`` runs ``npm ci``). The pages' Content-Security-Policy
forbids inline script, so ``add_script_tag`` (which inlines the file) is refused; the
file is added with ``add_init_script`` instead (the DevTools protocol, which the page's
policy does not govern), so the pages are checked exactly as served, their CSP intact.

One test per role builds one world and one server; for each language one browser page
logs in through the real log-in form, chooses the language (GET /lang/<code>) and walks
all of that role's pages. Redirects that are meant (``REDIRECTS``) are confirmed without
being rendered; any other redirect, or an error status, is reported as a page not checked.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.browser import browser_page
from tests.plugins.databases import REQUIRE_SERVERS
from tests.staff_helpers import PASSWORD, live_server
from tests.test_access_matrix import EXPECTED, OK, QUERY, build_world

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
#: The site's language code and the browser's locale for it.
LANGUAGES = {"sv": "sv-SE", "en": "en-GB"}
#: Our roles and the access matrix's user for each.
ROLES = {
    "anonymous": "anonymous",
    "coordinator": "coordinator_a",
    "organiser": "organiser",
    "admin": "admin",
}

#: GET routes that are not pages a person reads (and why).
NOT_PAGES = {
    "static": "a stylesheet, script or image",
    "public.set_language": "switches the language and redirects",
    "staff.event_reminder_progress": "JSON for the progress bar",
    "staff.event_announcement_progress": "JSON for the progress bar",
    "staff.event_messages_progress": "JSON for the progress bar",
    "auth.logout": "POST only",
}
#: Downloads (calendar files, exports) and feeds, known by the end of their path.
DOWNLOADS = (".ics", ".csv", ".xlsx", ".json", ".rss", ".atom", ".pdf")
#: Pages that answer a GET with a redirect, on purpose (for the roles named, or all).
REDIRECTS = {
    "public.index": None,  # to the listing
    "staff.home": None,  # to the role's landing page
    "auth.login_code": None,  # without a password step first: to the log-in page
    "public.confirm_email": None,  # the change is made, then the personal page
    "auth.login": {"coordinator", "organiser", "admin"},  # already logged in
}

AXE_RUN = """async (tags) => {
  const lang = document.documentElement.lang;
  if (typeof window.axe !== 'object') return {lang, violations: null};
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: tags},
    resultTypes: ['violations'],
  });
  return {lang, violations: result.violations.map(v => ({
    id: v.id,
    impact: v.impact || '',
    help: v.help,
    nodes: v.nodes.length,
    target: v.nodes.length ? v.nodes[0].target[0] : '',
  }))};
}"""


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    help: str
    target: str
    nodes: int
    state: str
    url: str
    role: str
    lang: str


@dataclass
class Audit:
    """What one browser page saw: the states checked, the violations and other problems."""

    role: str
    lang: str
    base: str
    states: list[str] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def check(self, page, state: str) -> None:
        """Run axe on what ``page`` shows now, as ``state``."""
        url = page.url.removeprefix(self.base)
        self.states.append(state)
        seen = page.evaluate(AXE_RUN, WCAG_TAGS)
        if seen["lang"] != self.lang:
            self.problems.append(f"{state} ({url}) is in {seen['lang']!r}, not {self.lang!r}")
        if seen["violations"] is None:
            self.problems.append(f"{state} ({url}): axe-core did not load")
            return
        for v in seen["violations"]:
            target = v["target"] if isinstance(v["target"], str) else json.dumps(v["target"])
            self.violations.append(
                Violation(v["id"], v["impact"], v["help"], target, v["nodes"], state, url, self.role, self.lang)
            )

    def visit(self, page, endpoint: str, url: str) -> None:
        if endpoint in REDIRECTS and (REDIRECTS[endpoint] is None or self.role in REDIRECTS[endpoint]):
            # A redirect on purpose: confirm it without rendering it (the cookies are the page's).
            response = page.request.get(self.base + url, max_redirects=0)
            if 300 <= response.status < 400:
                return
        response = page.goto(self.base + url)
        if response is not None and response.request.redirected_from is not None:
            self.problems.append(
                f"{url} ({endpoint}) redirected to {page.url.removeprefix(self.base)}: not checked"
            )
            return
        if response is None or response.status >= 400:
            status = response.status if response is not None else "no response"
            self.problems.append(f"{url} ({endpoint}): {status}, expected a page")
        self.check(page, endpoint)

    def expect_error(self, page, state: str, response, statuses: set[int]) -> None:
        """Check an error state, having first made sure it is one (a status in ``statuses``)."""
        status = response.status if response is not None else None
        if status not in statuses:
            self.problems.append(f"{state}: status {status}, expected one of {sorted(statuses)}")
        self.check(page, f"{state} [{status}]")


def report(audits: list[Audit], seconds: float) -> str:
    """Violations grouped by rule, impact and element, each with the pages it was found on."""
    groups: dict[tuple[str, str, str, str], list[Violation]] = defaultdict(list)
    for audit in audits:
        for v in audit.violations:
            groups[(v.rule, v.impact, v.help, v.target)].append(v)
    states = sum(len(a.states) for a in audits)
    lines = [
        f"{sum(len(vs) for vs in groups.values())} WCAG 2.1 A/AA violation(s) of {len(groups)} kind(s) "
        f"on {states} page state(s) in {seconds:.0f} s:"
    ]
    for (rule, impact, help_, target), found in sorted(groups.items()):
        most = max(v.nodes for v in found)
        where = sorted({f"{v.state} {v.url} [{v.role}/{v.lang}]" for v in found})
        lines.append(f"- {rule} ({impact}): {help_}")
        lines.append(f"    first element: {target}" + (f" (up to {most} elements)" if most > 1 else ""))
        lines += [f"    on {w}" for w in where[:8]]
        if len(where) > 8:
            lines.append(f"    … and {len(where) - 8} more")
    for audit in audits:
        lines += [f"! {audit.role}/{audit.lang}: {p}" for p in audit.problems]
    return "\n".join(lines)


def assert_accessible(audits: list[Audit], started: float) -> None:
    text = report(audits, time.monotonic() - started)
    print(text)
    assert not any(a.violations or a.problems for a in audits), text


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


@pytest.fixture
def axe_script() -> Path:
    if not AXE.is_file():
        message = (
            f"axe-core is not installed ({AXE} is missing; run `make install` or `npm ci`): "
            "the browser accessibility suite needs it"
        )
        if REQUIRE_SERVERS:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return AXE


def open_page(page, axe_script: Path, base: str, lang: str, user=None) -> None:
    """axe in every document ``page`` loads; ``user`` logged in through the form; ``lang`` chosen."""
    page.add_init_script(path=str(axe_script))
    if user is not None:
        log_in(page, base, user.email)
        assert "/login" not in page.url, f"{user.email} could not log in"
    page.goto(f"{base}/lang/{lang}")


def log_in(page, base: str, email: str, password: str = PASSWORD):
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_navigation() as navigation:
        page.click("form.login button[type=submit]")
    return navigation.value


def submit(page, button: str):
    """Click a form's submit button; the response of the page it loads."""
    with page.expect_navigation() as navigation:
        page.click(button)
    return navigation.value


def pages_for(app, params: dict[str, object], who: str) -> list[tuple[str, str]]:
    """(endpoint, url) of every GET page the access matrix lets ``who`` open."""
    adapter = app.url_map.bind("kvarn.test")
    pages = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint in NOT_PAGES:
            continue
        if rule.rule.endswith(DOWNLOADS) or rule.rule.startswith("/dev/"):
            continue
        if EXPECTED.get(rule.endpoint, {}).get(who) != OK:
            continue  # not for this role (the access matrix tests the refusal); or unknown there
        values = {name: params[name] for name in rule.arguments}
        pages.append((rule.endpoint, adapter.build(rule.endpoint, {**values, **QUERY.get(rule.endpoint, {})})))
    return pages


@pytest.mark.parametrize("role", ROLES)
def test_every_page_a_role_can_open_passes_axe(app, axe_script, role):
    started = time.monotonic()
    world = build_world()
    user = world.users[ROLES[role]]
    pages = pages_for(app, world.params, ROLES[role])
    assert len(pages) > 5, pages
    audits = []
    with live_server(app) as base:
        for lang, locale in LANGUAGES.items():
            with browser_page(locale) as page:
                audit = Audit(role, lang, base)
                audits.append(audit)
                open_page(page, axe_script, base, lang, user)
                for endpoint, url in pages:
                    audit.visit(page, endpoint, url)
    assert_accessible(audits, started)


def error_states(page, audit: Audit, base: str, world) -> None:
    """Forms sent empty or wrong, a bad filter, refused links, 404 and 403: each checked."""
    event_id, token = world.params["event_id"], world.params["token"]
    organiser = world.users["organiser"]

    # The public listing with a date range that ends before it starts.
    response = page.goto(f"{base}/events?date_from=2030-01-02&date_to=2030-01-01")
    audit.expect_error(page, "listing with a bad date filter", response, {400})

    # The sign-up form sent empty.
    page.goto(f"{base}/events/{event_id}")
    response = submit(page, "form.signup > button[type=submit]")
    audit.expect_error(page, "sign-up form sent empty", response, {400})

    # The personal page's "change your details" with the name emptied.
    page.goto(f"{base}/r/{token}")
    page.click("details.change summary")
    page.fill("form[action$='/details'] #name", "")
    response = submit(page, "form[action$='/details'] button[type=submit]")
    audit.expect_error(page, "change of details with an empty name", response, {400})

    # Links that no longer work, and a page that does not exist.
    response = page.goto(f"{base}/r/email/not-a-valid-change")
    audit.expect_error(page, "refused email-change link", response, {404, 410})
    response = page.goto(f"{base}/password/reset/not-a-valid-link")
    audit.expect_error(page, "refused password link", response, {404, 410})
    response = page.goto(f"{base}/events/987654321")
    audit.expect_error(page, "404 page", response, {404})

    # The subscribe form sent empty, and a confirmation link that no longer works.
    page.goto(f"{base}/subscriptions")
    response = submit(page, "form.subscribe-form button[type=submit]")
    audit.expect_error(page, "subscribe form sent empty", response, {400})
    response = page.goto(f"{base}/subscriptions/confirm/not-a-valid-link")
    audit.expect_error(page, "refused subscription link", response, {404})

    # The evaluation sent without a single answer, and a forged certificate code.
    page.goto(f"{base}/evaluations/{world.params['evaluation_token']}")
    response = submit(page, "form.evaluation-form button[type=submit]")
    audit.expect_error(page, "evaluation sent empty", response, {400})
    response = page.goto(f"{base}/certificates/verify?code=ABCD-EFGH-JKMN")
    audit.check(page, "certificate check with a forged code")

    # Log-in with the wrong password, then the real one.
    response = log_in(page, base, organiser.email, "not-the-password")
    audit.expect_error(page, "log-in with a wrong password", response, {400, 401})
    log_in(page, base, organiser.email)
    assert "/login" not in page.url, "the organiser could not log in"
    audit.role = "organiser"

    # The staff "new event" form sent empty, and a page for administrators only.
    page.goto(f"{base}/staff/events/new")
    response = submit(page, "form.event-form button[data-once]")
    audit.expect_error(page, "new event form sent empty", response, {400})
    # The check-in page's walk-in form sent empty (it opens with its error summary).
    page.goto(f"{base}/staff/events/{event_id}/checkin")
    page.click("details.walk-in summary")
    response = submit(page, "details.walk-in button[type=submit]")
    audit.expect_error(page, "walk-in form sent empty", response, {400})
    response = page.goto(f"{base}/staff/admin/users")
    audit.expect_error(page, "403 page", response, {403})


def test_error_states_pass_axe(app, axe_script):
    started = time.monotonic()
    world = build_world()
    audits = []
    with live_server(app) as base:
        for lang, locale in LANGUAGES.items():
            with browser_page(locale) as page:
                audit = Audit("anonymous", lang, base)
                audits.append(audit)
                open_page(page, axe_script, base, lang)
                error_states(page, audit, base, world)
    assert_accessible(audits, started)
