"""Failed mail: what the outbox could not deliver, and putting a message back in the queue."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..accounts.access import roles_required
from ..accounts.roles import ORGANISERS
from ..core.errors import NotFound
from ..core.extensions import db
from ..core.params import id_arg
from ..mail import delivery
from ..models import Event, OutboxMessage
from .blueprint import bp


@bp.get("/outbox")
@roles_required(*ORGANISERS)
def outbox():
    event_id = id_arg(request.args, "event_id")
    event = db.session.get(Event, event_id) if event_id else None
    if request.args.get("event_id") and event is None:
        raise NotFound()
    return render_template(
        "staff/outbox.html",
        event=event,
        failed=delivery.failed_messages(event.id if event else None),
        counts=delivery.status_counts(event.id if event else None),
    )


@bp.post("/outbox/<int:message_id>/retry")
@roles_required(*ORGANISERS)
def outbox_retry(message_id: int):
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound()
    recipient = message.recipient
    delivery.retry(message.id, current_user.id)
    flash(_("The message to %(recipient)s is queued again.", recipient=recipient), "success")
    event_id = id_arg(request.form, "event_id")
    return redirect(url_for("staff.outbox", event_id=event_id), 303)
