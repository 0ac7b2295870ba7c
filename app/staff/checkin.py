"""Check-in at the door, made for a phone: search by name, one tap, undo.

The form posts and redirects back (works without JavaScript); app/static/staff.js
sends the same form with fetch and updates the row from the JSON answer.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..accounts.access import roles_required
from ..accounts.roles import ORGANISERS
from ..core.errors import NotFound, on_refusal_return_to
from ..core.extensions import db
from ..events import listing
from ..models import Organisation, Registration, RegistrationStatus
from ..registrations import reads, seats
from ..registrations.statuses import SEATED
from .blueprint import bp
from .registration_pages import SEARCH_MAX, matches

# Swedish alphabetical order: ... x y z å ä ö (plain code points put ä before å);
# { | } sort right after z.
_SWEDISH = str.maketrans(
    {"å": "{", "ä": "|", "æ": "|", "ö": "}", "ø": "}", "é": "e", "è": "e", "ü": "y", "á": "a", "à": "a"}
)


def swedish_key(name: str) -> str:
    return name.casefold().translate(_SWEDISH)


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _checked_in(event_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(Registration.id)).where(
            Registration.event_id == event_id, Registration.status == RegistrationStatus.ATTENDED
        )
    )


def count_text(event_id: int) -> str:
    seated = reads.counts_of(event_id).confirmed
    return _("%(done)d of %(seated)d checked in", done=_checked_in(event_id), seated=seated)


@bp.get("/events/<int:event_id>/checkin")
@roles_required(*ORGANISERS)
def checkin(event_id: int):
    event = listing.any_event(event_id)
    q = request.args.get("q", "").strip()[:SEARCH_MAX]
    query = (
        sa.select(Registration, Organisation.name)
        .join(Organisation, Organisation.id == Registration.organisation_id)
        .where(Registration.event_id == event.id, Registration.status.in_(list(SEATED)))
    )
    rows = sorted(db.session.execute(query).all(), key=lambda row: (swedish_key(row[0].name), row[0].id))
    if q:
        rows = [row for row in rows if matches(q, row[0].name)]
    return render_template(
        "staff/checkin.html", event=event, rows=rows, q=q, count_text=count_text(event.id)
    )


@bp.post("/events/<int:event_id>/checkin/<int:registration_id>")
@roles_required(*ORGANISERS)
def checkin_mark(event_id: int, registration_id: int):
    registration = db.session.get(Registration, registration_id)
    if registration is None or registration.event_id != event_id:
        raise NotFound()
    attended = request.form.get("attended") == "1"
    name = registration.name
    q = request.form.get("q", "")[:SEARCH_MAX]
    back = url_for("staff.checkin", event_id=event_id, q=q or None) + f"#r{registration_id}"
    on_refusal_return_to(back)  # a script asking for JSON gets the refusal as JSON
    registration = seats.set_attendance(registration.id, attended, current_user.id)
    message = (
        _("%(name)s is checked in.", name=name)
        if attended
        else _("Check-in undone for %(name)s.", name=name)
    )
    if _wants_json():
        return jsonify(
            ok=True,
            attended=registration.status == RegistrationStatus.ATTENDED,
            message=message,
            count_text=count_text(event_id),
        )
    flash(message, "success")
    return redirect(back, 303)
