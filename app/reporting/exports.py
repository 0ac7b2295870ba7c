"""Who may see whose names, and the registration lists built from that (CSV, XLSX).

The rule lives here, in one place: organisers and admins see everyone; a
coordinator sees the names and contact details of people from their own
organisation only (other organisations appear in exports only as counts).
Every export is recorded in the audit log before the file is handed out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
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


def people(
    event_id: int, viewer: Viewer, statuses: Iterable[RegistrationStatus] | None = None
) -> list[Person]:
    """The registrations of one event this viewer may see by name, in sign-up order."""
    query = (
        sa.select(
            Registration.id,
            Registration.name,
            Registration.email,
            Registration.organisation_id,
            Organisation.name.label("organisation"),
            Registration.work_team,
            Registration.needs,
            Registration.status,
            Registration.created_at,
            Registration.checked_in_at,
            Registration.team_id,
        )
        .join(Organisation, Organisation.id == Registration.organisation_id)
        .where(Registration.event_id == event_id)
        .order_by(Registration.created_at, Registration.id)
    )
    if not viewer.sees_everyone:
        if viewer.organisation_id is None:
            return []
        query = query.where(Registration.organisation_id == viewer.organisation_id)
    if statuses is not None:
        query = query.where(Registration.status.in_([s.value for s in statuses]))
    teams = reads.event_teams(event_id)
    found = [
        Person(
            **row._asdict(),
            team=team_label(teams[row.team_id], viewer.sees_everyone)
            if row.team_id in teams
            else "",
        )
        for row in db.session.execute(query)
    ]
    return reads.grouped_by_team(found, lambda person: person.team_id)


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


def _row(person: Person) -> list:
    """One person's cells; stored text is cleaned of control characters first, so no
    name ever breaks a file (core.text.printable)."""
    return [
        printable(person.name),
        printable(person.email),
        printable(person.organisation),
        printable(person.work_team),
        printable(person.needs),
        person.status_label,
        _local(person.created_at),
        _local(person.checked_in_at),
        printable(person.team),
    ]


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    text = str(value)
    # A cell that starts like a formula is run by Excel: neutralise it (CSV injection).
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(rows: list[list]) -> bytes:
    """UTF-8 with BOM and semicolons: what Excel with Swedish settings opens as columns."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([str(h) for h in HEADERS])
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8-sig")


def _append(sheet, values: list) -> None:
    sheet.append(values)
    for cell in sheet[sheet.max_row]:
        if cell.data_type == "f":  # a name like "=HYPERLINK(...)" stays text
            cell.data_type = "s"
        if isinstance(cell.value, datetime):
            cell.number_format = "yyyy-mm-dd hh:mm"


def to_xlsx(event: Event, rows: list[list], summary: list[tuple[str, int, int, int]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = _("Registrations")[:31]
    sheet.append([str(h) for h in HEADERS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        _append(sheet, row)
    for index, width in enumerate((28, 32, 24, 20, 30, 14, 17, 17, 30), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions

    totals = book.create_sheet(_("Summary")[:31])
    _append(totals, [printable(event.title)])
    totals["A1"].font = Font(bold=True)
    totals.append([])
    totals.append([_("Organisation"), _("Confirmed"), _("Waiting list"), _("Interested")])
    for cell in totals[3]:
        cell.font = Font(bold=True)
    for line in summary:
        _append(totals, [printable(line[0]), *line[1:]])
    totals.column_dimensions["A"].width = 32
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class ExportFile:
    filename: str
    mimetype: str
    data: bytes
    rows: int


def _summary(event_id: int) -> list[tuple[str, int, int, int]]:
    """Counts per organisation (aggregates: every staff role may see these)."""
    orgs = organisations()
    counts = counts_by_organisation([event_id])[event_id]
    ordered = sorted(counts.items(), key=lambda kv: (orgs[kv[0]].sort_order, orgs[kv[0]].name))
    return [(orgs[i].name, c.confirmed, c.waitlisted, c.interested) for i, c in ordered]


def export_registrations(event_id: int, viewer: Viewer, fmt: str) -> ExportFile:
    """Build the registration list of one event as ``fmt`` ("csv" or "xlsx") and audit it.

    The audit entry is committed (in its own write transaction) before the file is
    returned: an export that could not be recorded is not handed out.
    """
    if fmt not in ("csv", "xlsx"):
        raise ValueError(fmt)
    event = db.session.get(Event, event_id)
    if event is None or not visible_to(viewer, event):
        raise NotFound()
    rows = [_row(p) for p in people(event_id, viewer)]
    if fmt == "csv":
        data, mimetype = to_csv(rows), CSV_MIMETYPE
    else:
        data, mimetype = to_xlsx(event, rows, _summary(event_id)), XLSX_MIMETYPE
    stamp = clock.local(clock.now()).strftime("%Y%m%d-%H%M")
    filename = f"kvarn-event-{event_id}-registrations-{stamp}.{fmt}"
    details = {
        "format": fmt,
        "rows": len(rows),
        "scope": "all" if viewer.sees_everyone else "organisation",
        "organisation_id": None if viewer.sees_everyone else viewer.organisation_id,
    }

    def work() -> None:
        audit.record(viewer.user_id, "export", db.session.get(Event, event_id), details)

    write_transaction(work)
    return ExportFile(filename, mimetype, data, len(rows))
