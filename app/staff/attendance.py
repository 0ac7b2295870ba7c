"""A printable attendance list: one A4 sheet per session for up to 25 people (compact rows
with a signature column), the event and the session on every sheet (a repeating table
header: longer lists continue on sheets that still say which session they are), a page
break between sessions. ``?session=<id>`` prints one session only."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from ..accounts.access import roles_required
from ..accounts.roles import ORGANISERS
from ..core.params import id_arg
from ..events import listing
from ..registrations import attendance as attended
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
    sessions = sorted(event.sessions, key=lambda s: (s.starts_at, s.id))
    only = attended.session_of(event, id_arg(request.args, "session"))
    return render_template(
        "staff/attendance.html",
        event=event,
        people=seated,
        sessions=sessions,
        printed=[only] if only is not None else (sessions or [None]),
        only=only,
    )
