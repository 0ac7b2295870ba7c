"""The embeddable listing inside an <iframe> of another site, in a real Chromium.

Kvarn runs on one local port; two "intranets" run on two others (other origins). The
configuration lists only the first. Its page shows Kvarn's embedded list, and a click
on an event opens Kvarn's event page in the top window, where signing up works (cookies
and the CSRF token are first-party there). The second intranet's frame is refused by the
browser (``frame-ancestors``): its content is not the listing. Any other Kvarn page,
the full listing too, is refused in a frame even for the allowed origin.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.core.extensions import db
from app.models import Registration
from tests import factories as f
from tests.browser import browser_page
from tests.staff_helpers import live_server

pytestmark = pytest.mark.browser


@dataclass
class Intranet:
    """A tiny site of its own origin whose page frames ``frame_src`` (set per test)."""

    server: ThreadingHTTPServer
    frame_src: dict = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"


@contextmanager
def intranet() -> Iterator[Intranet]:
    site = Intranet(ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler))

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            src = site.frame_src.get(self.path.split("?")[0])
            if src is None:
                self.send_error(404)
                return
            body = (
                '<!doctype html><html lang="en"><head><meta charset="utf-8">'
                "<title>Intranet</title></head><body><h1>The intranet</h1>"
                f'<iframe id="kvarn" src="{src}" title="Courses" width="700" height="900"></iframe>'
                "</body></html>"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # quiet
            pass

    site.server.RequestHandlerClass = Page
    thread = threading.Thread(target=site.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.server.shutdown()
        site.server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def intranets():
    with intranet() as allowed, intranet() as other:
        yield allowed, other


@pytest.fixture
def app_config(intranets):
    allowed, _other = intranets
    return {"EMBED_ALLOWED_ORIGINS": [allowed.origin], "WTF_CSRF_ENABLED": True}


def _kvarn_frame(page, base: str):
    frames = [frame for frame in page.frames if frame != page.main_frame]
    assert len(frames) == 1, [frame.url for frame in frames]
    return frames[0]


def test_the_embedded_listing_shows_in_an_allowed_site_and_signing_up_opens_kvarn(app, intranets):
    allowed, _other = intranets
    org = f.organisation("Alingsås kommun")
    course = f.event(title="Samtal med barn", organising_organisation_id=org.id)
    f.event(title="Kvällsföreläsning om sömn", kind="lecture")
    with live_server(app) as base, browser_page("en-GB") as page:
        allowed.frame_src["/"] = f"{base}/embed/events?kind=course&lang=en"
        page.goto(allowed.origin + "/")
        frame = _kvarn_frame(page, base)
        assert frame.url.startswith(f"{base}/embed/events"), frame.url
        titles = frame.locator(".event-card h2 a").all_inner_texts()
        assert titles == ["Samtal med barn"]  # the filters from the query string
        assert page.url == allowed.origin + "/"  # still the intranet around it

        # The event's link opens Kvarn's own page in the top window, not in the frame.
        with page.expect_navigation(url=f"{base}/events/{course.id}"):
            frame.locator(".event-card h2 a").click()
        assert page.url == f"{base}/events/{course.id}"
        assert len(page.frames) == 1

        # Signing up works there: first-party cookies and CSRF token.
        page.fill("#name", "Anna Andersson")
        page.fill("#email", "anna@alingsas.example")
        page.select_option("#organisation", label="Alingsås kommun")
        with page.expect_navigation():
            page.click("form.signup button[data-once]")
        assert re.search(r"/r/[^/]+$", page.url), page.url
        assert page.locator(".flash-success").is_visible()
        db.session.rollback()
        assert db.session.query(Registration).filter_by(email="anna@alingsas.example").count() == 1


def test_a_site_not_listed_gets_no_listing_and_no_kvarn_page_frames_anywhere_else(app, intranets):
    allowed, other = intranets
    f.event(title="Samtal med barn")
    with live_server(app) as base:
        other.frame_src["/"] = f"{base}/embed/events?lang=en"
        allowed.frame_src["/full"] = f"{base}/events?lang=en"
        allowed.frame_src["/embed"] = f"{base}/embed/events?lang=en"
        for site_url, served in (
            (other.origin + "/", "/embed/events"),  # not a listed origin
            (allowed.origin + "/full", "/events"),  # a listed origin, but not the embed page
        ):
            with browser_page("en-GB") as page:
                console: list[str] = []
                page.on("console", lambda message, console=console: console.append(message.text))
                answered: list[int] = []
                page.on(
                    "response",
                    lambda response, answered=answered, served=served: answered.append(response.status)
                    if response.url.startswith(base + served)
                    else None,
                )
                page.goto(site_url)
                page.wait_for_timeout(300)
                # Kvarn answered (the server was reached and said 200) ...
                assert answered == [200], (site_url, answered)
                # ... and the browser refused to show it in this frame.
                frame = _kvarn_frame(page, base)
                assert not frame.url.startswith(base), (site_url, frame.url)
                assert "Samtal med barn" not in frame.content()
                assert "Upcoming events" not in frame.content()
                assert any("frame-ancestors" in text for text in console), (site_url, console)

        # The control: the same browser shows the embed page for the listed origin.
        with browser_page("en-GB") as page:
            page.goto(allowed.origin + "/embed")
            frame = _kvarn_frame(page, base)
            assert frame.url.startswith(f"{base}/embed/events")
            assert frame.locator(".event-card h2 a").all_inner_texts() == ["Samtal med barn"]
