"""The registrations of one event: search, filter, cancel or promote a person by hand.

The list is read a page at a time (``PER_PAGE``): the search, the status filter, the team
grouping and the page are all done by the database, so a page costs the same handful of
statements and reads one page of rows however many people have signed up.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..accounts.access import roles_required
from ..accounts.roles import ORGANISERS
from ..core import search
from ..core.errors import NotFound, on_refusal_return_to
from ..core.extensions import db
from ..core.params import page_arg
from ..core.urls import safe_next
from ..events import listing
from ..models import Organisation, Registration, RegistrationStatus
from ..registrations import reads, seats
from .blueprint import bp

S = RegistrationStatus
SEARCH_MAX = 100
#: Registrations per page of the list.
PER_PAGE = 100


def matches(q: str, *values: str | None) -> bool:
    """Case-insensitive substring search in Python, for short lists already in memory
    (the check-in list); the registrations list searches in the database."""
    needle = q.casefold()
    return any(needle in (value or "").casefold() for value in values)


@dataclass(frozen=True)
class ListPage:
    #: (registration, organisation name) in team order.
    rows: list
    number: int
    pages: int
    #: Registrations matching the search and filter, on every page.
    total: int


def list_page(event_id: int, q: str = "", status: str = "", number: int = 1) -> ListPage:
    """One page of an event's registrations matching ``q`` (name, email or work team,
    any case) and ``status``, team members together (``reads.in_team_order``); two
    statements. A page past the last is ``NotFound``."""
    where = [Registration.event_id == event_id]
    if status:
        where.append(Registration.status == status)
    if q:
        where.append(
            sa.or_(
                search.contains(Registration.name, q),
                search.contains(Registration.email, q),
                search.contains(Registration.work_team, q),
            )
        )
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Registration).where(*where))
    pages = max(1, -(-total // PER_PAGE))
    if number > pages:
        raise NotFound()
    row, order = reads.in_team_order(*where, limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    rows = db.session.execute(
        sa.select(row, Organisation.name)
        .join(Organisation, Organisation.id == row.organisation_id)
        .order_by(*order)
    ).all()
    return ListPage(rows, number, pages, total)


@bp.get("/events/<int:event_id>/registrations")
@roles_required(*ORGANISERS)
def registrations(event_id: int):
    event = listing.any_event(event_id)
    q = request.args.get("q", "").strip()[:SEARCH_MAX]
    status = request.args.get("status", "")
    if status not in {s.value for s in S}:
        status = ""
    page = list_page(event.id, q, status, page_arg())
    # One query, not one per row, reading the line only as far as this page needs.
    positions = reads.waitlist_positions(event.id, of=[r for r, _ in page.rows])
    counts = reads.counts_of(event.id)
    teams = reads.event_teams(event.id)
    return render_template(
        "staff/registrations/list.html",
        event=event,
        rows=page.rows,
        page=page,
        teams=teams,
        positions=positions,
        counts=counts,
        q=q,
        status=status,
        statuses=list(S),
        args={k: v for k, v in (("q", q), ("status", status)) if v},
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
