"""The texts a public body must publish: privacy notice, accessibility statement, contact.

Each page has a default text in its template, in Swedish and English, filled from the
settings read here (``facts``). An installation may replace a page's whole text with a
file in the instance folder, ``pages/<page>.<language>.md`` (``override``), written in a
small Markdown subset that can never carry HTML: everything is escaped first, then only
headings, paragraphs, lists, bold and links (http, https, mailto, tel, or a path on this
site) are turned into tags.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flask import current_app
from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from .text import multi_line, one_line

PAGES = ("privacy", "accessibility", "contact")
CONFORMANCE = ("full", "partial", "none")
#: An override larger than this is not a page someone wrote: it is ignored.
MAX_OVERRIDE_BYTES = 200_000

LANGUAGE_NAMES = {"sv": _l("Swedish"), "en": _l("English")}

log = logging.getLogger("kvarn")


@dataclass(frozen=True)
class Phrase:
    """A configured text and the language it is written in."""

    text: str
    lang: str


@dataclass(frozen=True)
class Facts:
    """The settings the default texts are filled from."""

    organisation: str
    address: list[str]
    email: str
    phone: str
    dpo_email: str
    retention_months: int
    link_days: int
    outbox_keep_days: int
    unconfirmed_days: int
    conformance: str
    known_gaps: list[Phrase]
    reviewed: str
    report_url: str
    site_url: str


@dataclass(frozen=True)
class Override:
    """An installation's own text of a page."""

    lang: str
    title: str | None  # the file's first heading, when it starts with one
    body: Markup


def facts(language: str) -> Facts:
    config = current_app.config
    conformance = str(config.get("ACCESSIBILITY_CONFORMANCE", "partial")).strip().lower()
    return Facts(
        organisation=one_line(str(config.get("ORGANISATION_NAME") or config["SITE_NAME"])),
        address=_lines(config.get("ORGANISATION_ADDRESS")),
        email=one_line(str(config.get("CONTACT_EMAIL") or "")),
        phone=one_line(str(config.get("CONTACT_PHONE") or "")),
        dpo_email=one_line(str(config.get("DPO_EMAIL") or "")),
        retention_months=int(config.get("RETENTION_MONTHS", 12)),
        link_days=int(config["MANAGE_LINK_DAYS_AFTER_EVENT"]),
        outbox_keep_days=int(config.get("OUTBOX_KEEP_DAYS", 30)),
        unconfirmed_days=int(config.get("SUBSCRIPTION_UNCONFIRMED_DAYS", 3)),
        conformance=conformance if conformance in CONFORMANCE else "partial",
        known_gaps=known_gaps(config.get("ACCESSIBILITY_KNOWN_GAPS"), language),
        reviewed=_day(one_line(str(config.get("ACCESSIBILITY_REVIEWED") or ""))),
        report_url=_safe_url(str(config.get("ACCESSIBILITY_REPORT_URL") or "")) or "https://www.digg.se/tdosanmalan",
        site_url=str(config["BASE_URL"]).rstrip("/"),
    )


def _day(value: str) -> str:
    """``2025-03-14`` as "14 mars 2025" / "14 March 2025"; any other text as it is."""
    try:
        return format_date(date.fromisoformat(value), "d MMMM y") if value else ""
    except ValueError:
        return value


def _lines(value) -> list[str]:
    if isinstance(value, (list, tuple)):
        value = "\n".join(str(v) for v in value)
    return [line for line in multi_line(str(value or "")).split("\n") if line.strip()]


def known_gaps(value, language: str) -> list[Phrase]:
    """The configured gaps in the page's language, else in another (marked as such).

    A text (one gap a line) or a list is taken to be in the default language; a dict
    gives the gaps per language, ``{"sv": [...], "en": [...]}``.
    """
    config = current_app.config
    if isinstance(value, dict):
        order = [language, *(lang for lang in config["LANGUAGES"] if lang != language), *value]
        for lang in order:
            if value.get(lang):
                return [Phrase(line, lang) for line in _lines(value[lang])]
        return []
    return [Phrase(line, config["BABEL_DEFAULT_LOCALE"]) for line in _lines(value)]


def override(page: str, language: str) -> Override | None:
    """``instance/pages/<page>.<language>.md``, else the page's file in another language."""
    if page not in PAGES:
        raise ValueError(page)
    folder = Path(current_app.instance_path) / "pages"
    languages = [language, *(lang for lang in current_app.config["LANGUAGES"] if lang != language)]
    for lang in languages:
        path = folder / f"{page}.{lang}.md"
        try:
            if not path.is_file():
                continue
            if path.stat().st_size > MAX_OVERRIDE_BYTES:
                log.warning("%s is larger than %d bytes: the default text is shown", path, MAX_OVERRIDE_BYTES)
                continue
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            log.warning("%s cannot be read (%s): the default text is shown", path, error)
            continue
        title, body = render_markdown(source)
        return Override(lang=lang, title=title, body=body)
    return None


# --- A small, safe Markdown -------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d{1,9}[.)]\s+(.*)$")
_LINK = re.compile(r"\[([^\]\n]+)\]\(\s*([^()\s]+)\s*\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_SAFE_URL = re.compile(r"^(https?://[^\s]+|mailto:[^\s]+|tel:[+0-9 ()-]+|/(?!/)[^\s]*|#[^\s]*)$", re.IGNORECASE)


def _safe_url(url: str) -> str | None:
    url = url.strip()
    return url if _SAFE_URL.match(url) else None


def _inline(text: str) -> str:
    """Escaped text with **bold** and [links](url); a link to any other scheme stays text."""
    out, at = [], 0
    for match in _LINK.finditer(text):
        out.append(_bold(text[at : match.start()]))
        label, url = match.group(1), _safe_url(match.group(2))
        if url is None:
            out.append(_bold(match.group(0)))
        else:
            out.append(f'<a href="{escape(url)}">{_bold(label)}</a>')
        at = match.end()
    out.append(_bold(text[at:]))
    return "".join(out)


def _bold(text: str) -> str:
    return _BOLD.sub(lambda m: f"<strong>{m.group(1)}</strong>", str(escape(text)))


def render_markdown(source: str) -> tuple[str | None, Markup]:
    """(title, body): the first line's ``#`` heading as the title; the rest as HTML.

    Headings never skip a level: the body's start at h2 (a later ``#`` is an h2 too).
    A paragraph keeps its line breaks. Raw HTML is shown as text.
    """
    lines = multi_line(source).split("\n")
    title = None
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines and (first := _HEADING.match(lines[0])) and len(first.group(1)) == 1:
        title = one_line(first.group(2)) or None
        lines.pop(0)

    html: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    list_tag = ""
    level = 1

    def flush() -> None:
        nonlocal list_tag
        if paragraph:
            html.append("<p>" + "<br>\n".join(_inline(line.strip()) for line in paragraph) + "</p>")
            paragraph.clear()
        if items:
            html.append(f"<{list_tag}>" + "".join(f"<li>{_inline(item)}</li>" for item in items) + f"</{list_tag}>")
            items.clear()
            list_tag = ""

    for line in lines:
        if not line.strip():
            flush()
            continue
        if heading := _HEADING.match(line):
            flush()
            level = max(2, min(len(heading.group(1)), level + 1))
            html.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
            continue
        bullet, numbered = _BULLET.match(line), _NUMBERED.match(line)
        if bullet or numbered:
            tag = "ul" if bullet else "ol"
            if paragraph or (items and list_tag != tag):
                flush()
            list_tag = tag
            items.append((bullet or numbered).group(1).strip())
            continue
        if items:
            if line.startswith((" ", "\t")):  # a list item continued on the next line
                items[-1] += " " + line.strip()
                continue
            flush()
        paragraph.append(line)
    flush()
    return title, Markup("\n".join(html))
