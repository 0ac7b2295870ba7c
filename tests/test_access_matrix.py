"""Every route of the app against every kind of visitor, from app.url_map.

A new route must be added to EXPECTED (who may use it) and, if it has a new path
parameter, to ``params`` (a real object to fill it with); otherwise this test fails.
So nobody can add a route without deciding its access.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import openpyxl
import pytest
import sqlalchemy as sa

from app.accounts import passwords
from app.core import clock
from app.core.database import write_transaction
from app.core.extensions import db
from app.models import (
    Evaluation,
    EvaluationInvitation,
    EvaluationQuestion,
    EventKind,
    EventStatus,
    OutboxMessage,
    OutboxStatus,
    Registration,
    Role,
    Subscription,
    SubscriptionFrequency,
)
from app.privacy import links
from app.registrations import details
from app.subscriptions import subscribing
from tests import factories as f
from tests.staff_clients import logged_in
from tests.staff_helpers import make_user

ROLES = ("anonymous", "coordinator_a", "coordinator_b", "organiser", "admin")

OK = "ok"  # allowed: a page, a download, a redirect (not to log-in) or a refused form
LOGIN = "login"  # sent to the log-in page
FORBIDDEN = "403"

PUBLIC = dict.fromkeys(ROLES, OK)
ALL_STAFF = {"anonymous": LOGIN, "coordinator_a": OK, "coordinator_b": OK, "organiser": OK, "admin": OK}
ORGANISERS = {"anonymous": LOGIN, "coordinator_a": FORBIDDEN, "coordinator_b": FORBIDDEN, "organiser": OK, "admin": OK}
ADMINS = {"anonymous": LOGIN, "coordinator_a": FORBIDDEN, "coordinator_b": FORBIDDEN, "organiser": FORBIDDEN, "admin": OK}

#: The roles a ``roles_required`` view must name for each kind of access.
DECORATOR_ROLES = {
    id(ALL_STAFF): {Role.ADMIN, Role.ORGANISER, Role.COORDINATOR},
    id(ORGANISERS): {Role.ADMIN, Role.ORGANISER},
    id(ADMINS): {Role.ADMIN},
}

EXPECTED: dict[str, dict[str, str]] = {
    # Public pages and the manage link.
    "static": PUBLIC,
    "public.index": PUBLIC,
    "public.events": PUBLIC,
    "public.event": PUBLIC,
    "public.register": PUBLIC,
    "public.archive": PUBLIC,
    "public.event_calendar": PUBLIC,
    "public.feed_rss": PUBLIC,  # the listing's feeds and calendar subscription
    "public.feed_atom": PUBLIC,
    "public.feed_calendar": PUBLIC,
    "public.embed_events": PUBLIC,  # the list other sites may frame
    "public.manage": PUBLIC,
    "public.cancel": PUBLIC,
    "public.edit_details": PUBLIC,  # the personal link is the key
    "public.change_email": PUBLIC,
    "public.confirm_email": PUBLIC,
    "public.calendar": PUBLIC,
    # A person's own data: asked for from the personal link, opened by the link mailed to
    # the registration's address (that link is the key).
    "public.own_data_request": PUBLIC,
    "public.own_data_download": PUBLIC,
    "public.erasure_request": PUBLIC,
    "public.erasure_confirm": PUBLIC,
    "public.team": PUBLIC,  # the team link is the key
    "public.team_add_member": PUBLIC,
    "public.team_cancel_member": PUBLIC,
    "public.team_cancel": PUBLIC,
    "public.team_keep": PUBLIC,
    "public.set_language": PUBLIC,
    "public.privacy": PUBLIC,
    "public.accessibility": PUBLIC,
    "public.contact": PUBLIC,
    # Subscriptions to new events: the personal link is the key; one-click unsubscribe.
    "public.subscribe": PUBLIC,
    "public.subscription_sent": PUBLIC,
    "public.subscription_confirm": PUBLIC,
    "public.subscription": PUBLIC,
    "public.subscription_change": PUBLIC,
    "public.subscription_unsubscribe": PUBLIC,
    # After the course: the evaluation link is the key; the certificate comes from the
    # personal link; anyone may check a certificate's code.
    "public.evaluation": PUBLIC,
    "public.certificate": PUBLIC,
    "public.certificate_verify": PUBLIC,
    "auth.login": PUBLIC,
    "auth.logout": PUBLIC,
    "auth.login_code": dict.fromkeys(ROLES, LOGIN),  # without a password step first
    "auth.forgot": PUBLIC,
    "auth.choose_password": PUBLIC,  # the link is the key
    # Every staff role: figures for all, names only for one's own organisation.
    "staff.home": ALL_STAFF,
    "staff.dashboard": ALL_STAFF,
    "staff.dashboard_event": ALL_STAFF,
    "staff.export_csv": ALL_STAFF,
    "staff.export_xlsx": ALL_STAFF,
    "staff.account": ALL_STAFF,
    "staff.account_password": ALL_STAFF,
    "staff.two_step_setup": ALL_STAFF,
    "staff.two_step_off": ALL_STAFF,
    # Announcing free seats (coordinators: to subscribers of their own organisation), posters.
    "staff.event_announcement": ALL_STAFF,
    "staff.event_announcement_html": ALL_STAFF,
    "staff.event_announcement_send": ALL_STAFF,
    "staff.event_announcement_progress": ALL_STAFF,
    "staff.event_poster": ALL_STAFF,
    # Evaluations: organisers edit; every role sees the summary it may see (coordinators:
    # their own organisation's, in groups of at least EVALUATION_MIN_GROUP) and exports it.
    "staff.event_evaluation_summary": ALL_STAFF,
    "staff.event_evaluation_csv": ALL_STAFF,
    "staff.event_evaluation_xlsx": ALL_STAFF,
    "staff.event_evaluation": ORGANISERS,
    "staff.event_evaluation_questions": ORGANISERS,
    "staff.event_evaluation_certificate": ORGANISERS,
    # Organisers (and admins) run the events.
    "staff.events": ORGANISERS,
    "staff.event_new": ORGANISERS,
    "staff.event_detail": ORGANISERS,
    "staff.event_edit": ORGANISERS,
    "staff.event_publish": ORGANISERS,
    "staff.event_gauge": ORGANISERS,
    "staff.event_close": ORGANISERS,
    "staff.event_reopen": ORGANISERS,
    "staff.event_confirm": ORGANISERS,
    "staff.event_cancel": ORGANISERS,
    "staff.event_reminder": ORGANISERS,
    "staff.event_reminder_html": ORGANISERS,
    "staff.event_reminder_send": ORGANISERS,
    "staff.event_reminder_progress": ORGANISERS,
    "staff.event_messages": ORGANISERS,
    "staff.event_messages_send": ORGANISERS,
    "staff.event_messages_html": ORGANISERS,
    "staff.event_messages_progress": ORGANISERS,
    "staff.registrations": ORGANISERS,
    "staff.registration_cancel": ORGANISERS,
    "staff.registration_promote": ORGANISERS,
    "staff.checkin": ORGANISERS,
    "staff.checkin_mark": ORGANISERS,
    "staff.checkin_walk_in": ORGANISERS,  # a walk-in at the door, checked in at once
    "staff.outbox": ORGANISERS,
    "staff.outbox_retry": ORGANISERS,
    "staff.attendance": ORGANISERS,
    "staff.audit": ORGANISERS,
    "staff.audit_csv": ORGANISERS,  # the archive copy: the same entries as the page
    # Admins only.
    "staff.admin_organisations": ADMINS,
    "staff.admin_organisation_create": ADMINS,
    "staff.admin_organisation_edit": ADMINS,
    "staff.admin_organisation_deactivate": ADMINS,
    "staff.admin_organisation_activate": ADMINS,
    "staff.admin_users": ADMINS,
    "staff.admin_user_new": ADMINS,
    "staff.admin_user_reset_link": ADMINS,
    "staff.admin_user_role": ADMINS,
    "staff.admin_user_deactivate": ADMINS,
    "staff.admin_user_activate": ADMINS,
}

#: Query strings some pages need to show their content rather than a 404.
QUERY = {
    "staff.event_reminder_progress": {"label": "manual-0123456789abcdef"},
    "staff.event_messages_progress": {"label": "m-0123456789abcdef"},
}

#: Statuses that mean "allowed" for a form sent without its fields: refused input.
REFUSED_INPUT = {400, 409, 422}

NAMES = {
    "a": ("Agnes Alingsåsdotter", "agnes.a@alingsas.example"),
    "b": ("Bror Lerumsson", "bror.b@lerum.example"),
}


@dataclass
class World:
    params: dict[str, object]
    users: dict[str, object]


def build_world() -> World:
    org_a, org_b = f.organisation("Alingsås kommun"), f.organisation("Lerums kommun")
    spare_org = f.organisation("Reservkommun")  # for the admin's state-changing buttons
    course = f.event(capacity=1, sessions=2, title="Kurs för matrisen")
    lecture = f.event(
        status=EventStatus.GAUGING, kind=EventKind.LECTURE, interest_threshold=5, title="Föreläsning"
    )
    for event in (course, lecture):
        for key, org in (("a", org_a), ("b", org_b)):
            name, email = NAMES[key]
            f.sign_up(event.id, org.id, name=name, email=email)
    spare = f.sign_up(course.id, org_a.id, name="Reserv Person", email="reserv@alingsas.example")
    team = f.team(course.id, org_a.id, ["lag.ett", "lag.tva", "lag.tre"])

    def failed_message() -> OutboxMessage:
        message = OutboxMessage(
            dedupe_key="matrix-failed",
            kind="confirmation",
            recipient="bror.b@lerum.example",
            sender="Kvarn <noreply@kvarn.test>",
            subject="Ämne",
            body_text="Text",
            body_html="<p>Text</p>",
            message_id="<matrix@kvarn.test>",
            status=OutboxStatus.FAILED,
            event_id=course.id,
        )
        db.session.add(message)
        db.session.flush()
        return message

    message = write_transaction(failed_message)
    weekly = subscribing.Choice(SubscriptionFrequency.WEEKLY, organisation_ids=frozenset({org_a.id}))
    subscribing.subscribe("bevakning@alingsas.example", weekly, "sv")
    subscription = subscribing.confirm(
        db.session.scalar(sa.select(Subscription.confirm_token).where(Subscription.email == "bevakning@alingsas.example"))
    )
    subscribing.subscribe("obekraftad@lerum.example", weekly, "sv")
    unconfirmed = db.session.scalar(sa.select(Subscription).where(Subscription.email == "obekraftad@lerum.example"))
    evaluation_token = write_transaction(lambda: _evaluation_link(lecture.id, NAMES["a"][1]))
    users = {
        "anonymous": None,
        "coordinator_a": make_user(Role.COORDINATOR, organisation=org_a),
        "coordinator_b": make_user(Role.COORDINATOR, organisation=org_b),
        "organiser": make_user(Role.ORGANISER),
        "admin": make_user(Role.ADMIN),
    }
    spare_user = make_user(Role.ORGANISER)
    params = {
        "event_id": course.id,
        "registration_id": spare.registration.id,
        "message_id": message.id,
        "organisation_id": spare_org.id,
        "user_id": spare_user.id,
        "token": spare.registration.manage_token,
        "code": "en",
        "filename": "kvarn.css",
        "purpose": passwords.RESET,
        "link": passwords.make_token(spare_user, passwords.RESET),
        "change": details.email_change_token(spare.registration, "ny.adress@alingsas.example"),
        "subscription_token": subscription.manage_token,
        "team_token": team.manage_token,
        "member_id": team.placed[1][1].id,
        "confirm_token": unconfirmed.confirm_token,
        # Not the spare's: /r/email/<change> moves that registration to another address.
        "data_link": links.make(links.OWN_DATA, team.placed[1][1]),
        # A team member no other route uses: the first POST erases them, later ones are told so.
        "erasure_link": links.make(links.ERASURE, team.placed[2][1]),
        "evaluation_token": evaluation_token,
    }
    return World(params, users)


def _evaluation_link(event_id: int, email: str) -> str:
    """A sent evaluation of ``event_id`` and the personal link of the person ``email``."""
    evaluation = Evaluation(event_id=event_id, enabled=True, sent_at=clock.now())
    evaluation.questions.append(EvaluationQuestion(position=1, kind="rating", text="Hur nöjd är du?"))
    evaluation.questions.append(EvaluationQuestion(position=2, kind="text", text="Vad var bäst?"))
    db.session.add(evaluation)
    db.session.flush()
    registration_id = db.session.scalar(
        sa.select(Registration.id).where(Registration.event_id == event_id, Registration.email == email)
    )
    invitation = EvaluationInvitation(
        evaluation_id=evaluation.id, registration_id=registration_id, invited_at=clock.now()
    )
    db.session.add(invitation)
    db.session.flush()
    return invitation.token


def requests_to_make(app, params: dict[str, object]) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(endpoint, method, url) for every route and method; and the problems found."""
    adapter = app.url_map.bind("kvarn.test")
    calls, problems = [], []
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in EXPECTED:
            problems.append(f"{rule.endpoint} ({rule.rule}) is not in EXPECTED: decide who may use it")
            continue
        unknown = sorted(set(rule.arguments) - set(params))
        if unknown:
            problems.append(f"{rule.endpoint} ({rule.rule}) has unknown parameters {unknown}: add real objects")
            continue
        values = {name: params[name] for name in rule.arguments}
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            url = adapter.build(rule.endpoint, {**values, **QUERY.get(rule.endpoint, {})}, method=method)
            calls.append((rule.endpoint, method, url))
    stale = set(EXPECTED) - {rule.endpoint for rule in app.url_map.iter_rules()}
    problems += [f"{endpoint} is in EXPECTED but no longer a route" for endpoint in sorted(stale)]
    return calls, problems


def outcome(response) -> str:
    if response.status_code in (302, 303) and "/login" in response.headers.get("Location", ""):
        return LOGIN
    if response.status_code == 403:
        return FORBIDDEN
    if response.status_code < 400 or response.status_code in REFUSED_INPUT:
        return OK
    return str(response.status_code)


def test_every_route_has_the_expected_access(app):
    world = build_world()
    calls, problems = requests_to_make(app, world.params)
    assert not problems, "\n".join(problems)

    for endpoint, expected in EXPECTED.items():
        view = app.view_functions[endpoint]
        if endpoint.startswith("staff."):
            allowed = getattr(view, "allowed_roles", None)
            assert allowed is not None, f"{endpoint} is not wrapped in roles_required"
            assert set(allowed) == DECORATOR_ROLES[id(expected)], endpoint

    clients = {role: logged_in(app, user) for role, user in world.users.items()}
    wrong = []
    # Pages first, then the forms (which may change what the pages would show).
    for endpoint, method, url in sorted(calls, key=lambda c: c[1] != "GET"):
        # Log-out last: it would end the session the other calls need.
        if endpoint == "auth.logout":
            continue
        for role in ROLES:
            response = clients[role].open(url, method=method)
            got = outcome(response)
            if got != EXPECTED[endpoint][role] or (method == "GET" and got == OK and response.status_code >= 400):
                wrong.append(f"{method} {url} ({endpoint}) as {role}: {response.status_code}, expected {EXPECTED[endpoint][role]}")
            response.close()
    for role in ROLES:
        response = clients[role].post("/logout")
        assert outcome(response) == OK, role
    assert not wrong, "\n".join(wrong)


def test_a_route_with_an_unknown_parameter_fails_the_matrix(app):
    """The guard itself: a route nobody classified, or with a parameter nobody filled, is reported."""
    world = build_world()
    app.add_url_rule("/staff/new-thing/<int:widget_id>", "staff.new_thing", lambda widget_id: "")
    EXPECTED["staff.new_thing"] = ORGANISERS
    try:
        _calls, problems = requests_to_make(app, world.params)
    finally:
        del EXPECTED["staff.new_thing"]
    assert problems == [
        "staff.new_thing (/staff/new-thing/<int:widget_id>) has unknown parameters ['widget_id']: add real objects"
    ]
    _calls, problems = requests_to_make(app, world.params)
    assert problems == [
        "staff.new_thing (/staff/new-thing/<int:widget_id>) is not in EXPECTED: decide who may use it"
    ]


def _text(response) -> str:
    if response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
        book = openpyxl.load_workbook(io.BytesIO(response.data))
        return "\n".join(
            str(value) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for value in row
        )
    return response.get_data(as_text=True)


@pytest.mark.parametrize(("me", "other"), [("a", "b"), ("b", "a")])
def test_coordinators_never_see_names_from_another_organisation(app, me, other):
    world = build_world()
    client = logged_in(app, world.users[f"coordinator_{me}"])
    calls, problems = requests_to_make(app, world.params)
    assert not problems
    pages = [
        (endpoint, url)
        for endpoint, method, url in calls
        if method == "GET" and EXPECTED[endpoint][f"coordinator_{me}"] == OK
    ]
    # The lecture too, and the dashboard page of each event.
    lecture_id = world.params["event_id"] + 1
    pages += [
        ("staff.dashboard_event", f"/staff/dashboard/events/{lecture_id}"),
        ("staff.export_csv", f"/staff/events/{lecture_id}/registrations.csv"),
        ("staff.export_xlsx", f"/staff/events/{lecture_id}/registrations.xlsx"),
    ]
    seen_own = set()
    for endpoint, url in pages:
        response = client.get(url)
        assert response.status_code < 400, (url, response.status_code)
        text = _text(response)
        for secret in NAMES[other]:
            assert secret not in text, f"{url} ({endpoint}) shows {secret!r} to coordinator {me}"
        if NAMES[me][0] in text:
            seen_own.add(endpoint)
    # And they do see their own people where names are shown (the check above can fail).
    assert {"staff.dashboard_event", "staff.export_csv", "staff.export_xlsx"} <= seen_own
