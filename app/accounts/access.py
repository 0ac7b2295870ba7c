"""Who may open a staff page: Flask-Login's user loader and ``roles_required``.

Every staff view is wrapped in ``roles_required``; the access-control matrix test walks
``app.url_map`` to make sure none escapes.
"""

from __future__ import annotations

import hmac
from functools import wraps

from flask import abort, redirect, request, url_for
from flask_login import current_user

from ..core.extensions import db, login_manager
from ..models import Role, User
from . import two_step


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """The user a session (or remember-me cookie) names, if its secret is still theirs.

    ``User.get_id`` puts "<id>:<session secret>" in the session; a new secret (log-out,
    password change or reset, role change, deactivation) ends every older session.
    """
    user_id, _, secret = (session_id or "").partition(":")
    if not user_id.isdigit() or len(user_id) > 10 or not secret:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not hmac.compare_digest(user.session_secret, secret):
        return None
    return user


#: Pages an admin who must set up two-step log-in may still open.
TWO_STEP_SETUP_ENDPOINTS = {"staff.account", "staff.two_step_setup"}


def roles_required(*roles: Role):
    """Allow only logged-in staff with one of ``roles``: 401→log-in page, wrong role → 403.

    An admin who must use two-step log-in (``REQUIRE_TWO_STEP_FOR_ADMINS``) and has not set
    it up is sent to set it up first.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            if (
                two_step.required_for(current_user)
                and not current_user.two_step_enabled
                and request.endpoint not in TWO_STEP_SETUP_ENDPOINTS
            ):
                return redirect(url_for("staff.two_step_setup"))
            return view(*args, **kwargs)

        wrapped.allowed_roles = roles  # read by the access-control matrix test
        return wrapped

    return decorator
