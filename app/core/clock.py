"""The one source of "now" (UTC, aware), so tests can move time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")

_offset = None  # a timedelta set by tests through travel()


def now() -> datetime:
    current = datetime.now(UTC)
    return current + _offset if _offset is not None else current


def travel(delta) -> None:
    """Shift the clock by ``delta`` (a timedelta) or reset it with None. For tests."""
    global _offset
    _offset = delta


def local(dt: datetime) -> datetime:
    return dt.astimezone(STOCKHOLM)
