"""The one vocabulary for "no": :class:`Refused` and :class:`NotFound`, and their pages.

Services raise ``Refused`` (with a message for the person and, when it concerns one,
the form field) and ``NotFound``. Views do not translate either into responses:

- a form view puts a refusal onto its form with ``core.form_base.refuse_onto`` and
  renders the form again (status 400);
- every other refusal reaches the central handler here. A button view names the page
  a refusal returns to (``on_refusal_return_to``) before its one service call; the
  handler flashes the message and redirects there (else to the form's ``next`` or a
  same-site Referer, else it shows the styled error page with status 409). A script
  asking for JSON gets ``{"ok": false, "message": ...}`` with 409;
- ``NotFound`` is always the 404 page.

Nothing reaches the user as a bare 500: database outages and lock storms (``BusyError``)
answer with a styled page too.
"""

from __future__ import annotations

import logging

from flask import Flask, flash, g, jsonify, redirect, render_template, request
from flask.globals import request_ctx
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from .database import BusyError, is_retryable
from .extensions import db, login_manager
from .urls import same_site_path

log = logging.getLogger(__name__)


class Refused(Exception):
    """A refused action: ``message`` for the user, ``field`` the form field it concerns.

    ``code`` names the reason for callers that branch on it (e.g. "full").
    """

    def __init__(self, message, field: str | None = None, code: str = "refused"):
        super().__init__(str(message))
        self.message = message
        self.field = field
        self.code = code


class NotFound(Exception):
    """The thing asked for does not exist (or is not for this person to see)."""

    def __init__(self, message=None):
        self.message = message or _l("Not found.")
        super().__init__(str(self.message))


def _page(status: int, title: str, message: str, back: str | None = None):
    if request_ctx.url_adapter is None:  # a Host name no URL can be built for: no layout
        return _bare_page(status, title, message)
    try:
        return render_template("error.html", title=title, message=message, back=back), status
    except Exception:  # the page itself failed (a lost database): still no bare error
        log.exception("the error page could not be rendered")
        return _bare_page(status, title, message)


def _bare_page(status: int, title: str, message: str):
    """The error page without the layout (which may need the database), styled still."""
    html = (
        '<!doctype html><html lang="sv"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{escape(title)}</title><link rel="stylesheet" href="/static/kvarn.css"></head>'
        f'<body><main id="main"><h1>{escape(title)}</h1><p>{escape(message)}</p></main></body></html>'
    )
    return html, status, {"Content-Type": "text/html; charset=utf-8", "Retry-After": "30"}


def _without_database() -> None:
    """Render what follows as an anonymous visitor, with a fresh session: the page must
    not reach for the database that just failed."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection is gone; nothing left to undo
        pass
    g._login_user = login_manager.anonymous_user()


def on_refusal_return_to(url: str) -> None:
    """Where this request returns if the service refuses (flashed there, not a 500)."""
    g.kvarn_refusal_return = url


def _back_target() -> str | None:
    """Where a refused POST returns to: the view's choice, the form's ``next`` or a
    same-site Referer."""
    return (
        same_site_path(g.get("kvarn_refusal_return"))
        or same_site_path(request.form.get("next"))
        or same_site_path(request.referrer)
    )


def init_app(app: Flask) -> None:
    @app.errorhandler(Refused)
    def _refused(error: Refused):
        if request.accept_mimetypes.best == "application/json":  # a progressive script
            return jsonify(ok=False, message=str(error.message)), 409
        back = _back_target() if request.method == "POST" else None
        if back:
            flash(str(error.message), "error")
            return redirect(back, 303)
        return _page(409, _("Not possible"), str(error.message), back=same_site_path(request.referrer))

    @app.errorhandler(NotFound)
    def _missing(_error: NotFound):
        return _page(404, _("Page not found"), _("The page does not exist, or the link is no longer valid."))

    @app.errorhandler(CSRFError)
    def _csrf(_error):
        return _page(
            400,
            _("The form has expired"),
            _("For your security the form could not be accepted. Reload the page and send it again."),
        )

    @app.errorhandler(DBAPIError)
    def _database(error: DBAPIError):
        if not is_retryable(error):
            log.error("database unavailable: %s", error.orig)
        _without_database()
        return _page(
            503,
            _("Kvarn is not available right now"),
            _("We cannot reach our database at the moment. Please try again in a few minutes."),
        )

    @app.errorhandler(BusyError)
    def _busy(_error):
        return _page(503, _("Please try again"), _("Many people are signing up right now. Please send the form again in a moment."))

    @app.errorhandler(404)
    def _not_found(_error):
        return _page(404, _("Page not found"), _("The page does not exist, or the link is no longer valid."))

    @app.errorhandler(403)
    def _forbidden(_error):
        return _page(403, _("Not allowed"), _("You do not have permission to do that."))

    @app.errorhandler(405)
    def _method(_error):
        return _page(405, _("Not allowed"), _("That action is not possible on this page."))

    @app.errorhandler(413)
    def _too_large(_error):
        return _page(413, _("Too much data"), _("The form was too large. Shorten the text and try again."))

    @app.errorhandler(429)
    def _too_many(_error):
        return _page(429, _("Too many attempts"), _("Too many attempts in a short time. Wait a minute and try again."))

    @app.errorhandler(400)
    def _bad_request(_error):
        return _page(400, _("Bad request"), _("The request could not be understood."))

    @app.errorhandler(500)
    def _server_error(error):
        original = getattr(error, "original_exception", None)
        if isinstance(original, DBAPIError):
            return _database(original)
        return _page(500, _("Something went wrong"), _("An error occurred on our side. Please try again later."))

    @app.errorhandler(HTTPException)
    def _other(error):
        return _page(error.code or 500, error.name, error.description or "")
