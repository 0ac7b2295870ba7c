"""Reminders from the event page: preview (to a made-up person), send a round once,
and follow its delivery."""

from __future__ import annotations

import re
import uuid

from flask import (
    Response,
    abort,
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
from ..accounts.roles import ORGANISERS
from ..core.errors import on_refusal_return_to
from ..core.i18n import current_language
from ..events import listing
from ..registrations import reads, reminders
from .blueprint import bp

LABEL = re.compile(r"^[A-Za-z0-9-]{1,40}$")
# The HTML preview is our own rendered mail; it may style itself but never run script.
PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'"


def _label_arg(value: str | None) -> str | None:
    return value if value and LABEL.match(value) else None


def reminder_progress(event_id: int, label: str) -> dict:
    """One round's reminders by outbox status, plus the totals the page shows."""
    counts = dict(reminders.reminder_progress(event_id, label))
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


def _preview_locale() -> str:
    locale = request.args.get("locale", "")
    return locale if locale in current_app.config["LANGUAGES"] else current_language()


@bp.get("/events/<int:event_id>/reminder")
@roles_required(*ORGANISERS)
def event_reminder(event_id: int):
    event = listing.any_event(event_id)
    locale = _preview_locale()
    subject, text, _html = reminders.preview(event.id, locale)
    label = _label_arg(request.args.get("label"))
    progress = reminder_progress(event.id, label) if label else None
    counts = reads.counts_of(event.id)
    return render_template(
        "staff/events/reminder.html",
        event=event,
        subject=subject,
        text=text,
        locale=locale,
        languages=current_app.config["LANGUAGES"],
        counts=counts,
        label=label,
        progress=progress,
        progress_text=progress_text(progress) if progress else "",
        key=uuid.uuid4().hex,
    )


@bp.get("/events/<int:event_id>/reminder/preview.html")
@roles_required(*ORGANISERS)
def event_reminder_html(event_id: int):
    event = listing.any_event(event_id)
    _subject, _text, html = reminders.preview(event.id, _preview_locale())
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    return response


@bp.post("/events/<int:event_id>/reminder")
@roles_required(*ORGANISERS)
def event_reminder_send(event_id: int):
    event = listing.any_event(event_id)
    key = request.form.get("key", "")
    if not re.fullmatch(r"[0-9a-f]{32}", key):
        abort(400)
    # The same rendered form gives the same label, so a double click queues the round once.
    label = f"manual-{key[:16]}"
    on_refusal_return_to(url_for("staff.event_reminder", event_id=event.id))
    queued = reminders.queue_reminders(event.id, current_user.id, label)
    if queued:
        flash(
            ngettext(
                "The reminder is on its way to %(num)d person.",
                "The reminder is on its way to %(num)d people.",
                queued,
            ),
            "success",
        )
    else:
        flash(_("Nobody new to remind: everyone with a seat already has this reminder."), "info")
    return redirect(url_for("staff.event_reminder", event_id=event.id, label=label), 303)


@bp.get("/events/<int:event_id>/reminder/progress")
@roles_required(*ORGANISERS)
def event_reminder_progress(event_id: int):
    event = listing.any_event(event_id)
    label = _label_arg(request.args.get("label"))
    if label is None:
        abort(404)
    progress = reminder_progress(event.id, label)
    return jsonify({**progress, "text": progress_text(progress)})
