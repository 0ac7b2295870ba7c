"""The audit log, for organisers and admins: filter by action, user, object and dates."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import render_template, request
from flask_babel import gettext as _

from ..accounts.access import roles_required
from ..accounts.roles import ORGANISERS
from ..core import clock
from ..core.extensions import db
from ..core.params import page_arg
from ..models import AuditEntry, User
from .admin_forms import AuditFilterForm
from .blueprint import bp

PER_PAGE = 50
#: The "user" filter value for entries made by the system (no user: cron, public actions).
SYSTEM = "system"


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=clock.STOCKHOLM)


def _choices(form: AuditFilterForm) -> None:
    actions = db.session.scalars(sa.select(AuditEntry.action).distinct().order_by(AuditEntry.action))
    types = db.session.scalars(
        sa.select(AuditEntry.object_type).distinct().order_by(AuditEntry.object_type)
    )
    users = db.session.execute(sa.select(User.id, User.name, User.email).order_by(User.name))
    form.action.choices = [("", _("All actions"))] + [(a, a) for a in actions]
    form.object_type.choices = [("", _("All objects"))] + [(t, t) for t in types if t]
    form.user.choices = (
        [("", _("All users")), (SYSTEM, _("The system (no user)"))]
        + [(str(u.id), f"{u.name} <{u.email}>") for u in users]
    )


def filtered(form: AuditFilterForm) -> sa.Select:
    query = sa.select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    if form.action.data:
        query = query.where(AuditEntry.action == form.action.data)
    if form.object_type.data:
        query = query.where(AuditEntry.object_type == form.object_type.data)
    if form.user.data == SYSTEM:
        query = query.where(AuditEntry.user_id.is_(None))
    elif form.user.data:
        query = query.where(AuditEntry.user_id == int(form.user.data))
    if form.date_from.data:
        query = query.where(AuditEntry.created_at >= _local_midnight(form.date_from.data))
    if form.date_to.data:
        end = _local_midnight(form.date_to.data + timedelta(days=1))
        query = query.where(AuditEntry.created_at < end)
    return query.options(sa.orm.selectinload(AuditEntry.user))


@bp.get("/audit")
@roles_required(*ORGANISERS)
def audit():
    form = AuditFilterForm(formdata=request.args)
    _choices(form)
    if request.args and not form.validate():
        return render_template("staff/audit.html", form=form, page=None, args={}), 400
    args = {
        name: request.args[name]
        for name in ("action", "user", "object_type", "date_from", "date_to")
        if request.args.get(name)
    }
    page = db.paginate(
        filtered(form),
        page=page_arg(),
        per_page=PER_PAGE,
        max_per_page=PER_PAGE,
        error_out=False,
    )
    return render_template("staff/audit.html", form=form, page=page, args=args)
