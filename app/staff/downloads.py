"""Registration lists as CSV and XLSX; coordinators get their own organisation only.

Both are streamed in bounded memory (``reporting.exports``).
"""

from __future__ import annotations

from flask import Response, stream_with_context
from flask_login import current_user

from ..accounts.access import roles_required
from ..accounts.roles import ALL_STAFF
from ..reporting import exports
from .blueprint import bp


def _download(event_id: int, fmt: str) -> Response:
    export = exports.export_registrations(event_id, exports.Viewer.of(current_user), fmt)
    # The CSV is read from the database while it is sent: it keeps the request's context.
    # The XLSX is already written to a temporary file and needs none.
    chunks = stream_with_context(export.chunks) if fmt == "csv" else export.chunks
    return Response(
        chunks,
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
