"""Messages to participants from the event page: the organiser writes a subject and a
text to everyone with a seat, on the waiting list or interested; previews the real mail
(to a made-up person, text and HTML); sends it once; follows its delivery; and sees the
messages sent before."""

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
from ..registrations import messages
from . import rounds
from .blueprint import bp
from .message_forms import MessageForm, has_valid_key, new_key


def _page(event: Event, form: MessageForm, status: int = 200, preview=None):
    counts = messages.audience_counts(event.id)
    label = rounds.label_arg(request.args.get("label"))
    progress = messages.progress(event.id, messages.MESSAGE, [label])[label] if label else None
    return (
        render_template(
            "staff/events/messages.html",
            event=event,
            form=form,
            counts=counts,
            audience_labels=messages.AUDIENCE_LABELS,
            preview=preview,
            rounds=rounds.listed(event.id, messages.MESSAGE),
            label=label,
            progress=progress,
            progress_text=rounds.progress_text(progress) if progress else "",
        ),
        status,
    )


@bp.get("/events/<int:event_id>/messages")
@roles_required(*ORGANISERS)
def event_messages(event_id: int):
    event = listing.any_event(event_id)
    form = MessageForm(formdata=None)
    form.key.data = new_key()
    counts = messages.audience_counts(event.id)
    # The first audience that has anyone in it is chosen to begin with.
    form.audience.data = next((a for a in messages.AUDIENCES if counts[a]), messages.SEATED)
    return _page(event, form)


@bp.post("/events/<int:event_id>/messages")
@roles_required(*ORGANISERS)
def event_messages_send(event_id: int):
    """Preview (the "preview" button) or send the message written in the form."""
    event = listing.any_event(event_id)
    form = MessageForm()
    if not has_valid_key(form):
        abort(400)  # not a form from our page
    if not form.validate():
        return _page(event, form, 400)
    try:
        if "preview" in request.form:
            preview = messages.preview_message(event.id, form.draft(), form.locale.data)
            return _page(event, form, preview=preview)
        sent = messages.send_message(event.id, current_user.id, form.key.data, form.draft())
    except Refused as refusal:
        refuse_onto(form, refusal)
        return _page(event, form, 400)
    if sent.again:
        flash(
            ngettext(
                "This message was already sent, to %(num)d person.",
                "This message was already sent, to %(num)d people.",
                sent.queued,
            ),
            "info",
        )
    else:
        flash(
            ngettext(
                "The message is on its way to %(num)d person.",
                "The message is on its way to %(num)d people.",
                sent.queued,
            ),
            "success",
        )
    return redirect(url_for("staff.event_messages", event_id=event.id, label=sent.label), 303)


@bp.post("/events/<int:event_id>/messages/preview.html")
@roles_required(*ORGANISERS)
def event_messages_html(event_id: int):
    """The HTML part of the message in the form, for the made-up person."""
    event = listing.any_event(event_id)
    form = MessageForm()
    if not form.validate():
        abort(400)
    try:
        _subject, _text, html = messages.preview_message(event.id, form.draft(), form.locale.data)
    except Refused:
        abort(400)
    return rounds.html_preview(html)


@bp.get("/events/<int:event_id>/messages/progress")
@roles_required(*ORGANISERS)
def event_messages_progress(event_id: int):
    event = listing.any_event(event_id)
    return rounds.progress_response(event.id, messages.MESSAGE, request.args.get("label"))
