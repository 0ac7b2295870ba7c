"""Staff pages under /staff/: organisers, coordinators and admins.

Every view is wrapped in ``accounts.access.roles_required``; the access-control
matrix test walks app.url_map to make sure none escapes. Each page module registers
its views on the blueprint when imported.
"""

from . import (  # noqa: F401
    account_pages,
    admin_pages,
    announcement_pages,
    attendance,
    audit_log,
    checkin,
    dashboard,
    downloads,
    evaluation_pages,
    event_pages,
    failed_mail,
    home,
    message_pages,
    registration_pages,
    reminder_pages,
)
from .blueprint import bp

__all__ = ["bp"]
