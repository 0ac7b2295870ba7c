"""What every request and response goes through: the client's real address behind a
trusted proxy, refusing input no page can store, security headers, and no caching of
personal pages.

- ``PROXY_FIX_X_FOR`` (number of trusted proxies in front, 0 = none): Werkzeug's
  ProxyFix takes the client address (and scheme, host) from that many
  ``X-Forwarded-*`` hops, so rate limits and the dev mailbox see the real client.
- A request carrying a NUL byte anywhere, an uploaded file (Kvarn takes none) or a Host
  name no DNS would accept is answered 400 before any view runs, so nothing is written.
- ``private`` marks a view whose page shows personal data; such pages, and every staff,
  log-in and dev-mailbox page, are sent with ``Cache-Control: no-store``.
- No page may be framed (``frame-ancestors 'none'``, ``X-Frame-Options: DENY``) except a
  view marked ``embeddable``, and that one only by the origins ``EMBED_ALLOWED_ORIGINS``
  lists (``frame-ancestors`` with exactly those; no X-Frame-Options, which cannot name
  an origin). With the list empty the embeddable page is framed by nobody either.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask, abort, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

from .params import IdConverter

CSP_BASE = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'"
)
CSP = f"{CSP_BASE}; frame-ancestors 'none'"
#: An origin a page may be framed by: scheme, host (a leading ``*.`` for every
#: subdomain, as CSP allows) and an optional port; no path, no quotes, no spaces.
_ORIGIN = re.compile(
    r"^https?://(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$"
)
#: Blueprints whose every page is personal (staff lists, log-in, the dev mailbox).
PRIVATE_BLUEPRINTS = {"staff", "auth", "dev_mailbox"}


def private(view: Callable) -> Callable:
    """Mark a view whose answer must never be cached (a person's own page)."""
    view.kvarn_private = True
    return view


def embeddable(view: Callable) -> Callable:
    """Mark a view that other sites may show in a frame (only the configured origins)."""
    view.kvarn_embeddable = True
    return view


def embed_origins(setting) -> list[str]:
    """``EMBED_ALLOWED_ORIGINS`` as a list of origins: a list, or one text with the
    origins separated by spaces or commas (an environment variable). A trailing slash
    is dropped, letters are lowered; anything that is not an origin is a ``ValueError``
    (at start-up), never a policy that silently lets more sites in."""
    if setting is None or setting == "":
        return []
    values = re.split(r"[\s,]+", setting) if isinstance(setting, str) else list(setting)
    origins = []
    for value in values:
        if not isinstance(value, str):
            raise ValueError(f"EMBED_ALLOWED_ORIGINS: {value!r} is not an origin")
        origin = value.strip().rstrip("/").lower()
        if not origin:
            continue
        if not _ORIGIN.match(origin):
            raise ValueError(
                f"EMBED_ALLOWED_ORIGINS: {value!r} is not an origin like https://intranet.example.se"
            )
        if origin not in origins:
            origins.append(origin)
    return origins


def _host_is_sane(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host
    if len(name) > 253:
        return False
    return all(0 < len(label) <= 63 for label in name.strip(".").split(".")) if name else False


def _has_nul(values) -> bool:
    return any("\x00" in key or "\x00" in value for key, value in values.items(multi=True))


def _view_is(mark: str) -> bool:
    if request.url_rule is None:
        return False
    view = current_app.view_functions.get(request.endpoint)
    return bool(getattr(view, mark, False))


def _is_private() -> bool:
    if request.blueprint in PRIVATE_BLUEPRINTS:
        return True
    return _view_is("kvarn_private")


def init_app(app: Flask) -> None:
    """Call before the blueprints are registered (the id converter applies to their routes)."""
    app.url_map.converters["int"] = IdConverter
    # Refuse a wrong list at start-up; kept normalised for the embeddable page's header.
    app.config["EMBED_ALLOWED_ORIGINS"] = embed_origins(app.config.get("EMBED_ALLOWED_ORIGINS"))
    hops = int(app.config.get("PROXY_FIX_X_FOR") or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    @app.before_request
    def _refuse_unstorable_input():
        if not _host_is_sane(request.host):
            abort(400)
        if "\x00" in request.path or _has_nul(request.args):
            abort(400)
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            if request.files:
                abort(400)  # no page takes a file: a file part in a text field is refused
            if _has_nul(request.form):
                abort(400)

    @app.after_request
    def _headers(response):
        embedded = _view_is("kvarn_embeddable")
        origins = embed_origins(app.config.get("EMBED_ALLOWED_ORIGINS")) if embedded else []
        if origins:
            response.headers.setdefault(
                "Content-Security-Policy", f"{CSP_BASE}; frame-ancestors {' '.join(origins)}"
            )
        else:
            response.headers.setdefault("Content-Security-Policy", CSP)
            response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        if _is_private():
            response.headers["Cache-Control"] = "no-store"
        return response
