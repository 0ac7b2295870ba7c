"""Who may open a staff page: Flask-Login's user loader and ``roles_required``.

Every staff view is wrapped in ``roles_required``; the access-control matrix test walks
``app.url_map`` to make sure none escapes.
"""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user

from ..core.extensions import db, login_manager
from ..models import Role, User


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    try:
        return db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None


def roles_required(*roles: Role):
    """Allow only logged-in staff with one of ``roles``: 401→log-in page, wrong role → 403."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = roles  # read by the access-control matrix test
        return wrapped

    return decorator
