"""The bare baseline for bench/rush.py: the least a sign-up endpoint can do.

One Flask endpoint, POST /events/<id>/register, that reads the same form fields as Kvarn's
and inserts one row with the raw driver (sqlite3 or psycopg) in one transaction, then
redirects. No ORM, no validation, no seats logic, no mail. It runs under gunicorn with the
same settings as Kvarn:

    BENCH_BASELINE_URL=sqlite:////tmp/x.sqlite3 gunicorn -w 4 'bench.baseline_app:create_app()'

The table ``bench_baseline`` must exist (rush.py creates it with ``create_table``).
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime

from flask import Flask, redirect, request
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


def create_app() -> Flask:
    url = os.environ["BENCH_BASELINE_URL"]
    app = Flask(__name__)
    state: dict = {}  # one connection per worker process, made on its first request

    def connection():
        if "conn" not in state:
            state["conn"] = _connect(url)
        return state["conn"]

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
