"""A printable attendance list: one page per session, with a signature column."""

from __future__ import annotations

from flask import abort, render_template
from flask_login import current_user

from ..auth import roles_required
from ..exports import Viewer, people
from ..extensions import db
from ..models import SEATED, Event, Role
from . import bp


@bp.get("/events/<int:event_id>/attendance")
@roles_required(Role.ADMIN, Role.ORGANISER)
def attendance(event_id: int):
    event = db.session.get(Event, event_id)
    if event is None:
        abort(404)
    seated = sorted(
        people(event_id, Viewer.of(current_user), statuses=SEATED),
        key=lambda p: (p.organisation.casefold(), p.name.casefold()),
    )
    return render_template("staff/attendance.html", event=event, people=seated)
