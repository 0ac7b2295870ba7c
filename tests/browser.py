"""The one way tests (and docs/make_screenshots.py) get a real browser.

Playwright drives Debian's Chromium (``/usr/bin/chromium``, or ``KVARN_TEST_BROWSER``);
it never downloads a browser of its own. Without Chromium (or the playwright package)
the browser tests skip with the reason; with ``KVARN_TEST_REQUIRE_SERVERS=1`` (CI) they
fail instead. One Chromium is started per test run and each ``browser_page()`` gets a
fresh context (its own cookies), which saves seconds per test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

DEFAULT_CHROMIUM = "/usr/bin/chromium"
# The machine has no network beyond 127.0.0.1: no sandbox (runs as root in containers),
# no GPU, and nothing that phones home for updates, sync or field trials.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

_playwright: Playwright | None = None
_browser: Browser | None = None


def _unavailable(message: str) -> None:
    if os.environ.get("KVARN_TEST_REQUIRE_SERVERS") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def missing_browser() -> tuple[str, str | None]:
    """(Chromium's path, None) or (the path looked at, why a browser cannot be used)."""
    wanted = (
        os.environ.get("KVARN_TEST_BROWSER")
        or os.environ.get("KVARN_TEST_CHROMIUM")
        or shutil.which("chromium")
        or DEFAULT_CHROMIUM
    )
    if not (os.path.isfile(wanted) and os.access(wanted, os.X_OK)):
        return wanted, (
            f"Chromium not found at {wanted}: the browser tests need Debian's chromium "
            "(apt-get install chromium) or KVARN_TEST_BROWSER=/path/to/chromium"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return wanted, (
            "the playwright package is missing: the browser tests (Chromium) need "
            "`pip install -e .[dev]`"
        )
    return wanted, None


def chromium_path() -> str:
    """Chromium's executable, or skip (fail under KVARN_TEST_REQUIRE_SERVERS=1) saying why."""
    path, problem = missing_browser()
    if problem:
        _unavailable(problem)
    return path


def browser() -> Browser:
    """The run's Chromium, started on first use."""
    global _playwright, _browser
    if _browser is None or not _browser.is_connected():
        path = chromium_path()
        from playwright.sync_api import sync_playwright

        if _playwright is None:
            _playwright = sync_playwright().start()
        _browser = _playwright.chromium.launch(
            executable_path=path, headless=True, args=LAUNCH_ARGS
        )
    return _browser


def close() -> None:
    """Stop Chromium and the Playwright driver (end of the test run or script)."""
    global _playwright, _browser
    if _browser is not None:
        _browser.close()
        _browser = None
    if _playwright is not None:
        _playwright.stop()
        _playwright = None


@contextmanager
def browser_page(
    locale: str = "en-GB", width: int = 1280, height: int = 800, **context_options
) -> Iterator[Page]:
    """A page in a fresh browser context (no cookies) asking for ``locale``."""
    context = browser().new_context(
        locale=locale, viewport={"width": width, "height": height}, **context_options
    )
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()
