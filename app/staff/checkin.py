"""Check-in at the door, made for a phone: choose the session (today's to begin with),
search by name, one tap per person, undo, and add a walk-in.

The forms post and redirect back (works without JavaScript); app/static/staff.js
sends the tap with fetch and updates the row from the JSON answer. Who counts as
checked in at a session is ``registrations.attendance``; checking in is
``registrations.seats`` (``set_attendance``, ``add_walk_in``).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..accounts.access import roles_required
from ..accounts.organisations import active_organisations
from ..accounts.roles import ORGANISERS
from ..core.errors import NotFound, Refused, on_refusal_return_to
from ..core.extensions import db
from ..core.form_base import refuse_onto
from ..core.params import id_arg
from ..events import listing
from ..models import Event, EventSession, Organisation, Registration
from ..registrations import attendance, reads, seats
from ..registrations.statuses import SEATED
from .blueprint import bp
from .checkin_forms import WalkInForm
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


def count_text(event_id: int, session: EventSession | None) -> str:
    seated = reads.counts_of(event_id).confirmed
    done = attendance.count_at_session(session.id) if session is not None else 0
    return _("%(done)d of %(seated)d checked in", done=done, seated=seated)


def _chosen_session(event: Event, values) -> EventSession | None:
    """The session named by ``session`` (query) or ``session_id`` (form), else today's."""
    wanted = id_arg(values, "session") or id_arg(values, "session_id")
    return attendance.session_of(event, wanted) or attendance.default_session(event)


def _page_url(event_id: int, session: EventSession | None, q: str = "", anchor: str = "") -> str:
    url = url_for(
        "staff.checkin",
        event_id=event_id,
        session=session.id if session is not None else None,
        q=q or None,
    )
    return url + (f"#{anchor}" if anchor else "")


def _walk_in_form(formdata=None) -> WalkInForm:
    form = WalkInForm(formdata=formdata) if formdata is not None else WalkInForm(formdata=None)
    form.organisation.choices = [("", _("Choose the organisation…")), *active_organisations()]
    return form


def _render(event: Event, session: EventSession | None, q: str, form: WalkInForm, status: int = 200):
    query = (
        sa.select(Registration, Organisation.name)
        .join(Organisation, Organisation.id == Registration.organisation_id)
        .where(Registration.event_id == event.id, Registration.status.in_(list(SEATED)))
    )
    rows = sorted(db.session.execute(query).all(), key=lambda row: (swedish_key(row[0].name), row[0].id))
    if q:
        rows = [row for row in rows if matches(q, row[0].name)]
    present = attendance.checked_in_at_session(session.id) if session is not None else {}
    sessions = sorted(event.sessions, key=lambda s: (s.starts_at, s.id))
    form.session_id.data = str(session.id) if session is not None else ""
    return (
        render_template(
            "staff/checkin.html",
            event=event,
            rows=rows,
            q=q,
            session=session,
            sessions=sessions,
            held_today={s.id for s in sessions if attendance.held_today(s)},
            present=present,
            walk_in=form,
            count_text=count_text(event.id, session),
        ),
        status,
    )


@bp.get("/events/<int:event_id>/checkin")
@roles_required(*ORGANISERS)
def checkin(event_id: int):
    event = listing.any_event(event_id)
    q = request.args.get("q", "").strip()[:SEARCH_MAX]
    return _render(event, _chosen_session(event, request.args), q, _walk_in_form())


@bp.post("/events/<int:event_id>/checkin/<int:registration_id>")
@roles_required(*ORGANISERS)
def checkin_mark(event_id: int, registration_id: int):
    registration = db.session.get(Registration, registration_id)
    if registration is None or registration.event_id != event_id:
        raise NotFound()
    event = listing.any_event(event_id)
    session_id = id_arg(request.form, "session_id")
    # The session the tap is for (the service refuses a missing or foreign one).
    session = attendance.session_of(event, session_id)
    if session_id is None and len(event.sessions) == 1:
        session = event.sessions[0]
    attended = request.form.get("attended") == "1"
    name = registration.name
    q = request.form.get("q", "")[:SEARCH_MAX]
    back = _page_url(event_id, session, q, f"r{registration_id}")
    on_refusal_return_to(back)  # a script asking for JSON gets the refusal as JSON
    seats.set_attendance(registration.id, attended, current_user.id, session_id=session_id)
    message = (
        _("%(name)s is checked in.", name=name)
        if attended
        else _("Check-in undone for %(name)s.", name=name)
    )
    if _wants_json():
        return jsonify(
            ok=True,
            attended=session is not None and session.id in attendance.sessions_checked_in(registration.id),
            message=message,
            count_text=count_text(event_id, session),
        )
    flash(message, "success")
    return redirect(back, 303)


@bp.post("/events/<int:event_id>/checkin/walk-in")
@roles_required(*ORGANISERS)
def checkin_walk_in(event_id: int):
    """Someone at the door who had not signed up: registered with a seat and checked in."""
    event = listing.any_event(event_id)
    form = _walk_in_form(request.form)
    session = attendance.session_of(event, id_arg(request.form, "session_id"))
    if session is None:
        form.form_errors.append(_("Choose the session to check in at."))
        return _render(event, attendance.default_session(event), "", form, 400)
    if not form.validate():
        return _render(event, session, "", form, 400)
    try:
        result = seats.add_walk_in(
            event.id,
            session.id,
            form.name.data,
            form.email.data,
            form.organisation.data or 0,
            current_user.id,
        )
    except Refused as refusal:
        refuse_onto(form, refusal)
        return _render(event, session, "", form, 400)
    registration = result.registration
    if result.added:
        flash(_("%(name)s is registered and checked in.", name=registration.name), "success")
    else:
        flash(
            _("%(name)s already had a seat with that address and is now checked in.", name=registration.name),
            "success",
        )
    if result.capacity_raised:
        flash(
            _(
                "The event was full, so it got one more seat: %(before)d → %(after)d.",
                before=result.capacity_raised[0],
                after=result.capacity_raised[1],
            ),
            "info",
        )
    return redirect(_page_url(event.id, session, anchor=f"r{registration.id}"), 303)
