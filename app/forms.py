"""Shared form helpers."""

from __future__ import annotations


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
