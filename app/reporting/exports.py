"""Who may see whose names, and the registration lists built from that (CSV, XLSX).

The rule lives here, in one place: organisers and admins see everyone; a
coordinator sees the names and contact details of people from their own
organisation only (other organisations appear in exports only as counts).
Every export is recorded in the audit log before the file is handed out.

The files are written as the rows are read, from one streaming query (``stream_people``,
``CHUNK`` rows a round trip), so an export's memory does not grow with its rows: the CSV
goes out while it is written, the XLSX (openpyxl's write-only mode) is written to a
temporary file and handed out from there.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from ..accounts.roles import SEES_EVERYONE
from ..audit import entries as audit
from ..core import clock
from ..core.database import write_transaction
from ..core.errors import NotFound
from ..core.extensions import db
from ..core.text import printable
from ..models import Event, EventStatus, Organisation, Registration, RegistrationStatus, Role, User
from ..registrations import reads, statuses
from ..registrations.statuses import team_label
from .figures import counts_by_organisation, organisations

CSV_MIMETYPE = "text/csv; charset=utf-8"
#: Rows fetched from the database per round trip while an export is written.
CHUNK = 1000
#: About how many characters of CSV are handed out at a time.
CSV_PIECE = 64 * 1024
#: Bytes of a finished XLSX handed out at a time.
FILE_PIECE = 256 * 1024
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Viewer:
    """The part of a staff user that decides what they may see."""

    user_id: int
    role: Role
    organisation_id: int | None

    @classmethod
    def of(cls, user: User) -> Viewer:
        return cls(user.id, Role(user.role), user.organisation_id)

    @property
    def sees_everyone(self) -> bool:
        return self.role in SEES_EVERYONE


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    email: str
    organisation_id: int
    organisation: str
    work_team: str
    needs: str
    status: RegistrationStatus
    created_at: datetime
    checked_in_at: datetime | None
    team_id: int | None
    #: The team's label ("Team 2 (4, kept together)"), empty for someone who came alone.
    team: str = ""

    @property
    def status_label(self) -> str:
        return statuses.label(self.status)


def visible_to(viewer: Viewer, event: Event) -> bool:
    """Coordinators see public events only (a draft is the organiser's business)."""
    return viewer.sees_everyone or event.status != EventStatus.DRAFT


def _people_select(
    event_id: int, viewer: Viewer, statuses: Iterable[RegistrationStatus] | None = None
) -> sa.Select | None:
    """The registrations of one event this viewer may see by name, in sign-up order with
    team members together (``reads.in_team_order``); None when they may see nobody."""
    where = [Registration.event_id == event_id]
    if not viewer.sees_everyone:
        if viewer.organisation_id is None:
            return None
        where.append(Registration.organisation_id == viewer.organisation_id)
    if statuses is not None:
        where.append(Registration.status.in_([s.value for s in statuses]))
    row, order = reads.in_team_order(*where)
    return (
        sa.select(
            row.id,
            row.name,
            row.email,
            row.organisation_id,
            Organisation.name.label("organisation"),
            row.work_team,
            row.needs,
            row.status,
            row.created_at,
            row.checked_in_at,
            row.team_id,
        )
        .join(Organisation, Organisation.id == row.organisation_id)
        .order_by(*order)
    )


def _people_from(rows, teams: dict[int, reads.EventTeam], viewer: Viewer) -> Iterator[Person]:
    for row in rows:
        team = teams.get(row.team_id)
        yield Person(
            **row._asdict(), team=team_label(team, viewer.sees_everyone) if team else ""
        )


def people(
    event_id: int, viewer: Viewer, statuses: Iterable[RegistrationStatus] | None = None
) -> list[Person]:
    """The registrations of one event this viewer may see by name, in sign-up order, a
    team's members together at its first member's place."""
    query = _people_select(event_id, viewer, statuses)
    if query is None:
        return []
    teams = reads.event_teams(event_id)
    return list(_people_from(db.session.execute(query), teams, viewer))


def stream_people(event_id: int, viewer: Viewer) -> Iterator[Person]:
    """``people`` read as a stream: one statement, ``CHUNK`` rows fetched at a time (a
    server-side cursor on PostgreSQL and MariaDB), so memory does not grow with the list."""
    query = _people_select(event_id, viewer)
    if query is None:
        return
    teams = reads.event_teams(event_id)
    rows = db.session.execute(query.execution_options(yield_per=CHUNK))
    try:
        yield from _people_from(rows, teams, viewer)
    finally:
        rows.close()


def count_people(event_id: int, viewer: Viewer) -> int:
    """How many registrations ``people`` lists for this viewer (one COUNT on an index)."""
    where = [Registration.event_id == event_id]
    if not viewer.sees_everyone:
        if viewer.organisation_id is None:
            return 0
        where.append(Registration.organisation_id == viewer.organisation_id)
    return db.session.scalar(sa.select(sa.func.count()).select_from(Registration).where(*where))


# --- building the files -------------------------------------------------------

HEADERS = (
    _l("Name"),
    _l("Email"),
    _l("Organisation"),
    _l("Work team"),
    _l("Needs"),
    _l("Status"),
    _l("Registered"),
    _l("Checked in"),
    _l("Team"),
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _local(dt: datetime | None) -> datetime | None:
    return clock.local(dt).replace(tzinfo=None, microsecond=0) if dt else None


def _row(person: Person, labels: dict | None = None) -> list:
    """One person's cells; stored text is cleaned of control characters first, so no
    name ever breaks a file (core.text.printable). ``labels``: status names looked up
    once for a whole file (``_status_labels``)."""
    return [
        printable(person.name),
        printable(person.email),
        printable(person.organisation),
        printable(person.work_team),
        printable(person.needs),
        labels[person.status] if labels else person.status_label,
        _local(person.created_at),
        _local(person.checked_in_at),
        printable(person.team),
    ]


def _status_labels() -> dict[RegistrationStatus, str]:
    return {status: statuses.label(status) for status in RegistrationStatus}


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    text = str(value)
    # A cell that starts like a formula is run by Excel: neutralise it (CSV injection).
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_chunks(rows: Iterable[list]) -> Generator[bytes, None, None]:
    """UTF-8 with BOM and semicolons: what Excel with Swedish settings opens as columns.
    Written as read, in pieces of about ``CSV_PIECE`` characters."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow([str(h) for h in HEADERS])
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
        if buffer.tell() >= CSV_PIECE:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def to_csv(rows: list[list]) -> bytes:
    """The whole CSV at once (``csv_chunks`` joined)."""
    return b"".join(csv_chunks(rows))


def _cell(sheet, value, bold: bool = False):
    """A write-only cell where a plain value will not do: a name like "=HYPERLINK(...)"
    stays text, dates show as dates, headings are bold."""
    if not bold and not isinstance(value, datetime) and not (
        isinstance(value, str) and value.startswith("=")
    ):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    if cell.data_type == "f":
        cell.data_type = "s"
    if isinstance(value, datetime):
        cell.number_format = "yyyy-mm-dd hh:mm"
    if bold:
        cell.font = Font(bold=True)
    return cell


def write_xlsx(
    target, event: Event, rows: Iterable[list], summary: list[tuple[str, int, int, int]]
) -> int:
    """Write the workbook to ``target`` (a path or a binary file) in openpyxl's write-only
    mode, row by row (the rows go to a temporary file, never all into memory). Returns the
    number of registration rows written."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Registrations")[:31])
    for index, width in enumerate((28, 32, 24, 20, 30, 14, 17, 17, 30), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.append([_cell(sheet, str(h), bold=True) for h in HEADERS])
    written = 0
    for row in rows:
        sheet.append([_cell(sheet, value) for value in row])
        written += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(HEADERS))}{written + 1}"

    totals = book.create_sheet(_("Summary")[:31])
    totals.column_dimensions["A"].width = 32
    totals.append([_cell(totals, printable(event.title), bold=True)])
    totals.append([])
    totals.append(
        [
            _cell(totals, text, bold=True)
            for text in (_("Organisation"), _("Confirmed"), _("Waiting list"), _("Interested"))
        ]
    )
    for line in summary:
        totals.append([_cell(totals, printable(line[0])), *line[1:]])
    book.save(target)
    return written


def to_xlsx(event: Event, rows: list[list], summary: list[tuple[str, int, int, int]]) -> bytes:
    """The whole workbook at once (``write_xlsx`` into memory)."""
    buffer = io.BytesIO()
    write_xlsx(buffer, event, rows, summary)
    return buffer.getvalue()


@dataclass(frozen=True)
class ExportFile:
    filename: str
    mimetype: str
    #: The file's bytes, in pieces: iterate once (inside the request, for a CSV), or close.
    chunks: Generator[bytes, None, None] | _FileChunks
    rows: int


def _summary(event_id: int) -> list[tuple[str, int, int, int]]:
    """Counts per organisation (aggregates: every staff role may see these)."""
    orgs = organisations()
    counts = counts_by_organisation([event_id])[event_id]
    ordered = sorted(counts.items(), key=lambda kv: (orgs[kv[0]].sort_order, orgs[kv[0]].name))
    return [(orgs[i].name, c.confirmed, c.waitlisted, c.interested) for i, c in ordered]


class _FileChunks:
    """A finished temporary file handed out in pieces; closed (and so removed) at the end
    or when the response is closed, whether or not it was read."""

    def __init__(self, file) -> None:
        self.file = file

    def __iter__(self) -> Iterator[bytes]:
        try:
            self.file.seek(0)
            while piece := self.file.read(FILE_PIECE):
                yield piece
        finally:
            self.close()

    def close(self) -> None:
        self.file.close()

    __del__ = close  # a caller that neither reads nor closes it leaves no open file


def export_registrations(event_id: int, viewer: Viewer, fmt: str) -> ExportFile:
    """The registration list of one event as ``fmt`` ("csv" or "xlsx"), audited.

    Memory does not grow with the list: the rows are read from one streaming query. The
    CSV is counted, audited and then written as it is read, while the response is sent
    (iterate ``chunks`` inside the request); the XLSX is written row by row to a temporary
    file, audited, and handed out from that file. The audit entry is committed (in its own
    write transaction) before the first byte: an export that could not be recorded is not
    handed out.
    """
    if fmt not in ("csv", "xlsx"):
        raise ValueError(fmt)
    event = db.session.get(Event, event_id)
    if event is None or not visible_to(viewer, event):
        raise NotFound()
    if fmt == "csv":
        count = count_people(event_id, viewer)
        labels = _status_labels()
        chunks = csv_chunks(_row(p, labels) for p in stream_people(event_id, viewer))
        mimetype = CSV_MIMETYPE
    else:
        file = tempfile.TemporaryFile()
        try:
            labels = _status_labels()
            rows = (_row(p, labels) for p in stream_people(event_id, viewer))
            count = write_xlsx(file, event, rows, _summary(event_id))
        except BaseException:
            file.close()
            raise
        chunks, mimetype = _FileChunks(file), XLSX_MIMETYPE
    stamp = clock.local(clock.now()).strftime("%Y%m%d-%H%M")
    filename = f"kvarn-event-{event_id}-registrations-{stamp}.{fmt}"
    details = {
        "format": fmt,
        "rows": count,
        "scope": "all" if viewer.sees_everyone else "organisation",
        "organisation_id": None if viewer.sees_everyone else viewer.organisation_id,
    }

    def work() -> None:
        audit.record(viewer.user_id, "export", db.session.get(Event, event_id), details)

    try:
        write_transaction(work)
    except BaseException:
        chunks.close()
        raise
    return ExportFile(filename, mimetype, chunks, count)
