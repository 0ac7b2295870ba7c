"""Browser tests skip (or, in CI, fail) before any fixture runs when Chromium is missing,
and the shared Chromium closes when the session ends."""

from __future__ import annotations

import sys


def pytest_runtest_setup(item):
    """Browser tests skip (or, in CI, fail) before any fixture runs when Chromium is missing."""
    if item.get_closest_marker("browser"):
        from tests.browser import chromium_path

        chromium_path()


def pytest_sessionfinish(session, exitstatus):
    if "tests.browser" in sys.modules:
        sys.modules["tests.browser"].close()
