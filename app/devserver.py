"""`make run`: start Kvarn locally, deliver its mail, and say where it is and how to log in.

Owns the development process. Besides the web app (Werkzeug's server) it starts, in
the same process, a local SMTP sink on 127.0.0.1 and a free port that accepts every
message and keeps nothing (aiosmtpd, a ``dev`` dependency), and an outbox worker
thread running the loop of ``flask outbox work`` (``mail.delivery.work``) against
it, so mail becomes "sent" within a second or two and /dev/mailbox, reminder
progress and staff pages look as they do with a real SMTP server. The mail settings
reach the app the way every setting does, as ``KVARN_MAIL_*`` environment variables.
Ctrl+C or SIGTERM stops the web server, then the worker, then the sink.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from types import FrameType
from typing import Any

from flask import Flask

# The worker looks for due mail this often when the outbox is empty (seconds).
WORKER_INTERVAL = 0.5


class SmtpSink:
    """An SMTP server on 127.0.0.1 (a free port) that accepts every message and drops it."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        sink = self

        class _Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                with sink._lock:
                    sink.accepted += 1
                return "250 Message accepted (Kvarn's development sink keeps nothing)"

        class _Controller(Controller):
            def _trigger_server(self) -> None:
                # Bound to port 0: learn the port the system chose before connecting to it.
                assert self.server is not None
                self.port = self.server.sockets[0].getsockname()[1]
                super()._trigger_server()

        self.accepted = 0
        self._lock = threading.Lock()
        self._controller = _Controller(_Handler(), hostname="127.0.0.1", port=0)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


def start_sink() -> SmtpSink | None:
    """The running sink, or None (with a note) when aiosmtpd is not installed."""
    try:
        sink = SmtpSink()
    except ImportError:
        print("  aiosmtpd is missing (pip install -e '.[dev]'): mail stays queued.", flush=True)
        return None
    return sink.start()


def use_sink(sink: SmtpSink) -> None:
    """Point the app's mail settings at the sink (before ``create_app`` reads them)."""
    os.environ.update(
        {
            "KVARN_MAIL_SERVER": "127.0.0.1",
            "KVARN_MAIL_PORT": str(sink.port),
            "KVARN_MAIL_USE_TLS": "false",
            "KVARN_MAIL_USE_SSL": "false",
            "KVARN_MAIL_USERNAME": "null",
            "KVARN_MAIL_PASSWORD": "null",
            "KVARN_MAIL_TIMEOUT": "5",
        }
    )


class OutboxWorker:
    """A thread running ``mail.delivery.work`` in its own app context until stopped."""

    def __init__(self, app: Flask, interval: float = WORKER_INTERVAL) -> None:
        self.app = app
        self.interval = interval
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-worker", daemon=True)

    def _run(self) -> None:
        from .mail import delivery

        def report(done: delivery.DeliveryReport) -> None:
            print(
                f"  mail: {done.sent} sent, {done.retrying} to retry, {done.failed} failed",
                flush=True,
            )

        with self.app.app_context():
            delivery.work(self._stopping.is_set, self.interval, report)

    def start(self) -> OutboxWorker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self._stopping.set()
        self._thread.join(timeout)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    """SIGTERM stops the server the way Ctrl+C does, so everything shuts down in order."""
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description="Run Kvarn for local development")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    base_url = f"http://{args.host}:{args.port}"
    os.environ.setdefault("KVARN_BASE_URL", base_url)
    os.environ.setdefault("KVARN_DEV_MAILBOX", "true")
    signal.signal(signal.SIGTERM, _interrupt)

    sink = start_sink()
    worker: OutboxWorker | None = None
    try:
        if sink is not None:
            use_sink(sink)

        from . import create_app
        from .devtools.demo import DEMO_LOGINS

        app = create_app()
        if sink is not None:
            worker = OutboxWorker(app).start()
        lines = [
            "",
            f"  Kvarn is running at {base_url}/",
        ]
        if sink is not None:
            lines.append(
                f"  Mail is delivered to a local SMTP sink (127.0.0.1:{sink.port}) that keeps nothing"
            )
        if app.config.get("DEV_MAILBOX"):
            lines.append(f"  Read the mail Kvarn sends, pending or sent, at {base_url}/dev/mailbox")
        if DEMO_LOGINS:
            lines.append(f"  Staff log-in at {base_url}/login with (email / password):")
            lines += [f"    {role:<12} {email} / {password}" for role, email, password in DEMO_LOGINS]
        lines.append("  Stop with Ctrl+C.\n")
        print("\n".join(lines), flush=True)
        app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)
    except KeyboardInterrupt:
        pass  # stopped before the server ran (it handles its own)
    finally:
        if worker is not None:
            worker.stop()
        if sink is not None:
            sink.stop()


if __name__ == "__main__":
    main()
