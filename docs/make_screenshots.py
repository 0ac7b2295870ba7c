"""Screenshots of Kvarn's main pages, for the README.

    .venv/bin/python docs/make_screenshots.py [--out docs/screenshots]

Migrates a temporary SQLite database, loads the demo data (app.devtools.demo.load_demo), serves
Kvarn on a free local port and, in Debian's Chromium through Playwright (the same
browser the tests use; /usr/bin/chromium or KVARN_TEST_BROWSER), logs in as each role
and saves full-page PNGs 1280 px wide (the check-in page 390 px, as on a phone).
A few real actions go through the pages first (a reminder, delivered to a local SMTP
sink; a CSV download) so the reminder progress and the audit log have something to show. Pages are in Swedish,
the default language. Nothing outside --out and a temporary directory is written.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WIDTH = 1280
PHONE = 390
LOCALE = "sv-SE"


def build_app(tmp: Path, mail: dict):
    os.environ["KVARN_INSTANCE_PATH"] = str(tmp / "instance")
    from app import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'kvarn.sqlite3'}",
            "SECRET_KEY": "screenshots-only",
            "RATELIMIT_ENABLED": False,
            "DEV_MAILBOX": False,
            **mail,
        }
    )
    with app.app_context():
        from flask_migrate import upgrade

        from app.devtools.demo import load_demo

        upgrade()
        load_demo()
    return app


def demo_ids(app) -> dict:
    """The events and the waitlisted registration the pictures show."""
    import sqlalchemy as sa

    from app.core.extensions import db
    from app.models import Event, Registration, RegistrationStatus

    with app.app_context():
        def event(prefix: str) -> int:
            return db.session.scalar(sa.select(Event.id).where(Event.title.startswith(prefix)))

        ids = {
            "training": event("Föräldraskapsstöd i praktiken"),
            "familylab": event("Family-Lab"),
        }
        ids["waitlisted_token"] = db.session.scalar(
            sa.select(Registration.manage_token)
            .where(
                Registration.event_id == ids["familylab"],
                Registration.status == RegistrationStatus.WAITLISTED,
            )
            .order_by(Registration.created_at)
            .offset(1)
            .limit(1)
        )
        db.session.remove()
    return ids


def log_in(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("form.login button[type=submit]")
    page.wait_for_load_state()
    if "/login" in page.url:
        raise SystemExit(f"could not log in as {email}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()

    from tests import browser
    from tests.plugins.mail_sink import SmtpSink
    from tests.staff_helpers import live_server

    _path, problem = browser.missing_browser()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)

    from app.devtools.demo import DEMO_LOGINS

    logins = {role: (email, password) for role, email, password in reversed(DEMO_LOGINS)}
    saved: list[Path] = []

    sink = SmtpSink().start()  # mail really goes out, to a local SMTP server that keeps it
    with tempfile.TemporaryDirectory(prefix="kvarn-screenshots-") as tmp:
        app = build_app(Path(tmp), sink.config())
        ids = demo_ids(app)
        training, familylab = ids["training"], ids["familylab"]

        def shoot(page, name: str, path: str) -> None:
            page.goto(f"{base}{path}")
            page.wait_for_load_state("networkidle")
            target = args.out / f"{name}.png"
            page.screenshot(path=str(target), full_page=True)
            saved.append(target)

        try:
            with live_server(app) as base:
                with browser.browser_page(LOCALE, width=WIDTH) as page:
                    shoot(page, "events", "/events")
                    shoot(page, "event-signup", f"/events/{training}")
                    shoot(page, "manage-waitlisted", f"/r/{ids['waitlisted_token']}")

                with browser.browser_page(LOCALE, width=WIDTH) as page:
                    log_in(page, base, *logins["organiser"])
                    shoot(page, "staff-events", "/staff/events")
                    shoot(page, "staff-event", f"/staff/events/{training}")
                    shoot(page, "registrations", f"/staff/events/{familylab}/registrations")
                    # Send a real reminder, so the page shows its delivery progress too.
                    page.goto(f"{base}/staff/events/{training}/reminder")
                    page.click("form[action$='/reminder'] button[type=submit]")
                    page.wait_for_selector("[data-progress-text]")
                    with app.app_context():
                        from app.mail import delivery

                        delivery.send_due()  # what `flask outbox send` does from cron
                    shoot(page, "reminder", page.url.removeprefix(base))

                with browser.browser_page(LOCALE, width=PHONE, height=844, is_mobile=True) as page:
                    log_in(page, base, *logins["organiser"])
                    shoot(page, "checkin-phone", f"/staff/events/{training}/checkin")

                with browser.browser_page(LOCALE, width=WIDTH) as page:
                    log_in(page, base, *logins["coordinator"])
                    shoot(page, "dashboard", "/staff/dashboard")
                    page.goto(f"{base}/staff/dashboard/events/{training}")
                    with page.expect_download():  # an export, audited
                        page.click("a[href$='/registrations.csv']")

                with browser.browser_page(LOCALE, width=WIDTH) as page:
                    log_in(page, base, *logins["admin"])
                    shoot(page, "admin-users", "/staff/admin/users")
                    shoot(page, "audit-log", "/staff/audit")
        finally:
            browser.close()
            sink.stop()
            with app.app_context():
                from app.core.extensions import db

                db.engine.dispose()

    for path in saved:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
