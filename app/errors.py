"""Friendly error pages in the user's language; nothing reaches the user as a bare 500."""

from __future__ import annotations

from flask import Flask, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .database import BusyError


def _page(status: int, title: str, message: str):
    return render_template("error.html", title=title, message=message), status


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(_error):
        return _page(
            400,
            _("The form has expired"),
            _("For your security the form could not be accepted. Reload the page and send it again."),
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
    def _server_error(_error):
        return _page(500, _("Something went wrong"), _("An error occurred on our side. Please try again later."))

    @app.errorhandler(HTTPException)
    def _other(error):
        return _page(error.code or 500, error.name, error.description or "")
