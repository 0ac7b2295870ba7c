"""Language choice and Swedish-first date formatting."""

from __future__ import annotations

import functools
from datetime import datetime

from babel import Locale
from babel.support import NullTranslations
from flask import Flask, current_app, request, session
from flask_babel import force_locale, format_datetime, get_locale, get_timezone, get_translations
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

from .extensions import babel

PATTERNS = {
    # tisdag 27 oktober kl. 13.00–16.00
    "sv": {"day": "EEEE d MMMM", "time": "HH.mm", "at": "{day} kl. {time}", "year": "EEEE d MMMM y"},
    # Tuesday 27 October, 13:00–16:00
    "en": {"day": "EEEE d MMMM", "time": "HH:mm", "at": "{day}, {time}", "year": "EEEE d MMMM y"},
}


def select_locale() -> Locale:
    """The request's locale, as one shared ``Locale`` per language. Flask-Babel takes a
    ``Locale`` as it is (a string it parses anew for every request), so every request in
    a language gets the same object, and the caches keyed by the locale (the catalogue,
    the language, formatted dates) find it by identity rather than by Babel's field by
    field ``Locale.__eq__`` — about 160 comparisons for a page of the listing."""
    return shared_locale(_chosen_language())


def _chosen_language() -> str:
    languages = current_app.config["LANGUAGES"]
    if request:
        chosen = request.args.get("lang") or session.get("lang")
        if chosen in languages:
            return chosen
        best = request.accept_languages.best_match(languages)
        if best and request.accept_languages and request.accept_languages[0][0][:2] in languages:
            return best
    return current_app.config["BABEL_DEFAULT_LOCALE"]


@functools.lru_cache(maxsize=16)
def shared_locale(identifier: str) -> Locale:
    """The one ``Locale`` of ``identifier`` (see ``select_locale``)."""
    return Locale.parse(identifier)


def in_language(identifier: str):
    """Flask-Babel's ``force_locale`` with the shared ``Locale`` of ``identifier``: what is
    rendered inside (a mail in its reader's language, the command line in English) finds
    the caches keyed by the locale as a request in that language does."""
    return force_locale(shared_locale(identifier))


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else "sv"


def _patterns() -> dict:
    return PATTERNS.get(current_language(), PATTERNS["sv"])


def format_day(dt: datetime) -> str:
    return _formatted(dt, _patterns()["day"])


def format_time(dt: datetime) -> str:
    return _formatted(dt, _patterns()["time"])


def _formatted(dt: datetime, pattern: str) -> str:
    return _formatted_in(dt, pattern, get_locale(), get_timezone())


@functools.lru_cache(maxsize=4096)
def _formatted_in(dt: datetime, pattern: str, locale, timezone) -> str:
    # Cached by everything the text depends on (the moment, the pattern, the locale and
    # the time zone, which are this request's): Babel's formatting is the largest share of
    # a listing's or a dashboard's time per event, and the same dates recur on every page.
    return format_datetime(dt, pattern)


def format_moment(dt: datetime | None) -> str:
    """"tisdag 27 oktober kl. 13.00"."""
    if dt is None:
        return ""
    p = _patterns()
    return p["at"].format(day=format_day(dt), time=format_time(dt))


def format_span(start: datetime, end: datetime) -> str:
    """"tisdag 27 oktober kl. 13.00–16.00", or both days when it spans midnight."""
    return _span_in(start, end, get_locale(), get_timezone())


@functools.lru_cache(maxsize=4096)
def _span_in(start: datetime, end: datetime, _locale, _timezone) -> str:
    # Cached by everything the text depends on, like ``_formatted_in``: every session of
    # a listing's or a dashboard's page is one.
    from .clock import local

    p = _patterns()
    if local(start).date() == local(end).date():
        return p["at"].format(day=format_day(start), time=f"{format_time(start)}–{format_time(end)}")
    return f"{format_moment(start)} – {format_moment(end)}"


def translations() -> NullTranslations:
    """The current locale's catalogue (Flask-Babel's own), found once per locale: for
    every message, Flask-Babel looks up its request context three times and spells the
    locale out, a large share of a page's time with many messages (a listing)."""
    return _catalogue(get_locale())


@functools.lru_cache(maxsize=16)
def _catalogue(_locale) -> NullTranslations:
    # Called while ``_locale`` is the current locale (``force_locale`` included).
    return get_translations()


def _template_callables() -> dict:
    """Jinja's newstyle gettext callables, the same behaviour, taking the evaluation
    context instead of the whole template context. Jinja gives a callable that takes the
    context, when called inside a loop, a fresh copy of the context with the loop's
    variables (``Context.derived``, every global copied) — twice per message, since ``_``
    is an alias that calls ``gettext`` through the context; a list of a hundred rows made
    hundreds of such copies. Whether to autoescape is all they need of it. The messages'
    own arguments are positional-only, so a message may have a variable of any name."""

    def formatted(eval_ctx: EvalContext, text: str, variables: dict) -> str:
        # Always a format string, as in Jinja's own: "100%%" in a message is "100%".
        return (Markup(text) if eval_ctx.autoescape else text) % variables

    @pass_eval_context
    def gettext(eval_ctx: EvalContext, string: str, /, **variables) -> str:
        return formatted(eval_ctx, translations().ugettext(string), variables)

    @pass_eval_context
    def ngettext(eval_ctx: EvalContext, singular: str, plural: str, num: int, /, **variables) -> str:
        variables.setdefault("num", num)
        return formatted(eval_ctx, translations().ungettext(singular, plural, num), variables)

    @pass_eval_context
    def pgettext(eval_ctx: EvalContext, context: str, string: str, /, **variables) -> str:
        variables.setdefault("context", context)
        return formatted(eval_ctx, translations().upgettext(context, string), variables)

    @pass_eval_context
    def npgettext(
        eval_ctx: EvalContext, context: str, singular: str, plural: str, num: int, /, **variables
    ) -> str:
        variables.setdefault("context", context)
        variables.setdefault("num", num)
        return formatted(
            eval_ctx, translations().unpgettext(context, singular, plural, num), variables
        )

    return {"_": gettext, "gettext": gettext, "ngettext": ngettext, "pgettext": pgettext,
            "npgettext": npgettext}


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: "Europe/Stockholm")
    # The templates' gettext: Flask-Babel installs Jinja's i18n extension "newstyle" (a
    # translation is a format string, autoescaped in HTML; the ``trans`` tag too); its
    # callables are replaced by ones that find the catalogue once per locale and take the
    # evaluation context only (``_template_callables``).
    app.jinja_env.globals.update(_template_callables())
    app.jinja_env.filters["span"] = format_span
    app.jinja_env.filters["moment"] = format_moment
    app.jinja_env.filters["day"] = format_day
    app.jinja_env.globals["current_language"] = current_language
