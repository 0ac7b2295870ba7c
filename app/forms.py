"""Shared form helpers."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms.validators import Length


def strip(value):
    return value.strip() if isinstance(value, str) else value


def to_int_or_none(value):
    """Coerce a submitted choice; junk becomes None so a validator can say so politely."""
    if value is None or value == "" or isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def at_most(limit: int) -> Length:
    """A length limit with the one message every form uses, in the user's language."""
    return Length(max=limit, message=_l("Use at most %(max)d characters.", max=limit))
