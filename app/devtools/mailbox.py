"""/dev/mailbox: read the mail Kvarn queued, without any SMTP server (for `make run`).

Registered only when ``DEV_MAILBOX`` is true (``app.devserver`` sets it). It
reads the outbox table, so a message is readable the moment it is queued,
whether or not a worker delivers it. Never enable it in production: it shows
everyone's mail, manage links included; it answers only clients on this machine
(loopback addresses) even when ``make run`` listens on every interface.
"""

from __future__ import annotations

import ipaddress

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, abort, render_template, request

from ..core.extensions import db
from ..mail.message import attachment_bytes
from ..models import OutboxMessage

bp = Blueprint("dev_mailbox", __name__, url_prefix="/dev/mailbox")

# The mail's own HTML, shown in a sandboxed frame: inline styles only, nothing runs.
MAIL_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox"
)


@bp.before_request
def _loopback_only():
    """Only a browser on this machine may read the mailbox (``make run HOST=0.0.0.0``
    must not publish everyone's mail and manage links to the network)."""
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        abort(404)
    if not address.is_loopback:
        abort(404)


def _message_or_404(message_id: int) -> OutboxMessage:
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        abort(404)
    return message


@bp.get("")
def index():
    recipient = (request.args.get("to") or "").strip().lower()
    query = sa.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(200)
    if recipient:
        query = query.where(OutboxMessage.recipient == recipient)
    messages = list(db.session.scalars(query))
    return render_template("dev/mailbox.html", messages=messages, recipient=recipient)


@bp.get("/<int:message_id>")
def message(message_id: int):
    return render_template("dev/message.html", message=_message_or_404(message_id))


@bp.get("/<int:message_id>/html")
def message_html(message_id: int):
    html = _message_or_404(message_id).body_html
    # Links open in a new tab: Kvarn's own pages refuse to be shown inside a frame.
    html = html.replace("<head>", '<head><base target="_blank">', 1)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = MAIL_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.get("/<int:message_id>/attachments/<int:index>")
def attachment(message_id: int, index: int):
    attachments = _message_or_404(message_id).attachments or []
    if not 0 <= index < len(attachments):
        abort(404)
    item = attachments[index]
    response = Response(attachment_bytes(item), mimetype=item["content_type"].split(";")[0])
    response.headers["Content-Disposition"] = f'attachment; filename="{item["filename"]}"'
    return response


def init_app(app: Flask) -> None:
    if app.config.get("DEV_MAILBOX"):
        app.register_blueprint(bp)
