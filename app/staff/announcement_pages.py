"""Announcing free seats to subscribers, from the event: how many it would reach, a
preview (to a made-up subscriber), send once, and follow its delivery; and the
printable poster with a QR code. Organisers and admins reach every matching subscriber;
a coordinator only those whose filters take their own organisation
(``subscriptions.announcements``)."""

from __future__ import annotations

from flask import (
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from ..accounts.access import roles_required
from ..accounts.roles import ALL_STAFF
from ..core.errors import NotFound, on_refusal_return_to
from ..core.extensions import db
from ..core.i18n import current_language
from ..models import Event, Organisation
from ..registrations import reads
from ..reporting.exports import Viewer, visible_to
from ..subscriptions import announcements, posters
from .blueprint import bp

# The HTML preview is our own rendered mail; it may style itself but never run script.
PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'"


def _event_or_404(event_id: int) -> Event:
    """An event this staff member may see (coordinators: public events only)."""
    event = db.session.get(Event, event_id)
    if event is None or not visible_to(Viewer.of(current_user), event):
        raise NotFound()
    return event


def _preview_locale() -> str:
    locale = request.args.get("locale", "")
    return locale if locale in current_app.config["LANGUAGES"] else current_language()


def announcement_progress(event_id: int) -> dict:
    counts = dict(announcements.progress(event_id))
    counts["total"] = sum(counts.values())
    counts["done"] = counts["sent"] + counts["failed"]
    counts["finished"] = counts["total"] > 0 and counts["done"] == counts["total"]
    return counts


def progress_text(progress: dict) -> str:
    return _(
        "%(done)d of %(total)d handled: %(sent)d sent, %(failed)d failed, %(waiting)d waiting.",
        done=progress["done"],
        total=progress["total"],
        sent=progress["sent"],
        failed=progress["failed"],
        waiting=progress["pending"] + progress["sending"],
    )


@bp.get("/events/<int:event_id>/announcement")
@roles_required(*ALL_STAFF)
def event_announcement(event_id: int):
    event = _event_or_404(event_id)
    audience = announcements.audience_of(current_user)
    counts = reads.counts_of(event.id)
    locale = _preview_locale()
    subject, text, _html = announcements.preview(event.id, locale)
    progress = announcement_progress(event.id)
    organisation = (
        db.session.get(Organisation, audience.organisation_id)
        if audience.organisation_id is not None
        else None
    )
    return render_template(
        "staff/events/announcement.html",
        event=event,
        counts=counts,
        free_seats=announcements.free_seats(event, counts),
        refusal=announcements.refusal(event, counts),
        recipients=announcements.recipient_count(event.id, audience),
        announced=announcements.announced_count(event.id),
        organisation=organisation,
        subject=subject,
        text=text,
        locale=locale,
        languages=current_app.config["LANGUAGES"],
        progress=progress if progress["total"] else None,
        progress_text=progress_text(progress),
    )


@bp.get("/events/<int:event_id>/announcement/preview.html")
@roles_required(*ALL_STAFF)
def event_announcement_html(event_id: int):
    event = _event_or_404(event_id)
    _subject, _text, html = announcements.preview(event.id, _preview_locale())
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    return response


@bp.post("/events/<int:event_id>/announcement")
@roles_required(*ALL_STAFF)
def event_announcement_send(event_id: int):
    event = _event_or_404(event_id)
    on_refusal_return_to(url_for("staff.event_announcement", event_id=event.id))
    queued = announcements.announce(event.id, current_user.id, announcements.audience_of(current_user))
    if queued:
        flash(
            ngettext(
                "The announcement is on its way to %(num)d subscriber.",
                "The announcement is on its way to %(num)d subscribers.",
                queued,
            ),
            "success",
        )
    else:
        flash(_("Nobody new to tell: every matching subscriber already has this announcement."), "info")
    return redirect(url_for("staff.event_announcement", event_id=event.id), 303)


@bp.get("/events/<int:event_id>/announcement/progress")
@roles_required(*ALL_STAFF)
def event_announcement_progress(event_id: int):
    event = _event_or_404(event_id)
    progress = announcement_progress(event.id)
    return jsonify({**progress, "text": progress_text(progress)})


@bp.get("/events/<int:event_id>/poster")
@roles_required(*ALL_STAFF)
def event_poster(event_id: int):
    event = _event_or_404(event_id)
    return render_template("staff/events/poster.html", poster=posters.poster(event.id))
