"""Sessions and what a change of them means: which sessions changed time or venue,
in words each recipient reads in their own language (``registrations.notices``).
Pure functions: nothing here reads or writes the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _

from ..core.i18n import format_span
from ..registrations.notices import describe_change


@dataclass(frozen=True)
class SessionData:
    starts_at: datetime
    ends_at: datetime
    venue: str | None  # None: to be decided
    address: str | None = None  # the street address, for directions and a map

    @property
    def place(self) -> str | None:
        """The venue as people are told it: "Sal Fors, Stora torget 1, Alingsås"."""
        if self.venue and self.address:
            return f"{self.venue}, {self.address}"
        return self.venue


def sorted_sessions(sessions) -> list[SessionData]:
    return sorted(
        (
            SessionData(s.starts_at, s.ends_at, s.venue or None, getattr(s, "address", None) or None)
            for s in sessions
        ),
        key=lambda s: (s.starts_at, s.ends_at),
    )


def whole_minute(value):
    """Forms work in whole minutes; stored times may carry seconds (made in code)."""
    if isinstance(value, datetime):
        return value.replace(second=0, microsecond=0)
    return value


def same_minutes(s: SessionData) -> tuple:
    return (whole_minute(s.starts_at), whole_minute(s.ends_at))


def _venue(venue: str | None) -> str:
    return venue or _("venue to be decided")


def schedule_changes(old: list[SessionData], new: list[SessionData]) -> list:
    """What changed in time and venue, for ``notices.event_changed``.

    Sessions whose time is unchanged are matched first, the rest in order; a time or
    venue change is a dict the mail renders in each recipient's language, an added
    or dropped session a sentence in the current locale.
    """
    pairs: list[tuple[int, int]] = []
    old_left, new_left = list(range(len(old))), list(range(len(new)))
    for i in list(old_left):
        match = next((j for j in new_left if same_minutes(new[j]) == same_minutes(old[i])), None)
        if match is not None:
            pairs.append((i, match))
            old_left.remove(i)
            new_left.remove(match)
    pairs += list(zip(old_left, new_left, strict=False))
    added = new_left[len(old_left):]
    dropped = old_left[len(new_left):]
    single = len(old) == 1 and len(new) == 1

    changes: list = []
    for i, j in sorted(pairs, key=lambda p: p[1]):
        before, after = old[i], new[j]
        session = None if single else j + 1
        if same_minutes(before) != same_minutes(after):
            changes.append(
                {
                    "what": "time",
                    "session": session,
                    "old": (before.starts_at, before.ends_at),
                    "new": (after.starts_at, after.ends_at),
                }
            )
        if before.place != after.place:
            changes.append(
                {"what": "venue", "session": session, "old": before.place, "new": after.place}
            )
    for j in added:
        s = new[j]
        changes.append(
            _(
                "New session %(number)d: %(when)s, %(venue)s.",
                number=j + 1,
                when=format_span(s.starts_at, s.ends_at),
                venue=_venue(s.place),
            )
        )
    for i in dropped:
        s = old[i]
        changes.append(
            _(
                "The session %(when)s, %(venue)s, is cancelled.",
                when=format_span(s.starts_at, s.ends_at),
                venue=_venue(s.place),
            )
        )
    return changes


def describe(changes: list) -> list[str]:
    """The changes as sentences in the current locale (for the organiser's confirm page)."""
    return [describe_change(change) for change in changes]


def with_title(changes: list, old_title: str, new_title: str) -> list:
    """A new title is worth telling only along with a change of time or venue."""
    if changes and old_title != new_title:
        return [*changes, {"what": "title", "old": old_title, "new": new_title}]
    return changes
