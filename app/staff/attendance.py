"""A printable attendance list: one page per session, with a signature column."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from ..accounts.access import roles_required
from ..accounts.roles import ORGANISERS
from ..events import listing
from ..registrations.statuses import SEATED
from ..reporting.exports import Viewer, people
from .blueprint import bp


@bp.get("/events/<int:event_id>/attendance")
@roles_required(*ORGANISERS)
def attendance(event_id: int):
    event = listing.any_event(event_id)
    seated = sorted(
        people(event_id, Viewer.of(current_user), statuses=SEATED),
        key=lambda p: (p.organisation.casefold(), p.name.casefold()),
    )
    return render_template("staff/attendance.html", event=event, people=seated)
