"""Rate limits as deployed: gunicorn with several workers, counts shared in Redis, behind a
reverse proxy (``PROXY_FIX_X_FOR=1``), keyed on the real client and on the account.

The proxy is played by the test: every request carries the ``X-Forwarded-For`` a proxy
would add. Redis must run at ``KVARN_TEST_REDIS_URL`` (default redis://127.0.0.1:6379/0);
without it these tests skip and say so (in CI, with KVARN_TEST_REQUIRE_SERVERS=1, fail).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from app import create_app
from app.accounts.users import create_user
from tests.plugins.databases import REQUIRE_SERVERS
from tests.plugins.mail_sink import free_port

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("KVARN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = "rätt-lösenord-123"
WORKERS = 3


def redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        message = f"Redis is not reachable at {REDIS_URL} ({error}): the rate-limit suite needs it"
        if REQUIRE_SERVERS:
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def gunicorn(tmp_path: Path, **settings: str) -> Iterator[tuple[str, Path]]:
    """Kvarn under gunicorn with WORKERS workers on a fresh SQLite file; yields (url, log)."""
    database = f"sqlite:///{tmp_path / 'limits.sqlite3'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": database, "SECRET_KEY": "limits"})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        for name in ("anna", "bo"):
            create_user(f"{name}@kommun.example", "organiser", PASSWORD)
    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        "KVARN_INSTANCE_PATH": str(tmp_path),
        "KVARN_SQLALCHEMY_DATABASE_URI": database,
        "KVARN_SECRET_KEY": "limits",
        "KVARN_WTF_CSRF_ENABLED": "false",
        "KVARN_LOGIN_RATE_LIMIT": "5 per minute",
        "KVARN_LOGIN_ACCOUNT_RATE_LIMIT": "8 per hour",
        "KVARN_RATELIMIT_KEY_PREFIX": f"kvarn-test-{uuid.uuid4().hex}",
        "PYTHONPATH": str(ROOT),
        **{f"KVARN_{key}": value for key, value in settings.items()},
    }
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}",
             "--graceful-timeout", "2", "app:create_app()"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert server.poll() is None, log.read_text()
                time.sleep(0.2)
        url = f"http://127.0.0.1:{port}"
        # Every worker has imported the app before the first counted request (a busy
        # machine boots them slowly): each fresh connection may land on any of them.
        for _ in range(WORKERS * 2):
            requests.get(f"{url}/events", headers={"Connection": "close"}, timeout=60)
        yield url, log
    finally:
        server.terminate()
        server.wait(timeout=30)


def attempt(url: str, client: str, email: str, password: str = "fel-lösenord") -> int:
    """One log-in through the "proxy": a fresh connection each time, so the workers share."""
    response = requests.post(
        f"{url}/login",
        data={"email": email, "password": password},
        headers={"X-Forwarded-For": client, "Connection": "close"},
        allow_redirects=False,
        timeout=30,
    )
    return response.status_code


def test_log_in_limits_hold_per_client_and_per_account_across_workers(tmp_path):
    redis_or_skip()
    with gunicorn(tmp_path, RATELIMIT_STORAGE_URI=REDIS_URL, PROXY_FIX_X_FOR="1") as (url, log):
        # One client guessing: 5 failures a minute, then 429, whichever worker answers.
        statuses = [attempt(url, "203.0.113.10", "anna@kommun.example") for _ in range(7)]
        assert statuses == [401] * 5 + [429] * 2, statuses
        # That client does not lock out anyone else behind the same proxy.
        assert attempt(url, "203.0.113.11", "anna@kommun.example") == 401
        assert attempt(url, "203.0.113.12", "bo@kommun.example", PASSWORD) == 302
        # Many addresses guessing one account: 8 failures an hour for the account in all.
        guesses = [attempt(url, f"198.51.100.{n}", "bo@kommun.example") for n in range(1, 10)]
        assert guesses == [401] * 8 + [429], guesses
        # The account's owner is not locked out of other accounts' limits, nor others of theirs.
        assert attempt(url, "198.51.100.50", "anna@kommun.example", PASSWORD) == 302
        assert "RATE LIMITS ARE PER PROCESS" not in log.read_text()


def test_without_a_proxy_setting_every_client_behind_the_proxy_counts_as_one(tmp_path):
    """What the README warns about: PROXY_FIX_X_FOR unset behind a proxy."""
    redis_or_skip()
    with gunicorn(tmp_path, RATELIMIT_STORAGE_URI=REDIS_URL) as (url, _log):
        statuses = [attempt(url, f"203.0.113.{n}", "anna@kommun.example") for n in range(1, 7)]
        assert statuses == [401] * 5 + [429], statuses  # six different people, one counter


def test_memory_storage_with_several_workers_warns_loudly_at_start(tmp_path):
    with gunicorn(tmp_path) as (url, log):
        assert attempt(url, "203.0.113.1", "anna@kommun.example") == 401
        time.sleep(0.5)
        text = log.read_text()
    assert "RATE LIMITS ARE PER PROCESS" in text
    assert f"{WORKERS} gunicorn workers" in text
