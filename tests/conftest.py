"""Test set-up: an instance folder of its own, and the shared fixtures as plugins.

- ``tests.plugins.databases``: ``app`` (SQLite), ``db_app`` (each database), ``client``;
- ``tests.plugins.mail_sink``: ``smtp_sink``, a real SMTP server (aiosmtpd);
- ``tests.plugins.browser_session``: skips or fails browser tests without Chromium.
"""

from __future__ import annotations

import os
import tempfile

# Before the app is imported anywhere: no test touches the checkout's instance/ folder.
os.environ["KVARN_INSTANCE_PATH"] = tempfile.mkdtemp(prefix="kvarn-test-instance-")

pytest_plugins = [
    "tests.plugins.databases",
    "tests.plugins.mail_sink",
    "tests.plugins.browser_session",
]
