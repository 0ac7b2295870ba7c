"""An event's archive record: what the archive (diarium) keeps once Kvarn forgets the people.

The rule this module owns: before any registration of an event is anonymised, its record
is on disk in ``ARCHIVE_FOLDER``, complete or not at all:

- ``kvarn-event-<id>-attendance.csv``: the attendance list, everyone who held a seat
  (name, organisation, status, sign-up and first check-in time, a mark per session);
- ``kvarn-event-<id>-figures.csv``: the figures per organisation (each status, and
  attendance per session), with a total row;
- ``kvarn-event-<id>-archive.pdf``: both, with the event's facts, as PDF/A-1b (fonts
  embedded, XMP identification, sRGB output intent; fpdf2's PDF/A mode);
- ``kvarn-event-<id>-archive.sha256``: the SHA-256 of the three, in ``sha256sum`` format
  (``sha256sum -c`` checks them), written last.

The CSV files are written like the registration lists (``reporting.exports``): UTF-8 with
a BOM, semicolons, CRLF, a cell that starts like a formula neutralised, times in Stockholm.
No email address, work team or special needs goes into the record. Each file is written to
a temporary file in the folder, flushed to disk and renamed into place, so a reader never
sees half a file; the names are fixed per event, so writing the record again replaces it.
Texts are in the installation's default language (``BABEL_DEFAULT_LOCALE``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from fpdf import FPDF
from fpdf.fonts import FontFace

from ..core import clock
from ..core.extensions import db
from ..core.i18n import in_language
from ..core.text import printable
from ..events.statuses import kind_label, phase_name
from ..models import (
    Event,
    EventSession,
    Organisation,
    Registration,
    RegistrationStatus,
    SessionAttendance,
    Team,
)
from ..registrations.statuses import SEATED
from ..registrations.statuses import label as status_label

S = RegistrationStatus
FONTS = Path(__file__).resolve().parent / "fonts"
#: The order of the status columns in the figures.
STATUS_ORDER = (S.CONFIRMED, S.ATTENDED, S.NO_SHOW, S.WAITLISTED, S.INTERESTED, S.CANCELLED)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ArchiveError(Exception):
    """The record could not be written (the folder is missing, full or not writable)."""


# --- what the record holds ------------------------------------------------------------


@dataclass(frozen=True)
class SessionLine:
    number: int
    starts_at: datetime
    ends_at: datetime
    venue: str
    attended: int


@dataclass(frozen=True)
class Attendee:
    name: str
    organisation: str
    status: S
    registered_at: datetime
    checked_in_at: datetime | None
    #: One flag per session, in session order: checked in there.
    sessions: tuple[bool, ...]


@dataclass(frozen=True)
class FigureLine:
    organisation: str
    by_status: dict[S, int]
    #: People checked in at each session, in session order.
    per_session: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class Record:
    event_id: int
    title: str
    kind: str
    status: str
    arranged_by: str
    organiser: str
    capacity: int
    teams: int
    sessions: tuple[SessionLine, ...]
    figures: tuple[FigureLine, ...]
    totals: FigureLine
    attendees: tuple[Attendee, ...]
    written_at: datetime
    controller: str
    site: str


def build(event: Event, now: datetime | None = None) -> Record:
    """The record of ``event`` as the database holds it now (call it under the event's
    lock, in the transaction that anonymises it, so that it is exactly what goes)."""
    now = now or clock.now()
    sessions = list(
        db.session.scalars(
            sa.select(EventSession)
            .where(EventSession.event_id == event.id)
            .order_by(EventSession.starts_at, EventSession.id)
        )
    )
    position = {session.id: index for index, session in enumerate(sessions)}
    organisations = {
        row.id: row
        for row in db.session.execute(
            sa.select(Organisation.id, Organisation.name, Organisation.sort_order)
        )
    }

    def org_order(org_id: int) -> tuple:
        org = organisations.get(org_id)
        return (org.sort_order, org.name) if org else (0, "")

    counts: dict[int, dict[S, int]] = {}
    for org_id, status, n in db.session.execute(
        sa.select(Registration.organisation_id, Registration.status, sa.func.count())
        .where(Registration.event_id == event.id)
        .group_by(Registration.organisation_id, Registration.status)
    ):
        counts.setdefault(org_id, dict.fromkeys(STATUS_ORDER, 0))[S(status)] = int(n)
    checked: dict[int, list[int]] = {}
    marks: set[tuple[int, int]] = set()
    for registration_id, org_id, session_id in db.session.execute(
        sa.select(Registration.id, Registration.organisation_id, SessionAttendance.session_id)
        .join(SessionAttendance, SessionAttendance.registration_id == Registration.id)
        .where(Registration.event_id == event.id)
    ):
        marks.add((registration_id, session_id))
        per = checked.setdefault(org_id, [0] * len(sessions))
        if session_id in position:
            per[position[session_id]] += 1

    figures = tuple(
        FigureLine(
            organisations[org_id].name if org_id in organisations else "",
            counts[org_id],
            tuple(checked.get(org_id, [0] * len(sessions))),
        )
        for org_id in sorted(counts, key=org_order)
    )
    totals = FigureLine(
        "",
        {status: sum(line.by_status[status] for line in figures) for status in STATUS_ORDER},
        tuple(sum(line.per_session[i] for line in figures) for i in range(len(sessions))),
    )
    attendees = tuple(
        sorted(
            (
                Attendee(
                    printable(r.name),
                    organisations[r.organisation_id].name if r.organisation_id in organisations else "",
                    r.status,
                    r.created_at,
                    r.checked_in_at,
                    tuple((r.id, s.id) in marks for s in sessions),
                )
                for r in db.session.scalars(
                    sa.select(Registration).where(
                        Registration.event_id == event.id,
                        Registration.status.in_([s.value for s in SEATED]),
                    )
                )
            ),
            key=lambda a: (a.name.casefold(), a.organisation.casefold(), a.registered_at),
        )
    )
    teams = db.session.scalar(sa.select(sa.func.count(Team.id)).where(Team.event_id == event.id))
    config = current_app.config
    with in_language(config["BABEL_DEFAULT_LOCALE"]):
        return Record(
            event_id=event.id,
            title=printable(event.title),
            kind=kind_label(event.kind),
            status=phase_name(event.phase(now)),
            arranged_by=event.organising_organisation.name if event.organising_organisation else "",
            organiser=printable(event.organiser.name) if event.organiser else "",
            capacity=event.capacity,
            teams=int(teams or 0),
            sessions=tuple(
                SessionLine(
                    i + 1, s.starts_at, s.ends_at, printable(s.venue or ""), totals.per_session[i]
                )
                for i, s in enumerate(sessions)
            ),
            figures=figures,
            totals=totals,
            attendees=attendees,
            written_at=now,
            controller=printable(str(config.get("ORGANISATION_NAME") or config["SITE_NAME"])),
            site=str(config["SITE_NAME"]),
        )


# --- the files --------------------------------------------------------------------------


def file_names(event_id: int) -> dict[str, str]:
    stem = f"kvarn-event-{event_id}"
    return {
        "attendance": f"{stem}-attendance.csv",
        "figures": f"{stem}-figures.csv",
        "pdf": f"{stem}-archive.pdf",
        "checksums": f"{stem}-archive.sha256",
    }


def _when(moment: datetime | None) -> str:
    return clock.local(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


def _span(line: SessionLine) -> str:
    starts, ends = clock.local(line.starts_at), clock.local(line.ends_at)
    if starts.date() == ends.date():
        return f"{starts:%Y-%m-%d %H:%M}–{ends:%H:%M}"
    return f"{starts:%Y-%m-%d %H:%M} – {ends:%Y-%m-%d %H:%M}"


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv(header: list[str], rows: list[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([_cell(h) for h in header])
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8-sig")


def _session_heading(line: SessionLine) -> str:
    return _("Session %(number)d (%(day)s)", number=line.number, day=clock.local(line.starts_at).strftime("%Y-%m-%d"))


def _mark(flag: bool) -> str:
    return _("yes") if flag else ""


def attendance_header(record: Record, short: bool = False) -> list[str]:
    """The attendance list's columns; ``short``: the sessions by their number only (the
    PDF, whose facts and per-session table give their dates)."""
    return [
        _("Name"),
        _("Organisation"),
        _("Status"),
        _("Registered"),
        _("Checked in"),
        *(str(line.number) if short else _session_heading(line) for line in record.sessions),
    ]


def attendance_rows(record: Record) -> list[list[str]]:
    return [
        [
            a.name,
            a.organisation,
            status_label(a.status),
            _when(a.registered_at),
            _when(a.checked_in_at),
            *(_mark(flag) for flag in a.sessions),
        ]
        for a in record.attendees
    ]


def figures_header(record: Record, sessions: bool = True) -> list[str]:
    return [
        _("Organisation"),
        *(status_label(status) for status in STATUS_ORDER),
        _("Total"),
        *(
            _("Checked in, session %(number)d", number=line.number)
            for line in (record.sessions if sessions else ())
        ),
    ]


def figures_rows(record: Record, sessions: bool = True) -> list[list]:
    def row(line: FigureLine, name: str) -> list:
        per_session = line.per_session if sessions else ()
        return [name, *(line.by_status[s] for s in STATUS_ORDER), line.total, *per_session]

    return [row(line, line.organisation) for line in record.figures] + [row(record.totals, _("Total"))]


def attendance_csv(record: Record) -> bytes:
    return _csv(attendance_header(record), attendance_rows(record))


def figures_csv(record: Record) -> bytes:
    return _csv(figures_header(record), figures_rows(record))


def _font_paths() -> tuple[str, str]:
    config = current_app.config
    regular = config.get("ARCHIVE_FONT") or str(FONTS / "DejaVuSans.ttf")
    bold = config.get("ARCHIVE_FONT_BOLD") or str(FONTS / "DejaVuSans-Bold.ttf")
    return regular, bold


class _Document(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Archive", "", 8)
        self.cell(0, 6, f"{self.footer_text} · " + _("page %(page)d of %(pages)s", page=self.page_no(), pages="{nb}"), align="C")


def pdf(record: Record) -> bytes:
    """The record as PDF/A-1b: the event's facts, the figures, the attendance list."""
    wide = len(record.sessions) > 4
    document = _Document(orientation="L" if wide else "P", format="A4", enforce_compliance="PDF/A-1B")
    regular, bold = _font_paths()
    document.add_font("Archive", "", regular)
    document.add_font("Archive", "B", bold)
    title = _("Archive record: %(title)s", title=record.title)
    document.set_title(title)
    document.set_author(record.controller)
    document.set_creator(record.site)
    document.set_subject(_("Attendance list and figures of event %(number)d", number=record.event_id))
    document.set_lang(current_app.config["BABEL_DEFAULT_LOCALE"])
    document.set_creation_date(record.written_at)
    document.footer_text = _("%(site)s, archive record of event %(number)d", site=record.site, number=record.event_id)
    document.set_auto_page_break(True, margin=18)
    document.add_page()

    document.set_font("Archive", "B", 16)
    document.multi_cell(0, 8, title, align="L", new_x="LMARGIN", new_y="NEXT")
    document.ln(2)
    document.set_font("Archive", "", 10)
    facts = [
        (_("Event number"), str(record.event_id)),
        (_("Kind"), record.kind),
        (_("Status"), record.status),
        (_("Arranged by"), record.arranged_by or "–"),
        (_("Organiser"), record.organiser or "–"),
        (_("Capacity (seats)"), str(record.capacity)),
        (_("Team sign-ups"), str(record.teams)),
        (_("Personal data controller"), record.controller),
        (_("Record written"), _when(record.written_at)),
    ]
    facts += [
        (
            _("Session %(number)d", number=line.number),
            f"{_span(line)}{', ' + line.venue if line.venue else ''}",
        )
        for line in record.sessions
    ]
    bold_face = FontFace(emphasis="BOLD")
    with document.table(
        col_widths=(1.5, 3), first_row_as_headings=False, borders_layout="NONE", line_height=6,
        text_align="LEFT",
    ) as table:
        for name, value in facts:
            row = table.row()
            row.cell(name, style=bold_face)
            row.cell(value)
    document.ln(3)
    document.multi_cell(
        0,
        5,
        _(
            "After this record was written, Kvarn removed the personal data of the event's "
            "registrations (retention rules). The figures count every registration; the "
            "attendance list names everyone who had a seat."
        ),
        align="L",
        new_x="LMARGIN",
        new_y="NEXT",
    )

    document.ln(4)
    document.set_font("Archive", "B", 12)
    document.cell(0, 8, _("Figures per organisation"), new_x="LMARGIN", new_y="NEXT")
    document.set_font("Archive", "", 8)
    header = figures_header(record, sessions=False)
    with document.table(
        col_widths=(3, *([1] * (len(header) - 1))), headings_style=bold_face, line_height=5,
        text_align=("LEFT", *(["RIGHT"] * (len(header) - 1))),
    ) as table:
        table.row([str(h) for h in header])
        for values in figures_rows(record, sessions=False):
            table.row([str(v) for v in values])

    if record.sessions:
        document.ln(4)
        document.set_font("Archive", "B", 12)
        document.cell(0, 8, _("Checked in per session"), new_x="LMARGIN", new_y="NEXT")
        document.set_font("Archive", "", 8)
        with document.table(
            col_widths=(1.2, 3, 4, 1.4), headings_style=bold_face, line_height=5,
            text_align=("LEFT", "LEFT", "LEFT", "RIGHT"),
        ) as table:
            table.row([_("Session"), _("When"), _("Venue"), _("Checked in")])
            for line in record.sessions:
                table.row([str(line.number), _span(line), line.venue or "–", str(line.attended)])

    document.ln(4)
    document.set_font("Archive", "B", 12)
    document.cell(
        0,
        8,
        ngettext("Attendance list: %(num)d person with a seat", "Attendance list: %(num)d people with a seat", len(record.attendees)),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    document.set_font("Archive", "", 8)
    header = attendance_header(record, short=True)
    rows = attendance_rows(record)
    if rows:
        with document.table(
            col_widths=(4.4, 3.6, 2.2, 3.1, 3.1, *([0.9] * len(record.sessions))),
            headings_style=bold_face, line_height=5,
        ) as table:
            table.row([str(h) for h in header])
            for values in rows:
                table.row(values)
    else:
        document.cell(0, 6, _("Nobody had a seat."), new_x="LMARGIN", new_y="NEXT")
    return bytes(document.output())


# --- writing -----------------------------------------------------------------------------


def folder() -> Path:
    """``ARCHIVE_FOLDER``: absolute, or relative to the instance folder (default archive/)."""
    configured = str(current_app.config.get("ARCHIVE_FOLDER") or "archive")
    path = Path(configured)
    return path if path.is_absolute() else Path(current_app.instance_path) / path


@dataclass(frozen=True)
class Written:
    folder: Path
    #: File name -> SHA-256 (hex) of the attendance list, the figures and the PDF.
    files: dict[str, str]
    #: The checksum file's name and its own SHA-256.
    checksums: str
    checksums_sha256: str

    @property
    def pdf(self) -> str:
        return next(name for name in self.files if name.endswith(".pdf"))


def render(record: Record) -> dict[str, bytes]:
    """The record's files (name -> bytes), the checksum file last."""
    names = file_names(record.event_id)
    with in_language(current_app.config["BABEL_DEFAULT_LOCALE"]):
        files = {
            names["attendance"]: attendance_csv(record),
            names["figures"]: figures_csv(record),
            names["pdf"]: pdf(record),
        }
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in files.items())
    files[names["checksums"]] = sums.encode("ascii")
    return files


def write(record: Record, target: Path | None = None) -> Written:
    """Write the record's files atomically into ``target`` (``folder()``); ``ArchiveError``
    if any of them cannot be written (then no temporary file is left behind)."""
    target = target or folder()
    try:
        files = render(record)
    except Exception as error:  # a font that cannot be read, a PDF the library refuses
        raise ArchiveError(f"the record of event {record.event_id} could not be made: {error}") from error
    drafts: list[tuple[str, str]] = []
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            handle, draft = tempfile.mkstemp(dir=target, prefix=f".{name}.", suffix=".part")
            drafts.append((draft, name))
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(draft, 0o640)  # names of people: not for every account on the machine
        for draft, name in drafts:
            os.replace(draft, target / name)
        _sync_folder(target)
    except OSError as error:
        for draft, _name in drafts:
            try:
                os.unlink(draft)
            except FileNotFoundError:
                pass
        raise ArchiveError(f"{target}: {error}") from error
    names = list(files)
    return Written(
        target,
        {name: hashlib.sha256(files[name]).hexdigest() for name in names[:-1]},
        names[-1],
        hashlib.sha256(files[names[-1]]).hexdigest(),
    )


def _sync_folder(path: Path) -> None:
    """Make the renames durable (a folder's entries are flushed with the folder)."""
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
