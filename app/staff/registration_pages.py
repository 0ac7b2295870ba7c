"""The registrations of one event: search, filter, cancel or promote a person by hand."""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..accounts.access import roles_required
from ..accounts.roles import ORGANISERS
from ..core.errors import NotFound, on_refusal_return_to
from ..core.extensions import db
from ..core.urls import safe_next
from ..events import listing
from ..models import Organisation, Registration, RegistrationStatus
from ..registrations import reads, seats
from .blueprint import bp

S = RegistrationStatus
SEARCH_MAX = 100


def matches(q: str, *values: str | None) -> bool:
    """Case-insensitive substring search. Done in Python: SQLite's lower() knows only ASCII,
    and an event's registrations are few enough."""
    needle = q.casefold()
    return any(needle in (value or "").casefold() for value in values)


@bp.get("/events/<int:event_id>/registrations")
@roles_required(*ORGANISERS)
def registrations(event_id: int):
    event = listing.any_event(event_id)
    q = request.args.get("q", "").strip()[:SEARCH_MAX]
    status = request.args.get("status", "")
    if status not in {s.value for s in S}:
        status = ""
    query = (
        sa.select(Registration, Organisation.name)
        .join(Organisation, Organisation.id == Registration.organisation_id)
        .where(Registration.event_id == event.id)
        .order_by(Registration.created_at, Registration.id)
    )
    if status:
        query = query.where(Registration.status == status)
    rows = db.session.execute(query).all()
    if q:
        rows = [row for row in rows if matches(q, row[0].name, row[0].email, row[0].work_team)]
    positions = reads.waitlist_positions(event.id)  # one query, not one per row
    counts = reads.counts_of(event.id)
    teams = reads.event_teams(event.id)
    return render_template(
        "staff/registrations/list.html",
        event=event,
        rows=reads.grouped_by_team(rows, lambda row: row[0].team_id),
        teams=teams,
        positions=positions,
        counts=counts,
        q=q,
        status=status,
        statuses=list(S),
        back=request.full_path,
    )


def _registration_or_404(registration_id: int) -> Registration:
    registration = db.session.get(Registration, registration_id)
    if registration is None:
        raise NotFound()
    return registration


def _back_url(registration: Registration) -> str:
    fallback = url_for("staff.registrations", event_id=registration.event_id)
    return safe_next(request.form.get("next"), default=fallback)


def _back(registration: Registration):
    return redirect(_back_url(registration), 303)


@bp.post("/registrations/<int:registration_id>/cancel")
@roles_required(*ORGANISERS)
def registration_cancel(registration_id: int):
    registration = _registration_or_404(registration_id)
    name = registration.name
    on_refusal_return_to(_back_url(registration))
    seats.cancel_by_staff(registration.id, current_user.id)
    flash(_("%(name)s is cancelled and told by email.", name=name), "success")
    return _back(registration)


@bp.post("/registrations/<int:registration_id>/promote")
@roles_required(*ORGANISERS)
def registration_promote(registration_id: int):
    registration = _registration_or_404(registration_id)
    name = registration.name
    on_refusal_return_to(_back_url(registration))
    promoted = seats.promote_by_hand(registration.id, current_user.id)
    flash(
        _(
            "%(name)s has a seat and is told by email. Capacity is now %(capacity)d.",
            name=name,
            capacity=promoted.event.capacity,
        ),
        "success",
    )
    return _back(registration)
