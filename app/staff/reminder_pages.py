"""Reminders from the event page: the organiser's own text, a preview (to a made-up person),
the rounds sent so far, sending a round once (a second one within a day only when
confirmed), and following its delivery."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import ngettext
from flask_login import current_user

from ..accounts.access import roles_required
from ..accounts.roles import ORGANISERS
from ..core.errors import Refused
from ..core.form_base import refuse_onto
from ..events import listing
from ..models import Event
from ..registrations import messages, reminders
from . import rounds
from .blueprint import bp
from .message_forms import ReminderForm, has_valid_key, new_key


def _page(event: Event, form: ReminderForm, status: int = 200, preview=None):
    """The reminder page: delivery of the round in ``?label=``, the preview, the form
    (with the confirmation box when a round went out within a day) and the rounds sent."""
    if preview is None:
        preview = reminders.preview(event.id, form.locale.data)
    subject, text, _html = preview
    label = rounds.label_arg(request.args.get("label"))
    progress = messages.progress(event.id, messages.REMINDER, [label])[label] if label else None
    return (
        render_template(
            "staff/events/reminder.html",
            event=event,
            form=form,
            subject=subject,
            text=text,
            seated=messages.audience_counts(event.id)[messages.SEATED],
            recent=reminders.recent_round(event.id),
            rounds=rounds.listed(event.id, messages.REMINDER),
            label=label,
            progress=progress,
            progress_text=rounds.progress_text(progress) if progress else "",
        ),
        status,
    )


def _get_form() -> ReminderForm:
    """A fresh form (a new one-time key), previewed in ``?locale=`` if it is one of ours."""
    form = ReminderForm(formdata=None)
    form.key.data = new_key()
    if request.args.get("locale") in {code for code, _name in form.locale.choices}:
        form.locale.data = request.args["locale"]
    return form


@bp.get("/events/<int:event_id>/reminder")
@roles_required(*ORGANISERS)
def event_reminder(event_id: int):
    return _page(listing.any_event(event_id), _get_form())


@bp.route("/events/<int:event_id>/reminder/preview.html", methods=["GET", "POST"])
@roles_required(*ORGANISERS)
def event_reminder_html(event_id: int):
    """The HTML part of the preview; a POST from the form previews the organiser's text."""
    event = listing.any_event(event_id)
    if request.method == "POST":
        form = ReminderForm()
        if not form.validate():
            abort(400)
    else:
        form = _get_form()
    _subject, _text, html = reminders.preview(event.id, form.locale.data, form.note.data or "")
    return rounds.html_preview(html)


@bp.post("/events/<int:event_id>/reminder")
@roles_required(*ORGANISERS)
def event_reminder_send(event_id: int):
    event = listing.any_event(event_id)
    form = ReminderForm()
    if not has_valid_key(form):
        abort(400)  # not a form from our page
    if not form.validate():
        return _page(event, form, 400)
    note = form.note.data or ""
    try:
        if "preview" in request.form:
            return _page(event, form, preview=reminders.preview(event.id, form.locale.data, note))
        sent = reminders.send_reminder(
            event.id, current_user.id, form.key.data, note, confirm_repeat=form.confirm_repeat.data
        )
    except Refused as refusal:
        refuse_onto(form, refusal)
        return _page(event, form, 400)
    if sent.again:
        flash(
            ngettext(
                "This reminder was already sent, to %(num)d person.",
                "This reminder was already sent, to %(num)d people.",
                sent.queued,
            ),
            "info",
        )
    else:
        flash(
            ngettext(
                "The reminder is on its way to %(num)d person.",
                "The reminder is on its way to %(num)d people.",
                sent.queued,
            ),
            "success",
        )
    return redirect(url_for("staff.event_reminder", event_id=event.id, label=sent.label), 303)


@bp.get("/events/<int:event_id>/reminder/progress")
@roles_required(*ORGANISERS)
def event_reminder_progress(event_id: int):
    event = listing.any_event(event_id)
    return rounds.progress_response(event.id, messages.REMINDER, request.args.get("label"))

