"""Registration lists as CSV and XLSX; coordinators get their own organisation only."""

from __future__ import annotations

from flask import Response, abort
from flask_login import current_user

from .. import exports
from ..auth import roles_required
from ..models import Role
from . import bp

ALL_STAFF = (Role.ADMIN, Role.ORGANISER, Role.COORDINATOR)


def _download(event_id: int, fmt: str) -> Response:
    try:
        export = exports.export_registrations(event_id, exports.Viewer.of(current_user), fmt)
    except exports.ExportNotFound:
        abort(404)
    return Response(
        export.data,
        mimetype=export.mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            # Personal data: never kept by a shared cache or the browser's history.
            "Cache-Control": "no-store",
        },
    )


@bp.get("/events/<int:event_id>/registrations.csv")
@roles_required(*ALL_STAFF)
def export_csv(event_id: int):
    return _download(event_id, "csv")


@bp.get("/events/<int:event_id>/registrations.xlsx")
@roles_required(*ALL_STAFF)
def export_xlsx(event_id: int):
    return _download(event_id, "xlsx")
