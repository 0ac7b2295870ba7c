"""Fixtures: an app per database backend, a clean database per test.

SQLite always runs. PostgreSQL and MariaDB run when KVARN_TEST_POSTGRES_URL and
KVARN_TEST_MARIADB_URL are set; otherwise their tests skip with the reason.
With KVARN_TEST_REQUIRE_SERVERS=1 (set by .ci/run) a missing server fails instead.
``app`` is SQLite only; ``db_app`` runs the test once per backend.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask import g
from flask.testing import FlaskClient

from app import create_app
from app.core import clock
from app.core.database import write_transaction
from app.core.extensions import db

SERVER_ENV = {
    "postgresql": "KVARN_TEST_POSTGRES_URL",
    "mariadb": "KVARN_TEST_MARIADB_URL",
}
BACKENDS = ["sqlite", "postgresql", "mariadb"]
REQUIRE_SERVERS = os.environ.get("KVARN_TEST_REQUIRE_SERVERS") == "1"

_migrated: dict[str, str] = {}


def base_config(url: str) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SECRET_KEY": "test-secret",
        "BASE_URL": "http://kvarn.test",
        "MAIL_DEFAULT_SENDER": "Kvarn <noreply@kvarn.test>",
        "SERVER_NAME": None,
    }


def backend_url(backend: str, tmp_root: Path) -> str:
    """The URL for a backend, migrated to head once per test session (or skip)."""
    if backend in _migrated:
        return _migrated[backend]
    if backend == "sqlite":
        url = f"sqlite:///{tmp_root / 'kvarn-test.sqlite3'}"
    else:
        url = os.environ.get(SERVER_ENV[backend])
        if not url:
            message = f"{SERVER_ENV[backend]} is not set: the {backend} suite needs a server"
            if REQUIRE_SERVERS:
                pytest.fail(message)
            pytest.skip(message)
    app = create_app(base_config(url))
    with app.app_context():
        from flask_migrate import upgrade

        if backend != "sqlite":
            drop_everything()
        upgrade()
    _migrated[backend] = url
    return url


def drop_everything() -> None:
    """Start a server database from nothing, so the migrations are what is tested."""
    import sqlalchemy as sa

    with db.engine.begin() as conn:
        inspector = sa.inspect(conn)
        if conn.dialect.name in ("mysql", "mariadb"):
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
            for table in inspector.get_table_names():
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS `{table}`")
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")
        else:
            for table in inspector.get_table_names():
                conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{table}" CASCADE')


def empty_tables() -> None:
    def work():
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())

    write_transaction(work)


@pytest.fixture(scope="session")
def tmp_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("db")


class FreshGClient(FlaskClient):
    """A test client whose every request starts with an empty ``g``.

    The fixtures keep one app context open for the whole test, and a test request
    reuses it; without this, what extensions cache on ``g`` (Flask-Login's user,
    Flask-Babel's locale) would leak from one request, or client, into the next.
    In production every request has its own app context.
    """

    def open(self, *args, **kwargs):
        for name in list(vars(g)):
            delattr(g, name)
        return super().open(*args, **kwargs)


def _app_for(backend: str, tmp_root: Path, extra: dict | None = None):
    url = backend_url(backend, tmp_root)
    app = create_app({**base_config(url), **(extra or {})})
    app.test_client_class = FreshGClient
    with app.app_context():
        empty_tables()
        yield app
        db.session.remove()
        empty_tables()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app_config() -> dict:
    """Override in a test module to change configuration."""
    return {}


@pytest.fixture
def app(tmp_root, app_config):
    """The app on SQLite, inside an app context, with empty tables."""
    yield from _app_for("sqlite", tmp_root, app_config)


@pytest.fixture(params=BACKENDS)
def db_app(request, tmp_root, app_config):
    """The app on each database backend in turn."""
    yield from _app_for(request.param, tmp_root, app_config)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(autouse=True)
def _reset_clock():
    yield
    clock.travel(None)
