"""Small helpers to build test data through the real code paths."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

from app.core import clock
from app.core.database import write_transaction
from app.core.extensions import db
from app.models import Event, EventKind, EventSession, EventStatus, Organisation
from app.registrations import seats

_seq = count(1)


def organisation(name: str | None = None) -> Organisation:
    def work():
        org = Organisation(name=name or f"Kommun {next(_seq)}")
        db.session.add(org)
        db.session.flush()
        return org

    org = write_transaction(work)
    return org


def at_noon_in_stockholm() -> None:
    """Move the clock to noon, Stockholm time, today (the test's clock is reset after it).
    An event made then (``event``: three hours from now, days ahead) ends the day it starts,
    so its time reads as one span, "13.00–16.00"; from 21.00 on it passes midnight and reads
    as two moments, which a test expecting a span would fail on in the evening."""
    now = clock.now()
    clock.travel(clock.local(now).replace(hour=12, minute=0, second=0, microsecond=0) - now)


def event(
    capacity: int = 10,
    status: EventStatus = EventStatus.OPEN,
    days_ahead: int = 10,
    sessions: int = 1,
    **fields,
) -> Event:
    def work():
        start = clock.now() + timedelta(days=days_ahead)
        ev = Event(
            kind=fields.pop("kind", EventKind.COURSE),
            title=fields.pop("title", f"Kurs {next(_seq)}"),
            capacity=capacity,
            status=status,
            contact_email=fields.pop("contact_email", "organiser@kommun.test"),
            **fields,
        )
        for i in range(sessions):
            ev.sessions.append(
                EventSession(
                    starts_at=start + timedelta(days=i),
                    ends_at=start + timedelta(days=i, hours=3),
                    venue=f"Sal {i + 1}",
                )
            )
        db.session.add(ev)
        db.session.flush()
        return ev

    return write_transaction(work)


def sign_up(event_id: int, org_id: int, n: int | str = 0, **fields) -> seats.SignUpResult:
    return seats.sign_up(
        event_id,
        seats.SignUp(
            name=fields.pop("name", f"Person {n}"),
            email=fields.pop("email", f"person{n}@example.org"),
            organisation_id=org_id,
            **fields,
        ),
    )


def team(
    event_id: int, org_id: int, names: list[str] | int, keep: bool = False, **fields
) -> seats.TeamSignUpResult:
    """A team sign-up; ``names`` are the members' email local parts (the first signs up),
    or a count (team<n> members named t<serial>-<i>)."""
    if isinstance(names, int):
        serial = next(_seq)
        names = [f"t{serial}-{i}" for i in range(names)]
    return seats.sign_up_team(
        event_id,
        seats.TeamSignUp(
            members=tuple(
                seats.Member(name=f"Person {n}", email=f"{n}@example.org", organisation_id=org_id)
                for n in names
            ),
            keep_together=keep,
            **fields,
        ),
    )
