"""Staff pages under /staff/: organisers, coordinators and admins.

Every view is wrapped in ``roles_required`` (app.auth); the access-control
matrix test walks app.url_map to make sure none escapes.
"""

from flask import Blueprint

bp = Blueprint("staff", __name__)

# Each area registers its views on ``bp`` when imported.
from . import (  # noqa: E402,F401
    admin,
    attendance,
    audit_log,
    checkin,
    dashboard,
    events,
    exports,
    home,
    outbox_views,
    registrations,
)
