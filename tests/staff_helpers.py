"""Staff users and log-in for page tests.

``make_user`` stores a cheap PBKDF2 hash so tests stay fast; log-in still goes
through the real /login form and ``check_password_hash``. Tests about password
hashing itself use ``app.accounts.users.create_user`` (Werkzeug's default, scrypt).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from html.parser import HTMLParser
from itertools import count

import sqlalchemy as sa
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

from app.core.database import write_transaction
from app.core.extensions import db
from app.models import AuditEntry, Organisation, OutboxMessage, Role, User
from tests.browser import browser_page  # noqa: F401  (the shared Chromium; skips without it)

PASSWORD = "correct-horse-battery"
_seq = count(1)


def make_user(
    role: Role | str = Role.ORGANISER,
    email: str | None = None,
    organisation: Organisation | str | None = None,
    password: str = PASSWORD,
    active: bool = True,
) -> User:
    """A staff user; a coordinator gets ``organisation`` (an Organisation or a name, made if new)."""
    role = Role(role)

    def work() -> User:
        org = organisation
        if isinstance(org, str):
            org = db.session.scalar(sa.select(Organisation).where(Organisation.name == org))
            if org is None:
                org = Organisation(name=organisation)
                db.session.add(org)
                db.session.flush()
        n = next(_seq)
        user = User(
            email=email or f"{role.value}{n}@kvarn.example",
            name=f"{role.value.title()} {n}",
            role=role,
            organisation_id=org.id if org is not None else None,
            active=active,
            password_hash=generate_password_hash(password, method="pbkdf2:sha256:1000"),
        )
        db.session.add(user)
        db.session.flush()
        return user

    return write_transaction(work)


def login(client, email: str, password: str = PASSWORD, next: str | None = None):
    """Post the log-in form; returns the response (a redirect when it worked)."""
    url = "/login" if next is None else f"/login?next={next}"
    return client.post(url, data={"email": email, "password": password, "next": next or ""})


def login_as(client, role: Role | str = Role.ORGANISER, lang: str | None = "en", **fields) -> User:
    """A new user of ``role``, logged in. Pages come in English (``lang``) so assertions
    on messages hold once the Swedish catalogue translates them; None keeps Swedish."""
    user = make_user(role, **fields)
    if lang:
        client.get(f"/lang/{lang}")
    response = login(client, user.email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return user


def audit_actions(user_id: int | None = None) -> list[str]:
    query = sa.select(AuditEntry.action).order_by(AuditEntry.id)
    if user_id is not None:
        query = query.where(AuditEntry.user_id == user_id)
    return list(db.session.scalars(query))


def outbox(kind: str | None = None) -> list[tuple[str, str]]:
    """(kind, recipient) of queued mail, in queue order."""
    query = sa.select(OutboxMessage.kind, OutboxMessage.recipient).order_by(OutboxMessage.id)
    if kind is not None:
        query = query.where(OutboxMessage.kind == kind)
    return [tuple(row) for row in db.session.execute(query)]


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, list[tuple[str, str]]]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append((attrs.get("action", ""), []))
        elif tag == "input" and self.forms and attrs.get("name"):
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.forms[-1][1].append((attrs["name"], attrs.get("value", "")))


def form_inputs(html: str, action: str) -> dict[str, str]:
    """The inputs a browser would send from the page's form posting to ``action``."""
    parser = _Forms()
    parser.feed(html)
    for form_action, fields in parser.forms:
        if form_action == action:
            return dict(fields)
    raise AssertionError(f"no form posting to {action}")


@contextmanager
def live_server(app):
    """Serve ``app`` on a free local port in a thread (for a real browser); yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)

