"""Demo data: a regional parental-support collaboration. Invented people only."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from ..accounts import users
from ..core import clock
from ..core.database import write_transaction
from ..core.extensions import db
from ..models import Event, EventKind, EventSession, EventStatus, Organisation, User
from ..registrations import seats

ORGANISATIONS = ["Alingsås kommun", "Lerums kommun", "Kommunalförbundet Väst", "Annan organisation"]

#: (role, email, password) of the demo staff, printed by `make run`.
DEMO_LOGINS: list[tuple[str, str, str]] = [
    ("admin", "admin@kvarn.example", "kvarn-admin"),
    ("organiser", "organisator@kvarn.example", "kvarn-organisator"),
    ("coordinator", "samordnare.alingsas@kvarn.example", "kvarn-alingsas"),
    ("coordinator", "samordnare.lerum@kvarn.example", "kvarn-lerum"),
]
#: The organisation of each demo coordinator above, by email.
DEMO_COORDINATOR_ORGS = {
    "samordnare.alingsas@kvarn.example": "Alingsås kommun",
    "samordnare.lerum@kvarn.example": "Lerums kommun",
}

PEOPLE = [
    "Anna Lindqvist", "Björn Sandberg", "Cecilia Holm", "David Ekström", "Elin Forsberg",
    "Fredrik Nyström", "Gunilla Åberg", "Hanna Berglund", "Ismail Haddad", "Johanna Lund",
    "Karin Sjöberg", "Lars Öhman", "Maria Engström", "Nils Wallin", "Olivia Dahl",
    "Per Hedlund", "Rebecka Strand", "Sara Lindgren", "Tobias Axelsson", "Ulrika Blom",
    "Viktor Nordin", "Amira Yousef", "Emil Fransson", "Linnea Björk", "Mattias Söderlund",
    "Petra Hägg", "Sofia Persson", "Jonas Mattsson",
]
TEAMS = ["Familjeteamet", "Förskolan Solrosen", "Elevhälsan", "Öppna förskolan", ""]


def _weekday(days: int) -> date:
    """The first weekday at least ``days`` from today: courses and lectures run on weekdays."""
    day = (clock.now().astimezone(clock.STOCKHOLM) + timedelta(days=days)).date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _at(days: int | date, hour: int, minute: int = 0) -> datetime:
    day = days if isinstance(days, date) else _weekday(days)
    return datetime.combine(day, time(hour, minute), tzinfo=clock.STOCKHOLM)


def _two_days(days: int) -> list[date]:
    first = _weekday(days)
    second = first + timedelta(days=1)
    while second.weekday() >= 5:
        second += timedelta(days=1)
    return [first, second]


def _event(kind, title, description, capacity, sessions, **extra) -> Event:
    event = Event(
        kind=kind,
        title=title,
        description=description,
        capacity=capacity,
        status=extra.pop("status", EventStatus.OPEN),
        registration_opens_at=clock.now() - timedelta(days=7),
        registration_closes_at=sessions[0][0] - timedelta(days=1),
        contact_email="foraldraskap@kommunalforbundet.example",
        **extra,
    )
    for start, end, venue in sessions:
        event.sessions.append(EventSession(starts_at=start, ends_at=end, venue=venue))
    db.session.add(event)
    return event


def _sign_up(event: Event, people: int, offset: int, organisations: list[Organisation]) -> None:
    for i in range(people):
        name = PEOPLE[(offset + i) % len(PEOPLE)]
        slug = name.lower().replace(" ", ".").translate(str.maketrans("åäöé", "aaoe"))
        seats.sign_up(
            event.id,
            seats.SignUp(
                name=name,
                email=f"{slug}{offset + i}@example.org",
                organisation_id=organisations[(offset + i) % 3].id,
                work_team=TEAMS[i % len(TEAMS)],
            ),
        )


class NotEmpty(Exception):
    """The database holds data that is not the demo's: the demo never goes in beside it."""


class ServerDatabase(Exception):
    """The database is a server's (PostgreSQL, MariaDB): the demo goes there only on request."""


def load_demo(allow_server_database: bool = False) -> bool:
    """Create the demo once, in an empty database. Returns False when it was already there.

    Raises ``NotEmpty`` for a database that holds other data, and ``ServerDatabase`` for a
    server database unless ``allow_server_database`` (a demo in production is a mistake).
    """
    if db.engine.dialect.name != "sqlite" and not allow_server_database:
        raise ServerDatabase(db.engine.url.render_as_string(hide_password=True))

    def create() -> tuple[list[Organisation], dict[str, Event]] | None:
        demo_admin = DEMO_LOGINS[0][1]
        if db.session.scalar(sa.select(User.id).where(User.email == demo_admin)) is not None:
            return None
        for model in (Organisation, User, Event):
            if db.session.scalar(sa.select(sa.func.count()).select_from(model)):
                raise NotEmpty(model.__tablename__)
        orgs = [Organisation(name=n, sort_order=i) for i, n in enumerate(ORGANISATIONS)]
        db.session.add_all(orgs)
        db.session.flush()
        for role, email, password in DEMO_LOGINS:
            users.add_user(email, role, password, organisation_name=DEMO_COORDINATOR_ORGS.get(email))
        training_venue = "Alingsås kulturhus, Sal Fors"
        events = {
            "training": _event(
                EventKind.COURSE,
                "Föräldraskapsstöd i praktiken – utbildning för gruppledare",
                "Fyra dagar om att leda föräldragrupper med ett evidensbaserat program. "
                "För dig som arbetar med föräldrar i socialtjänst, förskola, skola eller elevhälsa.",
                20,
                [(_at(d, 9), _at(d, 16), training_venue) for d in _two_days(21) + _two_days(35)],
                what_to_bring="Kursboken (delas ut första dagen) och ett anteckningsblock.",
            ),
            "familylab": _event(
                EventKind.COURSE,
                "Family-Lab: Att möta familjer i förändring",
                "En kursdag om relationskompetens i mötet med föräldrar och barn.",
                8,
                [(_at(28, 9), _at(28, 15, 30), "Lerums bibliotek, Hörsalen")],
            ),
            "lecture": _event(
                EventKind.LECTURE,
                "Kvällsföreläsning: Tonåren – att vara förälder till en tonåring",
                "En föreläsning för yrkesverksamma om tonåringars utveckling och föräldrars roll.",
                120,
                [(_at(17, 18), _at(17, 20), "Lerums gymnasium, Aulan")],
            ),
            "meeting": _event(
                EventKind.MEETING,
                "Projektgruppsmöte: samverkan kring föräldraskapsstöd",
                "Projektgruppen planerar vårens insatser. Lokal meddelas senare.",
                15,
                [(_at(10, 13), _at(10, 16), None)],
            ),
            "conference": _event(
                EventKind.CONFERENCE,
                "Avslutningskonferens: Tillsammans för barnens bästa",
                "Projektet summeras: erfarenheter, resultat och vägen framåt.",
                150,
                [(_at(60, 9), _at(60, 16), "Alingsås kulturhus, Stora salen")],
            ),
            "gauging": _event(
                EventKind.LECTURE,
                "Kvällsföreläsning: Skärmtid och sömn hos barn",
                "Vi arrangerar föreläsningen om tillräckligt många anmäler intresse.",
                80,
                [(_at(45, 18), _at(45, 20), "Alingsås kulturhus, Sal Fors")],
                status=EventStatus.GAUGING,
                interest_threshold=30,
                interest_deadline=_at(25, 23, 59),
            ),
        }
        db.session.flush()
        return orgs, events

    created = write_transaction(create)
    if created is None:
        return False
    orgs, events = created
    _sign_up(events["training"], 17, 0, orgs)
    _sign_up(events["familylab"], 12, 3, orgs)
    _sign_up(events["lecture"], 9, 7, orgs)
    _sign_up(events["conference"], 22, 5, orgs)
    _sign_up(events["gauging"], 11, 11, orgs)
    return True
