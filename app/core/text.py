"""What text input Kvarn accepts: control characters are normalised, never stored.

A line break pasted from Word (``\\x0b``), a form feed or a NUL in a name would break an
Excel export, a calendar file or a database (PostgreSQL refuses NUL). Single-line fields
turn every break and tab into one space; multi-line fields keep line breaks (any kind
becomes ``\\n``); every other control character is dropped. ``printable`` cleans text
already stored before it goes into a file.
"""

from __future__ import annotations

import re

# C0 and C1 control characters except tab, line feed and carriage return.
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_BREAKS = re.compile(r"\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
_SPACES = re.compile(r"[ \t]+")


def one_line(value):
    """A name, title or team: breaks and tabs become single spaces, controls go."""
    if not isinstance(value, str):
        return value
    value = _CONTROLS.sub("", _BREAKS.sub(" ", value)).replace("\n", " ")
    return _SPACES.sub(" ", value).strip()


def multi_line(value):
    """Free text (needs, descriptions): line breaks kept as ``\\n``, controls go."""
    if not isinstance(value, str):
        return value
    value = _CONTROLS.sub("", _BREAKS.sub("\n", value))
    return "\n".join(line.rstrip() for line in value.split("\n")).strip()


def printable(value):
    """Stored text made safe for a file (spreadsheet cell, calendar, mail header)."""
    if not isinstance(value, str):
        return value
    return _CONTROLS.sub("", _BREAKS.sub("\n", value))
