"""Turning a queued message's parts into the bytes that go over SMTP (Flask-Mail).

``wire_bytes`` runs when a message is queued (``app.outbox``), so the outbox holds
the finished RFC 5322 message and every delivery attempt sends exactly the same
bytes: the same Message-ID, Date and MIME boundaries. The worker (``app.delivery``)
only builds a message here itself for a row that has no stored bytes.
"""

from __future__ import annotations

import email.utils
import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.charset import BASE64, QP, Charset
from email.generator import NLCRE, BytesGenerator
from email.header import Header
from io import BytesIO

import flask_mail
from flask_mail import Message

from .models import OutboxMessage


@dataclass(frozen=True)
class MessageParts:
    """What a message is built from (an ``OutboxMessage`` row has the same attributes)."""

    recipient: str
    sender: str
    reply_to: str | None
    subject: str
    body_text: str
    body_html: str
    attachments: list
    message_id: str
    locale: str
    created_at: datetime


class _WirePolicy(policy.Compat32):
    """Writes Flask-Mail's already encoded headers as they are, with CRLF.

    Flask-Mail renders with ``email.policy.SMTP``, which re-parses every header
    through the header registry, and compat32 re-encodes every header through
    ``email.header.Header``: either costs milliseconds a message, more than the
    SMTP exchange itself. ASCII headers (all of ours: Flask-Mail has already
    RFC 2047-encoded and folded the others) are written as they are; anything
    else takes the standard compat32 path.
    """

    def fold_binary(self, name: str, value) -> bytes:
        if isinstance(value, str) and value.isascii():
            if "\n" not in value and "\r" not in value and len(name) + len(value) < 996:
                return f"{name}: {value}{self.linesep}".encode("ascii")  # the usual case
            lines = value.splitlines() or [""]
            # RFC 5322 allows 998 characters a line; Flask-Mail folds encoded words at 76.
            if len(name) + 2 + len(lines[0]) <= 998 and all(
                len(line) <= 998 and line[:1] in (" ", "\t") for line in lines[1:]
            ):
                return f"{name}: {self.linesep.join(lines)}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


_WIRE_POLICY = _WirePolicy(linesep="\r\n")

# Two costs of Flask-Mail's Message that Kvarn does not need to pay per message:
# it parses and RFC 2047-encodes the same sender addresses again for every message
# (five calls a message, a tenth of its CPU; the function is pure, so it is cached),
# and its constructor makes a Message-ID with socket.getfqdn(), a DNS lookup per
# message, which Kvarn replaces at once with the one stored at queue time.
flask_mail.sanitize_address = functools.lru_cache(maxsize=1024)(flask_mail.sanitize_address)
flask_mail.make_msgid = functools.partial(email.utils.make_msgid, domain="kvarn.invalid")

_BASE64_UTF8 = Charset("utf-8")
_BASE64_UTF8.header_encoding = BASE64


def _encoded_subject(subject: str) -> str:
    """The subject as RFC 2047 words, so Flask-Mail need not try two encodings per message."""
    if subject.isascii():
        return subject
    return Header(subject, _BASE64_UTF8, header_name="Subject").encode(linesep="\r\n")


class _WireGenerator(BytesGenerator):
    def _write_lines(self, lines: str) -> None:
        # The same bytes as the standard generator, written at once, not line by line.
        if lines:
            self.write(self._NL.join(NLCRE.split(lines)))


_QP_UTF8 = Charset("utf-8")
_QP_UTF8.body_encoding = QP


class _Message(Message):
    #: Finished bytes (stored at queue time); when set, Flask-Mail sends these as they are.
    wire: bytes | None = None

    def as_bytes(self) -> bytes:
        if self.wire is not None:
            return self.wire
        mime = self._message()
        mime.policy = _WIRE_POLICY
        for part in mime.walk():
            if part.is_multipart():
                # A random boundary of our own: the generator would otherwise compile a
                # regular expression per part to check its own random boundary.
                part.set_boundary(f"=_kvarn_{uuid.uuid4().hex}")
            elif part["Content-Transfer-Encoding"] == "8bit" and any(
                len(line) > 990 for line in part.get_payload().splitlines()
            ):
                # SMTP allows 998 bytes a line: a long paragraph (an organiser's message)
                # goes quoted-printable instead of 8bit, which Flask-Mail always uses.
                text = part.get_payload(decode=True).decode("utf-8")
                del part["Content-Transfer-Encoding"]
                part.set_payload(text, _QP_UTF8)
        buffer = BytesIO()
        _WireGenerator(buffer, policy=_WIRE_POLICY).flatten(mime)
        return buffer.getvalue()


def build(message: MessageParts | OutboxMessage) -> Message:
    """The Flask-Mail message, with the Message-ID and Date fixed at queue time."""
    mail_message = _Message(
        subject=_encoded_subject(message.subject),
        recipients=[message.recipient],
        body=message.body_text,
        html=message.body_html,
        sender=message.sender,
        reply_to=message.reply_to,
        date=message.created_at.timestamp(),
        extra_headers={
            "Content-Language": message.locale,
            # RFC 3834: no vacation auto-replies to a machine's mail.
            "Auto-Submitted": "auto-generated",
        },
    )
    mail_message.msgId = message.message_id
    for attachment in message.attachments:
        data = attachment["data"]
        mail_message.attach(
            filename=attachment["filename"],
            content_type=attachment["content_type"],
            # Bytes: Flask-Mail would mangle non-ASCII text in an attachment.
            data=data.encode("utf-8") if isinstance(data, str) else data,
        )
    return mail_message


def wire_bytes(message: MessageParts | OutboxMessage) -> bytes:
    """The finished message as it goes over SMTP (CRLF line ends)."""
    return build(message).as_bytes()


def prebuilt(recipient: str, sender: str, wire: bytes) -> Message:
    """A Flask-Mail message that sends ``wire`` as it is (the envelope from the row)."""
    message = _Message(recipients=[recipient], sender=sender)
    message.wire = wire
    return message
