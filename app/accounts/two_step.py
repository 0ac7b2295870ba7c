"""Two-step log-in: a time-based one-time code (TOTP, RFC 6238, pyotp) after the password.

Optional per user; required for admins when ``REQUIRE_TWO_STEP_FOR_ADMINS`` is true (an
admin without it is sent to set it up before any other staff page). Setting up shows a
QR code (segno) for the authenticator app and is confirmed with a first code; it then
gives ten recovery codes, shown once and stored only as hashes, each usable once. A code
is accepted once (the last used time step is kept), within one step of the clock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import pyotp
import segno
from flask import current_app
from flask_babel import lazy_gettext as _l

from ..audit import entries as audit
from ..core import clock
from ..core.database import write_transaction
from ..core.errors import NotFound, Refused
from ..core.extensions import db
from ..models import Role, User

RECOVERY_CODES = 10
_WRONG = _l("That code is not right. Enter the six digits your app shows now, or a recovery code.")


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str
    qr_svg_data_uri: str


def new_enrolment(user: User) -> Enrolment:
    """A fresh secret and its QR code, not stored until a first code confirms it."""
    return enrolment_for(user, pyotp.random_base32())


def enrolment_for(user: User, secret: str) -> Enrolment:
    """The QR code and link for the authenticator app, for ``secret``."""
    uri = pyotp.TOTP(secret).provisioning_uri(
        name=user.email, issuer_name=current_app.config["SITE_NAME"]
    )
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
    return Enrolment(secret, uri, qr)


def required_for(user: User) -> bool:
    return user.role == Role.ADMIN and bool(current_app.config["REQUIRE_TWO_STEP_FOR_ADMINS"])


def _hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().lower().encode()).hexdigest()


def _new_recovery_codes() -> list[str]:
    return [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]


def _totp_step(secret: str, code: str, last_step: int | None) -> int | None:
    """The time step ``code`` belongs to (now, or one step either side), if not used yet."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = clock.now()
    step_now = totp.timecode(now)
    for offset in (0, -1, 1):
        step = step_now + offset
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step if last_step is None or step > last_step else None
    return None


def _use_code(user: User, code: str) -> bool:
    """Accept a TOTP code or a recovery code for ``user`` (spending it); else False."""
    step = _totp_step(user.totp_secret or "", code, user.totp_last_step)
    if step is not None:
        user.totp_last_step = step
        return True
    hashes = list(user.recovery_code_hashes or [])
    digest = _hash(code)
    if digest in hashes:
        hashes.remove(digest)
        user.recovery_code_hashes = hashes
        audit.record(user.id, "user.recovery_code", user, {"left": len(hashes)})
        return True
    return False


def enable(user_id: int, secret: str, code: str) -> list[str]:
    """Store ``secret`` once ``code`` proves the app has it; returns the recovery codes."""

    def work() -> list[str]:
        user = db.session.get(User, user_id, populate_existing=True)
        if user is None:
            raise NotFound()
        step = _totp_step(secret, code, None)
        if step is None:
            raise Refused(_WRONG, field="code")
        codes = _new_recovery_codes()
        user.totp_secret, user.totp_last_step = secret, step
        user.recovery_code_hashes = [_hash(c) for c in codes]
        audit.record(user.id, "user.two_step_on", user, {"email": user.email})
        return codes

    return write_transaction(work)


def disable(user_id: int, code: str) -> None:
    """Turn two-step log-in off, with a current code (refused where it is required)."""

    def work() -> None:
        user = db.session.get(User, user_id, populate_existing=True)
        if user is None:
            raise NotFound()
        if required_for(user):
            raise Refused(_l("Administrators must use two-step log-in here."))
        if not _use_code(user, code):
            raise Refused(_WRONG, field="code")
        user.totp_secret, user.totp_last_step, user.recovery_code_hashes = None, None, []
        audit.record(user.id, "user.two_step_off", user, {"email": user.email})

    write_transaction(work)


def check_code(user_id: int, code: str) -> User:
    """The second step of a log-in: the user if ``code`` is right (and now spent)."""

    def work() -> User:
        user = db.session.get(User, user_id, populate_existing=True)
        if user is None or not user.active or not user.totp_secret:
            raise Refused(_WRONG, field="code")
        if not _use_code(user, code):
            raise Refused(_WRONG, field="code")
        return user

    return write_transaction(work)
