from __future__ import annotations

from flask import redirect
from flask_login import current_user

from ..auth import roles_required
from ..auth.views import home_for
from ..models import Role
from . import bp

ALL_STAFF = (Role.ADMIN, Role.ORGANISER, Role.COORDINATOR)


@bp.get("/")
@roles_required(*ALL_STAFF)
def home():
    return redirect(home_for(current_user))
