"""The role groups that decide who may do what, and what each role is called.

Staff pages, exports and services read the groups from here (one source).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..models import Role

#: Who runs events: creates, edits, publishes, checks people in, exports everyone.
ORGANISERS = (Role.ADMIN, Role.ORGANISER)
#: Everyone with a staff account.
ALL_STAFF = (Role.ADMIN, Role.ORGANISER, Role.COORDINATOR)
#: Who sees every person's name and contact details (the others only their own organisation's).
SEES_EVERYONE = ORGANISERS

LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.ORGANISER: _l("Organiser"),
    Role.COORDINATOR: _l("Coordinator"),
}


def label(role: Role | str) -> str:
    return str(LABELS[Role(role)])


def landing_endpoint(role: Role | str) -> str:
    """The page a staff member starts on after logging in."""
    return "staff.dashboard" if Role(role) == Role.COORDINATOR else "staff.events"
