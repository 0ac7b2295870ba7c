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
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, abort, request
from werkzeug.middleware.proxy_fix import ProxyFix

from .params import IdConverter

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
#: Blueprints whose every page is personal (staff lists, log-in, the dev mailbox).
PRIVATE_BLUEPRINTS = {"staff", "auth", "dev_mailbox"}


def private(view: Callable) -> Callable:
    """Mark a view whose answer must never be cached (a person's own page)."""
    view.kvarn_private = True
    return view


def _host_is_sane(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host
    if len(name) > 253:
        return False
    return all(0 < len(label) <= 63 for label in name.strip(".").split(".")) if name else False


def _has_nul(values) -> bool:
    return any("\x00" in key or "\x00" in value for key, value in values.items(multi=True))


def _is_private() -> bool:
    if request.blueprint in PRIVATE_BLUEPRINTS:
        return True
    if request.url_rule is None:
        return False
    from flask import current_app

    view = current_app.view_functions.get(request.endpoint)
    return bool(getattr(view, "kvarn_private", False))


def init_app(app: Flask) -> None:
    """Call before the blueprints are registered (the id converter applies to their routes)."""
    app.url_map.converters["int"] = IdConverter
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
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        if _is_private():
            response.headers["Cache-Control"] = "no-store"
        return response
