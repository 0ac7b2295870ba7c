"""Certificates of attendance: who qualifies, the PDF, and the code a public page checks.

The rules this module owns:

- A person qualifies when they hold a seat, the event is over (its last session has
  ended, it was not cancelled) and they attended at least ``Event.certificate_share`` of
  its sessions by the check-in rule (``registrations.attendance``: an event where nobody
  was checked in counts everyone with a seat as attending every session). An event
  whose share is None gives no certificates.
- A certificate is issued once per registration (the ``certificate`` row, unique per
  registration) with a random verification code: 12 characters of Crockford's base32
  (60 bits), shown as ``XXXX-XXXX-XXXX``. Nothing can be derived from it, and the public
  page ``/certificates/verify`` accepts only a code that was issued.
- The PDF (fpdf2) names the person, the event, the sessions attended, who arranged it,
  and carries the code, the verification address and a QR code of it.
"""

from __future__ import annotations

import io
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import segno
import sqlalchemy as sa
from flask import current_app
from flask_babel import format_datetime, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from fpdf import FPDF

from ..audit import entries as audit
from ..core import clock
from ..core.database import write_transaction
from ..core.errors import NotFound, Refused
from ..core.extensions import db
from ..core.i18n import format_time, in_language
from ..core.text import printable
from ..core.urls import absolute_url
from ..models import Certificate, Event, EventSession, EventStatus, Registration
from ..registrations import attendance, reads
from ..registrations.locking import lock_event
from ..registrations.statuses import SEATED

#: Crockford's base32: no I, L, O or U, so a code read aloud or typed is unambiguous.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12
#: What people type for the letters the alphabet leaves out.
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
#: The shares an organiser can choose (None: no certificates).
SHARES = (0.5, 0.6, 0.67, 0.75, 0.8, 0.9, 1.0)
DEFAULT_SHARE = 0.8


# --- codes ----------------------------------------------------------------------------


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalise_code(text: str | None) -> str | None:
    """The stored form of a typed code (any case, with or without dashes or spaces,
    O for 0 and I or L for 1), or None when it cannot be a code at all."""
    if not text or len(text) > 64:
        return None
    code = "".join(c for c in text.upper() if c not in " -\t").translate(_READ_AS)
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return code


def verify_url(code: str) -> str:
    return absolute_url(f"/certificates/verify?code={format_code(code)}")


# --- who qualifies ---------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    """Where one person stands: sessions attended of all, and whether that qualifies."""

    attended: int
    total: int
    needed: float | None
    qualifies: bool


def share_label(share: float | None) -> str:
    if share is None:
        return _("No certificates")
    return _("%(percent)d %% of the sessions", percent=round(share * 100))


def event_is_over(event: Event, now: datetime | None = None) -> bool:
    ends = event.ends_at
    return (
        event.status not in (EventStatus.CANCELLED, EventStatus.DRAFT)
        and ends is not None
        and ends <= (now or clock.now())
    )


def judge(event: Event, status, attended: int, total: int, now: datetime | None = None) -> Standing:
    """The rule itself, from plain figures."""
    needed = event.certificate_share
    qualifies = (
        needed is not None
        and status in SEATED
        and total > 0
        and attended > 0
        and event_is_over(event, now)
        and attended / total + 1e-9 >= float(needed)
    )
    return Standing(attended, total, needed, qualifies)


def standing(registration: Registration, now: datetime | None = None) -> Standing:
    event = registration.event
    attended = attendance.attended_sessions([registration.id]).get(registration.id, 0)
    return judge(event, registration.status, attended, len(event.sessions), now)


def offered(registration: Registration) -> bool:
    """Whether the personal page offers a certificate (no query before the event is over)."""
    event = registration.event
    if event.certificate_share is None or registration.status not in SEATED or not event_is_over(event):
        return False
    return standing(registration).qualifies


def attended_session_list(registration: Registration) -> list[EventSession]:
    """The sessions this person attended by the check-in rule, in order."""
    event = registration.event
    if attendance.event_had_check_in(event.id):
        ids = attendance.sessions_checked_in(registration.id)
        return [s for s in event.sessions if s.id in ids]
    return list(event.sessions) if registration.status in attendance.PRESENT_WITHOUT_CHECK_IN else []


# --- issuing -----------------------------------------------------------------------------


def of_registration(registration_id: int) -> Certificate | None:
    return db.session.scalar(
        sa.select(Certificate).where(Certificate.registration_id == registration_id)
    )


def issue(registration: Registration, found: Standing) -> Certificate:
    """The person's certificate, made now if they have none (inside the caller's write
    transaction). An existing one keeps its code and follows corrected attendance."""
    certificate = of_registration(registration.id)
    if certificate is not None:
        certificate.sessions_attended = found.attended
        certificate.sessions_total = found.total
        return certificate
    code = new_code()
    while db.session.scalar(sa.select(Certificate.id).where(Certificate.code == code)):
        code = new_code()  # 60 random bits: practically never
    certificate = Certificate(
        code=code,
        registration_id=registration.id,
        issued_at=clock.now(),
        sessions_attended=found.attended,
        sessions_total=found.total,
    )
    db.session.add(certificate)
    db.session.flush()
    return certificate


def for_download(manage_token: str) -> Certificate:
    """The certificate of the personal link's owner, issued on the first download.
    ``Refused`` when they do not qualify (yet); ``NotFound`` for an unknown link."""

    def work() -> Certificate:
        registration = reads.by_manage_token(manage_token)
        if registration is None:
            raise NotFound()
        lock_event(registration.event_id)
        db.session.refresh(registration)
        found = standing(registration)
        if not found.qualifies:
            raise Refused(_l("There is no certificate of attendance for this registration."))
        return issue(registration, found)

    return write_transaction(work)


def set_share(event_id: int, user_id: int, share: float | None) -> Event:
    """The share of sessions an event's certificate needs (None: no certificates).
    Audited as "event.certificate_share"."""
    if share is not None and not 0 < share <= 1:
        raise Refused(_l("Choose a share between 1 and 100 %."), field="share")

    def work() -> Event:
        event = lock_event(event_id)
        before = event.certificate_share
        event.certificate_share = round(share, 2) if share is not None else None
        if before != event.certificate_share:
            audit.record(
                user_id,
                "event.certificate_share",
                event,
                {"from": before, "to": event.certificate_share},
            )
        return event

    return write_transaction(work)


# --- checking a code ------------------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    """What the public page says of a real code."""

    code: str
    name: str
    event_title: str
    event_language: str
    #: The event's days, with the year, in the current language.
    when: str
    attended: int
    total: int
    arranged_by: str | None
    organiser: str | None
    issued: str


def _days_of(event: Event) -> str:
    if event.starts_at is None:
        return ""
    first, last = long_day(event.starts_at), long_day(event.ends_at)
    return first if first == last else f"{first} – {last}"


def verify(text: str | None) -> Verified | None:
    """The certificate a typed code names, or None: only a code that was issued passes."""
    code = normalise_code(text)
    if code is None:
        return None
    certificate = db.session.scalar(sa.select(Certificate).where(Certificate.code == code))
    if certificate is None:
        return None
    registration = certificate.registration
    event = registration.event
    return Verified(
        code=format_code(code),
        name=registration.name,
        event_title=event.title,
        event_language=event.language or "sv",
        when=_days_of(event),
        attended=certificate.sessions_attended,
        total=certificate.sessions_total,
        arranged_by=event.organising_organisation.name if event.organising_organisation else None,
        organiser=event.organiser.name if event.organiser else None,
        issued=long_day(certificate.issued_at),
    )


# --- the PDF ------------------------------------------------------------------------------

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
_PLAIN = str.maketrans(
    {
        "–": "-", "—": "-", "’": "'", "‘": "'", "“": '"', "”": '"', "…": "...", "\u00a0": " ",
        # Letters without a decomposition to a Latin-1 base letter.
        "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i", "Œ": "OE", "œ": "oe",
    }
)


def _fonts() -> tuple[str, str] | None:
    """(regular, bold) TrueType files: the settings, else DejaVu Sans, else None."""
    regular = current_app.config.get("CERTIFICATE_FONT") or ""
    bold = current_app.config.get("CERTIFICATE_FONT_BOLD") or regular
    if regular and Path(regular).is_file() and Path(bold).is_file():
        return regular, bold
    found = (_DEJAVU / "DejaVuSans.ttf", _DEJAVU / "DejaVuSans-Bold.ttf")
    if all(path.is_file() for path in found):
        return str(found[0]), str(found[1])
    return None


def latin1(text: str) -> str:
    """Text Helvetica can show (Latin-1): accents kept where Latin-1 has them, others
    dropped to their base letter, anything else a question mark."""
    out = []
    for char in (text or "").translate(_PLAIN):
        try:
            char.encode("latin-1")
            out.append(char)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode("latin-1")
            out.append(base or "?")
    return "".join(out)


class _Document:
    """A one-page A4 document in the fonts available."""

    def __init__(self, title: str, locale: str) -> None:
        self.pdf = FPDF(orientation="P", unit="mm", format="A4")
        self.pdf.set_auto_page_break(auto=False)
        self.pdf.set_margins(25, 25, 25)
        self.pdf.set_title(title)
        self.pdf.set_author(current_app.config["SITE_NAME"])
        self.pdf.set_creator("Kvarn")
        self.pdf.set_lang(locale)
        fonts = _fonts()
        if fonts is not None:
            self.pdf.add_font("Certificate", "", fonts[0])
            self.pdf.add_font("Certificate", "B", fonts[1])
            self.family, self.clean = "Certificate", (lambda text: printable(text))
        else:
            self.family, self.clean = "Helvetica", (lambda text: latin1(printable(text)))
        self.pdf.add_page()

    def text(self, value: str, size: float, bold: bool = False, gap: float = 2, color=(27, 27, 27)) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", size)
        self.pdf.set_text_color(*color)
        self.pdf.multi_cell(0, size * 0.5, self.clean(value), align="C", new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(gap)

    def rule(self) -> None:
        y = self.pdf.get_y() + 2
        self.pdf.set_draw_color(11, 83, 148)
        self.pdf.set_line_width(0.6)
        self.pdf.line(60, y, 150, y)
        self.pdf.ln(8)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def long_day(dt: datetime) -> str:
    """"tisdag 27 oktober 2026": a certificate is read years later, so with the year."""
    return format_datetime(dt, "EEEE d MMMM y")


def session_line(session: EventSession) -> str:
    return f"{long_day(session.starts_at)}, {format_time(session.starts_at)}–{format_time(session.ends_at)}"


def filename(certificate: Certificate) -> str:
    return f"kvarn-certificate-{certificate.registration.event_id}-{certificate.code[:4].lower()}.pdf"


def pdf(certificate: Certificate, locale: str) -> bytes:
    """The certificate as a PDF, in ``locale``."""
    registration = certificate.registration
    event = registration.event
    attended = attended_session_list(registration)
    with in_language(locale):
        title = _("Certificate of attendance")
        document = _Document(f"{title}: {event.title}", locale)
        document.pdf.set_y(35)
        document.text(current_app.config["SITE_NAME"], 12, color=(74, 74, 74), gap=10)
        document.text(title, 26, bold=True, gap=4)
        document.rule()
        document.text(_("This is to certify that"), 13, gap=4)
        document.text(registration.name, 22, bold=True, gap=6)
        document.text(_("took part in"), 13, gap=4)
        document.text(event.title, 18, bold=True, gap=6)
        arranged = []
        if event.organising_organisation is not None:
            arranged.append(_("Arranged by %(name)s", name=event.organising_organisation.name))
        if event.organiser is not None:
            arranged.append(_("Organiser: %(name)s", name=event.organiser.name))
        for line in arranged:
            document.text(line, 12, gap=1)
        document.pdf.ln(5)
        document.text(
            ngettext(
                "Attended %(num)d of %(total)d session:",
                "Attended %(num)d of %(total)d sessions:",
                certificate.sessions_attended,
                total=certificate.sessions_total,
            )
            if certificate.sessions_total > 1
            else _("Attended the event:"),
            12,
            bold=True,
            gap=1,
        )
        for session in attended[:12]:
            document.text(session_line(session), 11, gap=0.5)
        if len(attended) > 12:
            document.text(_("and %(num)d more", num=len(attended) - 12), 11, gap=0.5)

        url = verify_url(certificate.code)
        qr = io.BytesIO()
        segno.make(url, error="m").save(qr, kind="png", scale=6, border=2)
        qr.seek(0)
        document.pdf.image(qr, x=25, y=232, w=32, h=32)
        document.pdf.set_xy(62, 236)
        document.pdf.set_font(document.family, "", 10)
        document.pdf.set_text_color(27, 27, 27)
        lines = [
            _("Issued %(day)s", day=long_day(certificate.issued_at)),
            _("Verification code: %(code)s", code=format_code(certificate.code)),
            _("Check it at:"),
            url,
        ]
        for line in lines:
            document.pdf.set_x(62)
            document.pdf.multi_cell(123, 5, document.clean(line), new_x="LMARGIN", new_y="NEXT")
        return document.output()
