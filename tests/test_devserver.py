"""`make run` end to end: the dev server delivers mail to its own SMTP sink.

Runs what the Makefile's ``run`` target runs (migrate, ``flask demo``, then
``python -m app.devserver``) as real processes against a temporary instance folder,
signs up for a demo event over HTTP with CSRF on, watches /dev/mailbox show the
confirmation as sent, and stops the server with SIGTERM: it exits cleanly and
leaves no process or listening port behind.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

from tests.plugins.mail_sink import free_port

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux's /proc")


class _FormFields(HTMLParser):
    """The hidden inputs and the organisation choices of the page's sign-up form."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden: dict[str, str] = {}
        self.organisations: list[str] = []
        self._in_organisation = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "input" and attributes.get("type") == "hidden" and attributes.get("name"):
            self.hidden[attributes["name"] or ""] = attributes.get("value") or ""
        elif tag == "select":
            self._in_organisation = attributes.get("name") == "organisation"
        elif tag == "option" and self._in_organisation and attributes.get("value"):
            self.organisations.append(attributes["value"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._in_organisation = False


def _environment(instance: Path) -> dict[str, str]:
    """This process's environment without any Kvarn setting, pointed at ``instance``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("KVARN_")}
    env.update({"FLASK_APP": "app", "KVARN_INSTANCE_PATH": str(instance)})
    return env


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_until(condition, seconds: float, what: str, output: Path):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    pytest.fail(f"{what} within {seconds} s; the server said:\n{output.read_text()}")


def _get(session: requests.Session, url: str) -> requests.Response | None:
    try:
        return session.get(url, timeout=5)
    except requests.ConnectionError:
        return None


def test_make_run_delivers_mail_to_a_local_sink_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = _environment(tmp_path / "instance")
    for command in (["db", "upgrade"], ["demo"]):
        subprocess.run(
            [sys.executable, "-m", "flask", *command],
            cwd=ROOT, env=env, check=True, capture_output=True, timeout=60,
        )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    output = tmp_path / "devserver.out"
    with output.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "app.devserver", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        web = requests.Session()
        web.headers["Accept-Language"] = "en"
        listing = _wait_until(lambda: _get(web, f"{base}/events"), 20, "no page", output)
        banner = output.read_text()
        assert f"{base}/dev/mailbox" in banner
        sink = re.search(r"local SMTP sink \(127\.0\.0\.1:(\d+)\)", banner)
        assert sink, banner
        sink_port = int(sink.group(1))

        event_id, fields = None, _FormFields()
        for found in dict.fromkeys(re.findall(r'href="/events/(\d+)"', listing.text)):
            fields = _FormFields()
            fields.feed(web.get(f"{base}/events/{found}", timeout=5).text)
            if "csrf_token" in fields.hidden and "submission_key" in fields.hidden:
                event_id = found
                break
        assert event_id is not None, "no demo event takes sign-ups"

        email = f"devserver-{port}@example.org"
        signed_up = web.post(
            f"{base}/events/{event_id}/register",
            data={
                **fields.hidden,
                "name": "Dev Server",
                "email": email,
                "organisation": fields.organisations[0],
                "work_team": "",
                "needs": "",
            },
            allow_redirects=False,
            timeout=10,
        )
        assert signed_up.status_code == 303, signed_up.text
        assert "/r/" in signed_up.headers["Location"]

        def confirmation_sent() -> bool:
            page = web.get(f"{base}/dev/mailbox", params={"to": email}, timeout=5).text
            return "mail-status-sent" in page and "mail-status-pending" not in page

        _wait_until(confirmation_sent, 20, "the confirmation was not sent", output)
        children = _children(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            pytest.fail(f"the dev server ignored SIGTERM:\n{output.read_text()}")

    assert server.returncode == 0, output.read_text()
    assert not [pid for pid in children if _alive(pid)], "a child process outlived the server"
    assert not _listening(sink_port), "the SMTP sink outlived the server"
    assert not _listening(port), "the web server outlived its process"
