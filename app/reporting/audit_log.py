"""Reading the audit log: which entries a filter selects, what each says in words, and the
CSV that goes to the archive.

The rules this module owns:

- One set of filters (action, who did it, event, participant, kind of object, Stockholm
  dates) builds the query for the page and the export alike (``Filters.conditions``). An
  event's entries are the event's own and those of its registrations, team sign-ups and
  messages, and any entry whose details name the event (``event_id``).
- Objects are named by their title, resolved in one query per kind of object for a page
  (or an export chunk), never one per row; an object that is gone is "(removed)".
- The archive CSV: UTF-8 with BOM and semicolons (Excel with Swedish settings), ISO 8601
  local times with their offset, one row per entry with the readable sentence and the raw
  action code, formula-safe cells, streamed in chunks of ``CHUNK`` entries (never built in
  memory). The export is recorded in the audit log, committed before the first byte, with
  its filters and the last entry it covers.

Labels and sentences are declared once per action in ``audit.labels``; the names they need
from services above the audit layer (statuses, kinds, roles, organisations) come from
``StaffWords`` here.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..accounts import roles
from ..audit import entries as audit
from ..audit import labels
from ..core import clock
from ..core.database import write_transaction
from ..core.extensions import db
from ..core.text import printable
from ..events import statuses as event_statuses
from ..models import (
    AuditEntry,
    Event,
    EventSession,
    Organisation,
    OutboxMessage,
    Registration,
    Team,
    User,
)
from ..registrations import messages
from ..registrations import statuses as registration_statuses

#: Entries per page on the staff page.
PER_PAGE = 50
#: Entries read, named and written per step of the CSV export.
CHUNK = 500
CSV_MIMETYPE = "text/csv; charset=utf-8"


# --- filters -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What to show. ``no_user`` selects entries without a staff user (the system, or the
    person concerned through their personal link)."""

    action: str | None = None
    user_id: int | None = None
    no_user: bool = False
    event_id: int | None = None
    participant: str | None = None
    object_type: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        where: list[sa.ColumnElement[bool]] = []
        if self.action:
            where.append(AuditEntry.action == self.action)
        if self.no_user:
            where.append(AuditEntry.user_id.is_(None))
        elif self.user_id is not None:
            where.append(AuditEntry.user_id == self.user_id)
        if self.event_id is not None:
            where.append(_about_event(self.event_id))
        if self.participant:
            where.append(_about_participant(self.participant))
        if self.object_type:
            where.append(AuditEntry.object_type == self.object_type)
        if self.date_from:
            where.append(AuditEntry.created_at >= _local_midnight(self.date_from))
        if self.date_to:
            where.append(AuditEntry.created_at < _local_midnight(self.date_to + timedelta(days=1)))
        return where


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=clock.STOCKHOLM)


def _is(object_type: str, model, *where) -> sa.ColumnElement[bool]:
    """The entry is about a row of ``model`` matching ``where`` (a primary-key lookup per entry)."""
    return sa.and_(
        AuditEntry.object_type == object_type,
        sa.exists().where(model.id == AuditEntry.object_id, *where),
    )


def _about_event(event_id: int) -> sa.ColumnElement[bool]:
    return sa.or_(
        sa.and_(AuditEntry.object_type == "event", AuditEntry.object_id == event_id),
        _is("registration", Registration, Registration.event_id == event_id),
        _is("team", Team, Team.event_id == event_id),
        _is("outboxmessage", OutboxMessage, OutboxMessage.event_id == event_id),
        AuditEntry.details["event_id"].as_integer() == event_id,
    )


def normal_email(address: str) -> str:
    """Addresses are stored lower case (``registrations.seats``)."""
    return address.strip().lower()


def _about_participant(email: str) -> sa.ColumnElement[bool]:
    address = normal_email(email)
    return sa.or_(
        _is("registration", Registration, Registration.email == address),
        _is("team", Team, Team.contact_email == address),
    )


def select_entries(filters: Filters) -> sa.Select:
    """The filtered entries, newest first, with their users (one more query)."""
    return (
        sa.select(AuditEntry)
        .where(*filters.conditions())
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .options(sa.orm.selectinload(AuditEntry.user))
    )


# --- choices for the filter form ------------------------------------------------------------


def action_choices() -> list[tuple[str, str]]:
    """Every declared action, by label (no query: every code the app records is declared,
    which tests/test_audit_log.py holds)."""
    named = [(code, labels.label(code)) for code in labels.ACTIONS]
    return sorted(named, key=lambda choice: (choice[1].casefold(), choice[0]))


def object_type_choices() -> list[tuple[str, str]]:
    named = [(object_type, str(label)) for object_type, label in labels.OBJECT_TYPES.items()]
    return sorted(named, key=lambda choice: choice[1].casefold())


def user_choices() -> list[tuple[str, str]]:
    rows = db.session.execute(
        sa.select(User.id, User.name, User.email).order_by(User.name, User.id)
    )
    return [(str(row.id), f"{row.name} <{row.email}>") for row in rows]


def event_choices() -> list[tuple[str, str]]:
    """Every event, the latest first: "Title (2025-03-14)"."""
    first = (
        sa.select(EventSession.event_id, sa.func.min(EventSession.starts_at).label("starts_at"))
        .group_by(EventSession.event_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(Event.id, Event.title, first.c.starts_at)
        .outerjoin(first, first.c.event_id == Event.id)
        .order_by(first.c.starts_at.desc(), Event.id.desc())
    )
    return [
        (
            str(row.id),
            f"{row.title} ({format_date(row.starts_at, 'yyyy-MM-dd')})"
            if row.starts_at
            else row.title,
        )
        for row in rows
    ]


# --- names ---------------------------------------------------------------------------------


def _known(name_of: Callable[[str], str], value: str) -> str:
    """The owner's name for a stored value; the value itself if the owner knows it not."""
    try:
        return name_of(value)
    except (KeyError, ValueError):
        return str(value)


class StaffWords:
    """``audit.labels.Words`` from the services that own each name (statuses, kinds, roles,
    message audiences); organisations are read once (one query, when a sentence first
    needs one)."""

    def __init__(self) -> None:
        self._organisations: dict[int, str] | None = None

    def registration_status(self, value: str) -> str:
        return _known(registration_statuses.label, value)

    def event_status(self, value: str) -> str:
        return _known(event_statuses.phase_name, value)

    def event_kind(self, value: str) -> str:
        return _known(event_statuses.kind_label, value)

    def role(self, value: str) -> str:
        return _known(roles.label, value)

    def organisation(self, organisation_id: int) -> str:
        if self._organisations is None:
            rows = db.session.execute(sa.select(Organisation.id, Organisation.name))
            self._organisations = {row.id: row.name for row in rows}
        return self._organisations.get(organisation_id, _("(removed)"))

    def audience(self, value: str) -> str:
        known = messages.AUDIENCE_LABELS.get(value)
        return str(known) if known is not None else str(value)


@dataclass(frozen=True)
class ObjectRef:
    """What an entry is about. ``event_id`` places a registration, team sign-up or message."""

    type: str
    id: int
    title: str
    exists: bool = True
    event_id: int | None = None

    @property
    def kind(self) -> str:
        return labels.object_type_label(self.type)


def _refs_events(ids: set[int]) -> dict[int, ObjectRef]:
    rows = db.session.execute(sa.select(Event.id, Event.title).where(Event.id.in_(ids)))
    return {row.id: ObjectRef("event", row.id, row.title, event_id=row.id) for row in rows}


def _refs_registrations(ids: set[int]) -> dict[int, ObjectRef]:
    rows = db.session.execute(
        sa.select(Registration.id, Registration.name, Registration.event_id, Event.title)
        .join(Event, Event.id == Registration.event_id)
        .where(Registration.id.in_(ids))
    )
    return {
        row.id: ObjectRef(
            "registration",
            row.id,
            _("%(name)s, %(event)s", name=row.name, event=row.title),
            event_id=row.event_id,
        )
        for row in rows
    }


def _refs_teams(ids: set[int]) -> dict[int, ObjectRef]:
    rows = db.session.execute(
        sa.select(Team.id, Team.contact_name, Team.event_id, Event.title)
        .join(Event, Event.id == Team.event_id)
        .where(Team.id.in_(ids))
    )
    return {
        row.id: ObjectRef(
            "team",
            row.id,
            _("Team of %(name)s, %(event)s", name=row.contact_name, event=row.title),
            event_id=row.event_id,
        )
        for row in rows
    }


def _refs_users(ids: set[int]) -> dict[int, ObjectRef]:
    rows = db.session.execute(sa.select(User.id, User.name, User.email).where(User.id.in_(ids)))
    return {row.id: ObjectRef("user", row.id, f"{row.name} <{row.email}>") for row in rows}


def _refs_organisations(ids: set[int]) -> dict[int, ObjectRef]:
    rows = db.session.execute(
        sa.select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))
    )
    return {row.id: ObjectRef("organisation", row.id, row.name) for row in rows}


def _refs_messages(ids: set[int]) -> dict[int, ObjectRef]:
    rows = db.session.execute(
        sa.select(
            OutboxMessage.id, OutboxMessage.recipient, OutboxMessage.subject, OutboxMessage.event_id
        ).where(OutboxMessage.id.in_(ids))
    )
    return {
        row.id: ObjectRef(
            "outboxmessage",
            row.id,
            _("To %(recipient)s: %(subject)s", recipient=row.recipient, subject=row.subject),
            event_id=row.event_id,
        )
        for row in rows
    }


#: How each kind of object is found by id: one query for all ids of that kind.
RESOLVERS = {
    "event": _refs_events,
    "registration": _refs_registrations,
    "team": _refs_teams,
    "user": _refs_users,
    "organisation": _refs_organisations,
    "outboxmessage": _refs_messages,
}


def resolve_objects(entries: Iterable[AuditEntry]) -> dict[tuple[str, int], ObjectRef]:
    """The objects of these entries, one query per kind of object."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for entry in entries:
        if entry.object_type and entry.object_id is not None:
            wanted[entry.object_type].add(entry.object_id)
    found: dict[tuple[str, int], ObjectRef] = {}
    for object_type, ids in wanted.items():
        resolver = RESOLVERS.get(object_type)
        if resolver is None:  # a kind nobody taught us to name: its number
            for object_id in ids:
                found[(object_type, object_id)] = ObjectRef(
                    object_type, object_id, _("No. %(id)d", id=object_id)
                )
            continue
        refs = resolver(ids)
        for object_id in ids:
            found[(object_type, object_id)] = refs.get(object_id) or ObjectRef(
                object_type, object_id, _("(removed)"), exists=False
            )
    return found


# --- rows --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One entry as staff read it."""

    id: int
    when: datetime  # Stockholm time
    action: str  # the raw code
    declared: bool  # False: the generic label and "key: value" details
    label: str
    sentence: str
    who: str
    who_email: str | None
    user_id: int | None
    object: ObjectRef | None


def _who(entry: AuditEntry) -> str:
    if entry.user is not None:
        return entry.user.name
    if labels.made_by_person(entry.action, entry.details):
        return _("The person themselves")
    return _("The system")


def rows_for(entries: list[AuditEntry], words: StaffWords | None = None) -> list[Row]:
    """Entries in words, their objects named in one query per kind of object."""
    words = words or StaffWords()
    objects = resolve_objects(entries)
    return [
        Row(
            id=entry.id,
            when=clock.local(entry.created_at),
            action=entry.action,
            declared=entry.action in labels.ACTIONS,
            label=labels.label(entry.action),
            sentence=labels.describe(entry.action, entry.details, words),
            who=_who(entry),
            who_email=entry.user.email if entry.user is not None else None,
            user_id=entry.user_id,
            object=objects.get((entry.object_type, entry.object_id))
            if entry.object_id is not None
            else None,
        )
        for entry in entries
    ]


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    page: int
    pages: int
    total: int

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def page_of(filters: Filters, page: int, per_page: int = PER_PAGE) -> Page:
    """One page of the filtered log, newest first (a page past the end is empty)."""
    result = db.paginate(
        select_entries(filters),
        page=page,
        per_page=per_page,
        max_per_page=per_page,
        error_out=False,
    )
    return Page(rows_for(list(result.items)), page, result.pages, result.total or 0)


# --- the archive CSV ----------------------------------------------------------------------------

HEADERS = (
    _l("Entry"),
    _l("Time"),
    _l("Action code"),
    _l("Action"),
    _l("What happened"),
    _l("Done by"),
    _l("Done by (email)"),
    _l("Object"),
    _l("Object number"),
    _l("Object title"),
)

# A cell that starts like a formula is run by Excel and LibreOffice (CSV injection): it gets
# a leading apostrophe, as in ``reporting.exports``; the full-width signs are read as formulas too.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    text = printable(str(value))
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_row(row: Row) -> list[str]:
    ref = row.object
    return [
        csv_cell(value)
        for value in (
            row.id,
            row.when,
            row.action,
            row.label,
            row.sentence,
            row.who,
            row.who_email,
            ref.kind if ref else None,
            ref.id if ref else None,
            ref.title if ref else None,
        )
    ]


def _lines(rows: Iterable[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


@dataclass(frozen=True)
class ArchiveExport:
    filename: str
    rows: int
    chunks: Iterator[bytes]
    mimetype: str = CSV_MIMETYPE


def _filter_record(filters: Filters) -> dict:
    """The filters as the export's audit entry keeps them: readable on their own later."""
    record: dict = {}
    if filters.action:
        record["action"] = filters.action
    if filters.no_user:
        record["user"] = None
    elif filters.user_id is not None:
        user = db.session.get(User, filters.user_id)
        record["user"] = f"{user.name} <{user.email}>" if user else filters.user_id
    if filters.event_id is not None:
        event = db.session.get(Event, filters.event_id)
        record["event"] = f"{event.title} ({event.id})" if event else filters.event_id
    if filters.participant:
        record["participant"] = normal_email(filters.participant)
    if filters.object_type:
        record["object_type"] = filters.object_type
    if filters.date_from:
        record["date_from"] = filters.date_from.isoformat()
    if filters.date_to:
        record["date_to"] = filters.date_to.isoformat()
    return record


def export_csv(filters: Filters, user_id: int) -> ArchiveExport:
    """The filtered log as the archive's CSV, oldest first, up to the newest entry now.

    The export is audited first (its own write transaction, committed before any byte is
    handed out, like every export); the rows are then read in chunks of ``CHUNK`` in
    (time, id) order and written as they are read.
    """
    conditions = filters.conditions()
    up_to = db.session.scalar(sa.select(sa.func.max(AuditEntry.id))) or 0
    covered = [*conditions, AuditEntry.id <= up_to]
    count = (
        db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(*covered)) or 0
    )
    details = {
        "list": "audit_log",
        "format": "csv",
        "rows": count,
        "up_to_entry": up_to,
        "filters": _filter_record(filters),
    }
    write_transaction(lambda: audit.record(user_id, "export", None, details))
    stamp = clock.local(clock.now()).strftime("%Y%m%d-%H%M")
    return ArchiveExport(f"kvarn-audit-log-{stamp}.csv", count, _stream(covered))


def _stream(conditions: list) -> Iterator[bytes]:
    yield "\ufeff".encode() + _lines([[str(h) for h in HEADERS]])
    words = StaffWords()
    after: tuple[datetime, int] | None = None
    while True:
        query = sa.select(AuditEntry).where(*conditions)
        if after is not None:
            moment, last_id = after
            query = query.where(
                sa.or_(
                    AuditEntry.created_at > moment,
                    sa.and_(AuditEntry.created_at == moment, AuditEntry.id > last_id),
                )
            )
        chunk = list(
            db.session.scalars(
                query.order_by(AuditEntry.created_at, AuditEntry.id)
                .limit(CHUNK)
                .options(sa.orm.selectinload(AuditEntry.user))
            )
        )
        if not chunk:
            return
        yield _lines(_csv_row(row) for row in rows_for(chunk, words))
        after = (chunk[-1].created_at, chunk[-1].id)
