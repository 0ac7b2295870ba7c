"""Mail to many people, rendered once: a stencil with a placeholder for each personal value.

The mails of one round (5,000 reminders, say) differ per person only in a few values,
such as the name in the greeting and the personal link. Rendering three templates per
person is most of the cost of queueing them, so a ``Stencil`` renders the templates once
per language with a random placeholder in place of each personal value, and ``fill``
puts one person's values in: as they are in the subject and the text part, HTML-escaped
in the HTML part, which is exactly what the template's own autoescaping would have done.

For single-line values that the templates print as they are. A template that changes a
placeholder (upper-cases or shortens it) would give wrong mail, so the stencil checks
that every placeholder came through whole and refuses (``ValueError``) otherwise.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping, Sequence

from markupsafe import escape

from .outbox import render

_PREFIX = "kvarnstencil"


class Stencil:
    """The subject, text and HTML of one mail kind in one language, with placeholders.

    ``context_with`` gets ``{field: placeholder}`` and returns the template context with
    the placeholders where the personal values go (e.g. a made-up registration whose name
    is the placeholder).
    """

    def __init__(
        self,
        kind: str,
        locale: str,
        context_with: Callable[[Mapping[str, str]], dict],
        fields: Sequence[str],
        numbers: Sequence[str] = (),
    ) -> None:
        self.kind = kind
        self.locale = locale
        self.placeholders = _placeholders(fields)
        # A number the templates format (``%(position)d``) gets a number as its placeholder:
        # 19 random digits, which no mail text holds by chance.
        numeric = {field: 10**18 + secrets.randbelow(9 * 10**18) for field in numbers}
        self.subject, self.text, self.html = render(
            kind, locale, context_with({**self.placeholders, **numeric})
        )
        for part in (self.subject, self.text, self.html):
            _check_whole(part, self.placeholders.values())
        self._fields = {token: field for field, token in self.placeholders.items()}
        self._fields.update({str(number): field for field, number in numeric.items()})
        pattern = re.compile("|".join(re.escape(token) for token in self._fields))
        # Each part as a format string with a named slot per placeholder: filling is then
        # one ``str.format``, and a value that happens to hold a placeholder or a brace is
        # put in as it is, never read again.
        self._templates = tuple(
            pattern.sub(lambda m: "{" + self._fields[m.group()] + "}", _braces_doubled(part))
            for part in (self.subject, self.text, self.html)
        )

    def fill(self, values: Mapping[str, str]) -> tuple[str, str, str]:
        """Subject, text and HTML for one person (``values``: one per field, one line each)."""
        plain = {field: str(values[field]) for field in self._fields.values()}
        escaped = {field: str(escape(value)) for field, value in plain.items()}
        subject, text, html = self._templates
        return " ".join(subject.format_map(plain).split()), text.format_map(plain), html.format_map(escaped)


def _braces_doubled(part: str) -> str:
    return part.replace("{", "{{").replace("}", "}}")


def _placeholders(fields: Sequence[str]) -> dict[str, str]:
    """A random placeholder per field, no two starting alike (``_check_whole`` tells a
    shortened placeholder by its start)."""
    while True:
        tokens = {field: f"{_PREFIX}{secrets.token_hex(12)}" for field in fields}
        starts = {token[: len(_PREFIX) + 4] for token in tokens.values()}
        if len(starts) == len(tokens):
            return tokens


def _check_whole(part: str, tokens) -> None:
    lowered = part.lower()
    for token in tokens:
        # A changed placeholder still shows its start (shortened) or its letters (case).
        if lowered.count(token[: len(_PREFIX) + 4]) != part.count(token):
            raise ValueError("a template changes a personal value; render it per person")
