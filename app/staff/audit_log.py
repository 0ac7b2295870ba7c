"""The audit log, for organisers and admins: readable entries, filters by event, who did
it, participant, action, kind of object and Stockholm dates; the same filters as a CSV
for the archive (``reporting.audit_log`` reads, names and streams; this module parses the
filter and links each object to its staff page)."""

from __future__ import annotations

from flask import Response, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..accounts.access import roles_required
from ..accounts.roles import ORGANISERS
from ..audit.labels import stamp
from ..core.params import page_arg
from ..models import Role
from ..reporting import audit_log
from ..reporting.audit_log import Filters, ObjectRef
from .admin_forms import AuditFilterForm
from .blueprint import bp

#: The "done by" filter value for entries without a staff user (the system, or the person
#: concerned through their personal link).
SYSTEM = "system"
#: The query-string names of the filter, kept in page and download links.
FILTER_ARGS = ("event", "user", "participant", "action", "object_type", "date_from", "date_to")


def _form() -> AuditFilterForm:
    form = AuditFilterForm(formdata=request.args)
    form.event.choices = [("", _("All events")), *audit_log.event_choices()]
    form.user.choices = [
        ("", _("Anyone")),
        (SYSTEM, _("No staff user (the system or the person themselves)")),
        *audit_log.user_choices(),
    ]
    form.action.choices = [("", _("All actions")), *audit_log.action_choices()]
    form.object_type.choices = [("", _("All objects")), *audit_log.object_type_choices()]
    return form


def _filters(form: AuditFilterForm) -> Filters:
    user = form.user.data or ""
    return Filters(
        action=form.action.data or None,
        user_id=int(user) if user.isdigit() else None,
        no_user=user == SYSTEM,
        event_id=int(form.event.data) if form.event.data else None,
        participant=form.participant.data or None,
        object_type=form.object_type.data or None,
        date_from=form.date_from.data,
        date_to=form.date_to.data,
    )


def object_url(ref: ObjectRef | None) -> str | None:
    """The staff page of an entry's object, if it exists and this user may open it."""
    if ref is None or not ref.exists:
        return None
    if ref.type == "event":
        return url_for("staff.event_detail", event_id=ref.id)
    if ref.type == "registration" and ref.event_id is not None:
        return url_for("staff.registrations", event_id=ref.event_id, _anchor=f"r{ref.id}")
    if ref.type == "team" and ref.event_id is not None:
        return url_for("staff.registrations", event_id=ref.event_id)
    if ref.type == "outboxmessage":
        return url_for("staff.outbox")
    if current_user.role == Role.ADMIN:
        if ref.type == "user":
            return url_for("staff.admin_users")
        if ref.type == "organisation":
            return url_for("staff.admin_organisation_edit", organisation_id=ref.id)
    return None


def _refused(form: AuditFilterForm):
    return render_template("staff/audit.html", form=form, page=None, args={}), 400


def _args() -> dict[str, str]:
    return {name: request.args[name] for name in FILTER_ARGS if request.args.get(name)}


@bp.get("/audit")
@roles_required(*ORGANISERS)
def audit():
    form = _form()
    if request.args and not form.validate():
        return _refused(form)
    page = audit_log.page_of(_filters(form), page_arg())
    return render_template(
        "staff/audit.html", form=form, page=page, args=_args(), object_url=object_url, stamp=stamp
    )


@bp.get("/audit.csv")
@roles_required(*ORGANISERS)
def audit_csv():
    form = _form()
    if request.args and not form.validate():
        return _refused(form)
    export = audit_log.export_csv(_filters(form), current_user.id)
    return Response(
        stream_with_context(export.chunks),
        mimetype=export.mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            "Cache-Control": "no-store",
        },
    )
