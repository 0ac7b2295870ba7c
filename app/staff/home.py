"""/staff/: each role's starting page."""

from __future__ import annotations

from flask import redirect, url_for
from flask_login import current_user

from ..accounts.access import roles_required
from ..accounts.roles import ALL_STAFF, landing_endpoint
from .blueprint import bp


@bp.get("/")
@roles_required(*ALL_STAFF)
def home():
    return redirect(url_for(landing_endpoint(current_user.role)))
