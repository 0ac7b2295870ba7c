"""Staff log-in (Flask-Login) and the role checks every staff route uses."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort
from flask_login import current_user

from ..extensions import db, login_manager
from ..models import Role, User

bp = Blueprint("auth", __name__)


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


from . import views  # noqa: E402,F401
