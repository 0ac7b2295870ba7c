"""The message bytes written directly (mail/message.py ``_written``, the fast path of
``wire_bytes``) are byte for byte what the standard library's generator writes for the
same message (``generated_bytes``): headers folded and encoded alike, 7bit/8bit bodies,
mbox "From " quoting, base64 attachments (text and binary), with and without HTML,
attachments and Reply-To."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import pytest

from app.mail import message as m

BASE = dict(
    recipient="Anna <anna@example.org>",
    sender="Kvarn <noreply@kvarn.test>",
    reply_to="org@kommun.test",
    subject="Bekräftat: Kurs i föräldraskap",
    body_text="Hej Anna,\nrad två\n",
    body_html="<p>Hej</p>\n",
    attachments=[
        {"filename": "invite.ics", "content_type": "text/calendar; method=REQUEST; charset=utf-8",
         "data": "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"}
    ],
    message_id="<abc@kvarn.test>",
    locale="sv",
    created_at=datetime(2026, 12, 1, 12, 0, 7, 123, tzinfo=UTC),
)

CASES = {
    "everything": {},
    "no attachments": {"attachments": []},
    "no html": {"body_html": ""},
    "text only": {"body_html": "", "attachments": []},
    "long ascii subject": {"subject": "A" * 200},
    "long swedish subject": {"subject": "Återträff för förskolans arbetslag " * 5},
    "name needing quotes": {"recipient": '"Åsa Öberg, Jr." <asa@example.org>'},
    "from lines": {"body_text": "From here\nFrom: x\n\n From y\n", "body_html": "<p>Å</p>\nFrom z"},
    "no reply-to": {"reply_to": None},
    "three calendar files": {
        "attachments": [
            {"filename": f"invite-{i}.ics", "content_type": "text/calendar; method=REQUEST; charset=utf-8",
             "data": "X" * 500 + "\r\n"}
            for i in range(1, 4)
        ]
    },
    "a pdf": {"attachments": [{"filename": "intyg.pdf", "content_type": "application/pdf", "data": bytes(range(256)) * 10}]},
    "no final newline": {"body_text": "no newline at end", "body_html": "<p>x</p>"},
    "long lines near the limit": {"body_text": "å" * 990 + "\n", "body_html": "x" * 990},
}


@pytest.mark.parametrize("change", list(CASES.values()), ids=list(CASES))
def test_written_bytes_are_the_generators_bytes(app, monkeypatch, change):
    parts = m.MessageParts(**{**BASE, **change})
    boundaries = [uuid.UUID(int=random.getrandbits(128)) for _ in range(2)]
    monkeypatch.setattr(m.uuid, "uuid4", iter(boundaries).__next__)
    generated = m.generated_bytes(parts)
    monkeypatch.setattr(m.uuid, "uuid4", iter(boundaries).__next__)
    assert m.wire_bytes(parts) == generated


def test_extra_headers_and_quoted_printable_bodies(app, monkeypatch):
    headers = {"List-Unsubscribe": "<https://kvarn.test/u/" + "t" * 80 + ">", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    parts = m.MessageParts(**BASE)
    boundaries = [uuid.UUID(int=random.getrandbits(128)) for _ in range(2)]
    monkeypatch.setattr(m.uuid, "uuid4", iter(boundaries).__next__)
    generated = m.generated_bytes(parts, headers)
    monkeypatch.setattr(m.uuid, "uuid4", iter(boundaries).__next__)
    assert m.wire_bytes(parts, headers) == generated
    # A line too long for 8bit goes quoted-printable, through the generator itself.
    monkeypatch.undo()
    long = m.MessageParts(**{**BASE, "body_text": "ord " * 300})
    assert b"quoted-printable" in m.wire_bytes(long)
