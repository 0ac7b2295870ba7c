"""The dashboard: upcoming events with counts per organisation, for every staff role,
``reporting.figures.PER_PAGE`` events a page."""

from __future__ import annotations

from datetime import date, datetime, time

from flask import render_template
from flask_login import current_user

from ..accounts.access import roles_required
from ..accounts.roles import ALL_STAFF
from ..core import clock
from ..core.errors import NotFound
from ..core.extensions import db
from ..core.i18n import format_day
from ..core.params import page_arg
from ..models import Event, Organisation
from ..reporting import figures as reports
from ..reporting.exports import Viewer, people, visible_to
from .blueprint import bp


def day_labels(shown: list[reports.EventReport]) -> dict[date, str]:
    """Each charted day formatted once ("tisdag 27 oktober"), however many events show it."""
    days = {point.day for report in shown for point in report.interest_days}
    return {d: format_day(datetime.combine(d, time(12), tzinfo=clock.STOCKHOLM)) for d in days}


def _own_organisation(viewer: Viewer) -> Organisation | None:
    if viewer.sees_everyone or viewer.organisation_id is None:
        return None
    return db.session.get(Organisation, viewer.organisation_id)


@bp.get("/dashboard")
@roles_required(*ALL_STAFF)
def dashboard():
    viewer = Viewer.of(current_user)
    own = None if viewer.sees_everyone else viewer.organisation_id
    page = reports.dashboard_page(page_arg(), always_show_org=own)
    return render_template(
        "staff/dashboard.html",
        reports=page.reports,
        page=page,
        day_labels=day_labels(page.reports),
        viewer=viewer,
        own_org_id=own,
    )


@bp.get("/dashboard/events/<int:event_id>")
@roles_required(*ALL_STAFF)
def dashboard_event(event_id: int):
    viewer = Viewer.of(current_user)
    event = db.session.get(Event, event_id)
    if event is None or not visible_to(viewer, event):
        raise NotFound()
    own = None if viewer.sees_everyone else viewer.organisation_id
    report = reports.event_report(event_id, always_show_org=own)
    return render_template(
        "staff/dashboard_event.html",
        report=report,
        day_labels=day_labels([report]),
        people=people(event_id, viewer),
        viewer=viewer,
        own_org_id=own,
        own_organisation=_own_organisation(viewer),
    )
