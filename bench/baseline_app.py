"""The baselines for bench/rush.py: what a sign-up costs without Kvarn's code around it.

Two Flask apps, each with one endpoint, POST /events/<id>/register, that reads the same
form fields as Kvarn's and works with the raw driver (sqlite3 or psycopg) and string
formatting: no ORM, no form library, no templates. Both run under gunicorn with the same
settings as Kvarn (one connection per worker process):

    BENCH_BASELINE_URL=sqlite:////tmp/x.sqlite3 gunicorn -w 2 'bench.baseline_app:create_app()'
    BENCH_BASELINE_URL=... BENCH_SAMEWORK_FROM_EVENT=1 \\
        gunicorn -w 2 'bench.baseline_app:create_samework_app()'

``create_app``, the bare INSERT: one row into the table ``bench_baseline`` (``create_table``
makes it) in one transaction, then a redirect. No validation, no seats logic, no mail.

``create_samework_app``, the same work as a Kvarn sign-up, on Kvarn's own migrated tables
and indexes: in one transaction (``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE``
on the event row on PostgreSQL) it reads the event, an earlier registration by the form's
key or the email (as Kvarn does, in one statement), the seated and waiting counts, decides
a seat or the waiting list (seat only while seats are free and nobody waits), inserts the
registration (every NOT NULL column, a random 32-byte urlsafe manage token) and one
``outbox_message`` row holding a finished message, commits and redirects (303) to the
personal link. The message is one of Kvarn's real ones: at start-up it copies, from the
database, the first confirmation (text, HTML, ``.ics``, finished bytes) and the first
waiting-list mail Kvarn queued for the event ``BENCH_SAMEWORK_FROM_EVENT``, and each row
gets that message with its own Message-ID, address, name and link filled in by string
formatting. So Kvarn must have signed people up in the database first (rush.py does). An
earlier registration by the same email or key writes nothing and redirects (Kvarn would
mail the link again: the rush never sends that).
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import uuid
from datetime import UTC, datetime

from flask import Flask, abort, redirect, request
from sqlalchemy.engine import make_url

TABLE = """
CREATE TABLE IF NOT EXISTS bench_baseline (
    id {pk},
    event_id INTEGER NOT NULL,
    name VARCHAR(120) NOT NULL,
    email VARCHAR(254) NOT NULL,
    organisation_id INTEGER NOT NULL,
    work_team VARCHAR(120) NOT NULL,
    needs VARCHAR(1000) NOT NULL,
    created_at VARCHAR(40) NOT NULL
)
"""
INSERT = (
    "INSERT INTO bench_baseline "
    "(event_id, name, email, organisation_id, work_team, needs, created_at) "
    "VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})"
)


def _connect(url: str):
    """A connection like Kvarn's: SQLite in WAL with the same pragmas, or psycopg."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        conn = sqlite3.connect(parsed.database, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn
    import psycopg

    return psycopg.connect(parsed.set(drivername="postgresql").render_as_string(False))


def create_table(url: str) -> None:
    conn = _connect(url)
    try:
        if isinstance(conn, sqlite3.Connection):
            conn.execute(TABLE.format(pk="INTEGER PRIMARY KEY"))
        else:
            conn.execute(TABLE.format(pk="SERIAL PRIMARY KEY"))
            conn.commit()
    finally:
        conn.close()


def count_rows(url: str, event_id: int) -> int:
    conn = _connect(url)
    try:
        sql = "SELECT count(*) FROM bench_baseline WHERE event_id = {p}"
        p = "?" if isinstance(conn, sqlite3.Connection) else "%s"
        return conn.execute(sql.format(p=p), (event_id,)).fetchone()[0]
    finally:
        conn.close()


def _per_worker_connection(url: str):
    state: dict = {}  # one connection per worker process, made on its first request

    def connection():
        if "conn" not in state:
            state["conn"] = _connect(url)
        return state["conn"]

    return connection


def create_app() -> Flask:
    """The bare INSERT baseline."""
    url = os.environ["BENCH_BASELINE_URL"]
    app = Flask(__name__)
    connection = _per_worker_connection(url)

    @app.post("/events/<int:event_id>/register")
    def register(event_id: int):
        form = request.form
        row = (
            event_id,
            form["name"],
            form["email"],
            int(form["organisation"]),
            form.get("work_team", ""),
            form.get("needs", ""),
            datetime.now(UTC).isoformat(),
        )
        conn = connection()
        if isinstance(conn, sqlite3.Connection):
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(INSERT.format(p="?"), row)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        else:
            with conn.transaction():
                conn.execute(INSERT.format(p="%s"), row)
        return redirect(f"/events/{event_id}", 303)

    @app.get("/ping")
    def ping():
        return "ok"

    return app


# --- the same-work baseline -----------------------------------------------------------

# Kvarn's status values (app.models.RegistrationStatus, stored as their values).
SEATED = ("confirmed", "attended", "no_show")
CONFIRMED, WAITLISTED = "confirmed", "waitlisted"
#: The mail kind Kvarn queues for each status of a new registration (registrations.notices).
MAIL_KIND = {CONFIRMED: "confirmation", WAITLISTED: "waitlisted"}

SAMEWORK_SQL = {
    "lock": "SELECT capacity, waitlist_enabled, status FROM event WHERE id = {p}{for_update}",
    "earlier": (
        "SELECT id, event_id, email, manage_token FROM registration "
        "WHERE submission_key = {p} OR (event_id = {p} AND active_email = {p})"
    ),
    "counts": (
        "SELECT "
        "sum(CASE WHEN status IN ('confirmed', 'attended', 'no_show') THEN 1 ELSE 0 END), "
        "sum(CASE WHEN status = 'waitlisted' THEN 1 ELSE 0 END) "
        "FROM registration WHERE event_id = {p}"
    ),
    "registration": (
        "INSERT INTO registration (event_id, name, email, active_email, organisation_id, "
        "work_team, needs, locale, status, created_at, status_changed_at, manage_token, "
        "submission_key) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}) "
        "RETURNING id"
    ),
    "outbox": (
        "INSERT INTO outbox_message (dedupe_key, kind, recipient, sender, reply_to, subject, "
        "body_text, body_html, attachments, message_id, locale, wire, event_id, "
        "registration_id, status, attempts, next_attempt_at, created_at) VALUES "
        "({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, 'pending', 0, "
        "{p}, {p})"
    ),
    # The template: the first mail of a kind Kvarn queued for the event, with its person.
    "template": (
        "SELECT o.sender, o.reply_to, o.subject, o.body_text, o.body_html, "
        "CAST(o.attachments AS TEXT), o.message_id, o.locale, o.wire, "
        "r.name, r.email, r.manage_token "
        "FROM outbox_message o JOIN registration r ON r.id = o.registration_id "
        "WHERE o.kind = {p} AND r.event_id = {p} AND o.wire IS NOT NULL ORDER BY o.id LIMIT 1"
    ),
}


class MailTemplate:
    """One of Kvarn's queued messages with slots for what differs per person.

    The Message-ID, the personal link's token, the address and the name are replaced by
    ``%(...)s`` slots once; each new row is then one ``%`` formatting of the text, the
    HTML and the finished bytes (the same size as Kvarn's message, give or take the
    length of a name).
    """

    def __init__(self, row) -> None:
        (self.sender, self.reply_to, self.subject, body_text, body_html, self.attachments,
         message_id, self.locale, wire, name, email, token) = row
        slots = (("message_id", message_id), ("token", token), ("email", email), ("name", name))
        wire = bytes(wire)
        if message_id.encode() not in wire:
            raise RuntimeError("the template message's bytes do not hold its Message-ID")
        self.domain = message_id.rsplit("@", 1)[1].rstrip(">")
        self.size = len(wire)
        self.text = _with_slots(body_text, slots)
        self.html = _with_slots(body_html, slots)
        self.wire = _with_slots(wire, slots)

    def fill(self, message_id: str, token: str, email: str, name: str) -> tuple[str, str, bytes]:
        values = {"message_id": message_id, "token": token, "email": email, "name": name}
        raw = {k.encode(): v.encode() for k, v in values.items()}
        return self.text % values, self.html % values, self.wire % raw


def _with_slots(text, slots):
    """``text`` (str or bytes) with % escaped and each slot's value replaced by its slot."""
    if isinstance(text, bytes):
        text = text.replace(b"%", b"%%")
        for key, value in slots:
            text = text.replace(value.encode(), b"%(" + key.encode() + b")s")
        return text
    text = text.replace("%", "%%")
    for key, value in slots:
        text = text.replace(value, f"%({key})s")
    return text


def load_templates(url: str, event_id: int) -> dict[str, MailTemplate]:
    """Kvarn's first confirmation and first waiting-list mail for ``event_id``."""
    conn = _connect(url)
    try:
        p = "?" if isinstance(conn, sqlite3.Connection) else "%s"
        sql = SAMEWORK_SQL["template"].format(p=p)
        templates = {}
        for status, kind in MAIL_KIND.items():
            row = conn.execute(sql, (kind, event_id)).fetchone()
            if row is None:
                raise RuntimeError(
                    f"no {kind!r} mail of event {event_id} to copy: sign people up through "
                    "Kvarn in this database first"
                )
            templates[status] = MailTemplate(row)
        return templates
    finally:
        conn.close()


def create_samework_app() -> Flask:
    """The same-work baseline (see the module's docstring)."""
    url = os.environ["BENCH_BASELINE_URL"]
    templates = load_templates(url, int(os.environ["BENCH_SAMEWORK_FROM_EVENT"]))
    app = Flask(__name__)
    connection = _per_worker_connection(url)
    is_sqlite = make_url(url).get_backend_name() == "sqlite"
    p = "?" if is_sqlite else "%s"
    sql = {
        name: text.format(p=p, for_update="" if is_sqlite else " FOR UPDATE")
        for name, text in SAMEWORK_SQL.items()
    }

    def timestamp(now: datetime):
        # SQLAlchemy's format for SQLite (naive UTC, always with microseconds); psycopg
        # takes the naive UTC datetime itself.
        return now.isoformat(" ", "microseconds") if is_sqlite else now

    def sign_up(conn, event_id: int, form) -> str | None:
        """The transaction's work; the new manage token, or None when nothing was written."""
        event = conn.execute(sql["lock"], (event_id,)).fetchone()
        if event is None:
            abort(404)
        capacity, waitlist_enabled, event_status = event
        if event_status != "open":
            abort(400)
        email = form["email"].strip().lower()
        key = form.get("submission_key") or None
        if conn.execute(sql["earlier"], (key, event_id, email)).fetchone() is not None:
            return None
        seated, waiting = conn.execute(sql["counts"], (event_id,)).fetchone()
        if (seated or 0) < capacity and not waiting:
            status = CONFIRMED
        elif waitlist_enabled:
            status = WAITLISTED
        else:
            abort(409)
        name = " ".join(form["name"].split())
        now = timestamp(datetime.now(UTC).replace(tzinfo=None))
        token = secrets.token_urlsafe(32)
        (registration_id,) = conn.execute(
            sql["registration"],
            (event_id, name, email, email, int(form["organisation"]),
             form.get("work_team", ""), form.get("needs", ""), "sv", status, now, now, token, key),
        ).fetchone()
        mail = templates[status]
        message_id = f"<{uuid.uuid4().hex}@{mail.domain}>"
        text, html, wire = mail.fill(message_id, token, email, name)
        kind = MAIL_KIND[status]
        conn.execute(
            sql["outbox"],
            (f"{kind}:{registration_id}", kind, email, mail.sender, mail.reply_to, mail.subject,
             text, html, mail.attachments, message_id, mail.locale, wire, event_id,
             registration_id, now, now),
        )
        return token

    @app.post("/events/<int:event_id>/register")
    def register(event_id: int):
        conn = connection()
        if is_sqlite:
            conn.execute("BEGIN IMMEDIATE")
            try:
                token = sign_up(conn, event_id, request.form)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        else:
            with conn.transaction():
                token = sign_up(conn, event_id, request.form)
        if token is None:
            return redirect(f"/events/{event_id}", 303)
        return redirect(f"/r/{token}", 303)

    @app.get("/ping")
    def ping():
        return "ok"

    @app.get("/size")
    def size():
        return {status: mail.size for status, mail in templates.items()}

    return app
