"""What the reminder and message pages share: a round's progress in words and as JSON,
the list of rounds sent, and how the HTML part of a preview is served."""

from __future__ import annotations

import re

from flask import Response, abort, jsonify
from flask_babel import gettext as _

from ..models import MessageRound
from ..registrations import messages

LABEL = re.compile(r"^[A-Za-z0-9-]{1,60}$")
# The HTML preview is our own rendered mail; it may style itself but never run script.
PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'"


def label_arg(value: str | None) -> str | None:
    return value if value and LABEL.match(value) else None


def progress_text(progress: messages.Progress) -> str:
    return _(
        "%(done)d of %(total)d handled: %(sent)d sent, %(failed)d failed, %(waiting)d waiting.",
        done=progress.done,
        total=progress.total,
        sent=progress.sent,
        failed=progress.failed,
        waiting=progress.waiting,
    )


def progress_json(progress: messages.Progress) -> dict:
    return {**progress.as_dict(), "text": progress_text(progress)}


def progress_response(event_id: int, kind: str, label_value: str | None) -> Response:
    """One round's delivery so far as JSON (the pages' progress bars); 404 for no round."""
    label = label_arg(label_value)
    if label is None:
        abort(404)
    return jsonify(progress_json(messages.progress(event_id, kind, [label])[label]))


def listed(event_id: int, kind: str) -> list[tuple[MessageRound, messages.Progress]]:
    """The event's rounds of ``kind``, newest first, each with its delivery so far."""
    rounds = messages.rounds_of(event_id, kind)
    found = messages.progress(event_id, kind, [r.label for r in rounds])
    return [(r, found[r.label]) for r in rounds]


def html_preview(html: str) -> Response:
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    return response
