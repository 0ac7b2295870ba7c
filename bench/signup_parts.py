"""Where a sign-up's CPU goes, layer by layer, in one process (no HTTP server).

    .venv/bin/python bench/signup_parts.py [--blocks 10] [--requests 150] [--capacity 40]
    .venv/bin/python bench/signup_parts.py --instructions 150

On a fresh migrated SQLite file, through Flask's test client (one thread, no gunicorn, no
load generator competing for the CPU), in alternating blocks of ``--requests`` on a fresh
event each, it times the CPU per request of:

1. a bare Flask app whose view reads the form and redirects (what every Flask request costs);
2. Kvarn's app with the same view (Kvarn's request hooks: security checks and headers,
   CSRF and rate-limit hooks, the database session);
3. that view also building and validating ``SignupForm`` (WTForms);
4. ``seats.sign_up`` called directly in a request context (the service: the transaction,
   the statements, the first mail);
5. the whole sign-up, ``POST /events/<id>/register``;
6. the same-work baseline (``bench/baseline_app.py: create_samework_app``) on the same file.

It prints the fastest block (the least disturbed by other work on the machine) and the
median block per line, and the ratio of the whole sign-up to the same-work baseline. With
``--instructions N`` it runs itself under callgrind and counts the CPU instructions of N
requests a line instead (``bench/callgrind.py``): the same figures run to run, however busy
the machine. Under gunicorn (``bench/rush.py``) both grow by the server's own work per
request, so the ratio there is somewhat smaller; this shows what each layer adds.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import callgrind  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--capacity", type=int, default=40)
    parser.add_argument(
        "--instructions", type=int, default=0, metavar="N",
        help="count the CPU instructions of N requests a line under callgrind instead of timing",
    )
    args = parser.parse_args(argv)
    if args.instructions and not callgrind.running_under_callgrind():
        callgrind.rerun_under_callgrind([__file__, *(sys.argv[1:] if argv is None else argv)])
    if args.instructions:
        return _count_instructions(args, *lines_of(args))
    return _time(args, *lines_of(args))


def lines_of(args) -> tuple[dict, Callable[[], int]]:
    """The lines of the table (a label and a function that makes one request on an event,
    each warmed up) and the function that makes a fresh event."""

    tmp = Path(tempfile.mkdtemp(prefix="kvarn-parts-"))
    os.environ["KVARN_INSTANCE_PATH"] = str(tmp / "instance")
    url = f"sqlite:///{tmp / 'parts.sqlite3'}"
    subprocess.run(
        [sys.executable, "-m", "flask", "db", "upgrade"],
        cwd=ROOT,
        env={**os.environ, "FLASK_APP": "app", "KVARN_SQLALCHEMY_DATABASE_URI": url},
        check=True,
        capture_output=True,
    )

    from flask import Flask, redirect, request

    from app import create_app
    from app.core import clock
    from app.core.database import write_transaction
    from app.core.extensions import db
    from app.models import Event, EventKind, EventSession, EventStatus, Organisation
    from app.public.forms import SignupForm
    from app.registrations import seats

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False}
    )

    def in_transaction(work):
        with app.app_context():
            result = write_transaction(work)
            db.session.remove()
            return result

    def add_organisation() -> int:
        organisation = Organisation(name="Bench kommun")
        db.session.add(organisation)
        db.session.flush()
        return organisation.id

    org_id = in_transaction(add_organisation)

    def new_event() -> int:
        def work() -> int:
            start = clock.now() + timedelta(days=14)
            event = Event(
                kind=EventKind.COURSE, title="Rusningen", status=EventStatus.OPEN,
                capacity=args.capacity, contact_email="bench@kommun.test",
            )
            event.sessions.append(
                EventSession(starts_at=start, ends_at=start + timedelta(hours=3), venue="Sal 1")
            )
            db.session.add(event)
            db.session.flush()
            return event.id

        return in_transaction(work)

    numbers = iter(range(10**9))

    def form_body() -> str:
        n = next(numbers)
        return urllib.parse.urlencode({
            "name": f"Person {n}", "email": f"p{n}@bench.example", "organisation": org_id,
            "work_team": "Team Syd", "needs": "Vegetarian", "submission_key": uuid.uuid4().hex,
        })

    def reads_form(event_id: int):
        return redirect(f"/r/{request.form['name']}", 303)

    def builds_form(event_id: int):
        SignupForm().validate()
        return redirect("/r/x", 303)

    bare = Flask("bare")
    bare.add_url_rule("/parts/<int:event_id>", view_func=reads_form, methods=["POST"])
    app.add_url_rule("/parts/<int:event_id>", view_func=reads_form, methods=["POST"])
    app.add_url_rule("/parts-form/<int:event_id>", view_func=builds_form, methods=["POST"])
    kvarn, plain = app.test_client(use_cookies=False), bare.test_client(use_cookies=False)
    form_type = "application/x-www-form-urlencoded"

    def poster(client, path: str):
        def post(event_id: int) -> None:
            response = client.post(path.format(event_id), data=form_body(), content_type=form_type)
            if response.status_code != 303:
                raise RuntimeError(f"{path}: {response.status_code}")
        return post

    def service(event_id: int) -> None:
        n = next(numbers)
        with app.test_request_context("/"):
            seats.sign_up(event_id, seats.SignUp(
                name=f"Person {n}", email=f"d{n}@bench.example", organisation_id=org_id,
                work_team="Team Syd", needs="Vegetarian", submission_key=uuid.uuid4().hex,
            ))
            db.session.remove()

    # The same-work baseline copies Kvarn's own mails of an event at start-up.
    mails_from = new_event()
    for _ in range(args.capacity + 20):
        poster(kvarn, "/events/{}/register")(mails_from)
    os.environ["BENCH_BASELINE_URL"] = url
    os.environ["BENCH_SAMEWORK_FROM_EVENT"] = str(mails_from)
    from bench.baseline_app import create_samework_app

    baseline = create_samework_app().test_client(use_cookies=False)
    lines = {
        "1. bare Flask request": poster(plain, "/parts/{}"),
        "2. Kvarn's app, same view": poster(kvarn, "/parts/{}"),
        "3. + SignupForm (WTForms)": poster(kvarn, "/parts-form/{}"),
        "4. seats.sign_up alone": service,
        "5. Kvarn's whole sign-up": poster(kvarn, "/events/{}/register"),
        "6. same-work baseline": poster(baseline, "/events/{}/register"),
    }
    for run in lines.values():  # warm up: templates, stencils, caches
        event_id = new_event()
        for _ in range(30):
            run(event_id)

    return lines, new_event


def _time(args, lines: dict, new_event: Callable[[], int]) -> int:
    times: dict[str, list[float]] = {label: [] for label in lines}
    for _ in range(args.blocks):
        for label, run in lines.items():
            event_id = new_event()
            began = time.process_time()
            for _ in range(args.requests):
                run(event_id)
            times[label].append((time.process_time() - began) / args.requests * 1000)

    print(f"CPU per request, ms ({args.blocks} blocks of {args.requests}, {args.capacity} seats "
          f"an event, SQLite, test client)")
    print(f"{'':32} {'fastest':>8} {'median':>8}")
    for label, values in times.items():
        print(f"{label:32} {min(values):8.3f} {statistics.median(values):8.3f}")
    whole, same = min(times["5. Kvarn's whole sign-up"]), min(times["6. same-work baseline"])
    print(f"Kvarn / same-work (fastest blocks): {whole / same:.2f}")
    return 0


def _count_instructions(args, lines: dict, new_event: Callable[[], int]) -> int:
    counts = {}
    for label, run in lines.items():
        event_id = new_event()
        counts[label] = callgrind.instructions(functools.partial(run, event_id), args.instructions)
    print(f"Instructions per request, millions ({args.instructions} requests a line, "
          f"{args.capacity} seats an event, SQLite, test client, under callgrind)")
    for label, count in counts.items():
        print(f"{label:32} {count:8.3f}")
    whole, same = counts["5. Kvarn's whole sign-up"], counts["6. same-work baseline"]
    print(f"Kvarn / same-work: {whole / same:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
