"""Turning a queued message's parts into the bytes that go over SMTP.

``wire_bytes`` runs when a message is queued (``mail.outbox``), so the outbox holds
the finished RFC 5322 message and every delivery attempt sends exactly the same
bytes: the same Message-ID, Date and MIME boundaries. It is built with the standard
library's ``email`` package (no library is patched); the worker (``mail.delivery``)
hands the stored bytes to Flask-Mail's connection through ``StoredMessage``.

The layout is the usual one: text and HTML as ``multipart/alternative``, wrapped in
``multipart/mixed`` with the attachments (calendar files) when there are any.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from email import encoders, policy
from email.charset import BASE64, QP, Charset
from email.generator import BytesGenerator
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, formataddr, parseaddr
from io import BytesIO

from flask_mail import Message

#: SMTP allows 998 bytes a line (RFC 5321); longer text lines go quoted-printable.
_LONGEST_8BIT_LINE = 990
_WIRE_POLICY = policy.compat32.clone(linesep="\r\n")


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


def _charset(body_encoding) -> Charset:
    charset = Charset("utf-8")
    charset.header_encoding = BASE64
    charset.body_encoding = body_encoding
    return charset


_UTF8_8BIT = _charset(None)
_UTF8_QP = _charset(QP)


@functools.lru_cache(maxsize=1024)
def encoded_address(address: str) -> str:
    """``Name <local@domain>`` with a non-ASCII name as RFC 2047 words (cached: the
    sender and reply-to addresses repeat on every message)."""
    name, email_address = parseaddr(address)
    if not email_address or any(c in address for c in "\r\n"):
        raise ValueError(f"not a usable address: {address!r}")
    return formataddr((name, email_address), charset="utf-8")


def encoded_subject(subject: str) -> str:
    """One line; RFC 2047 words when it is not plain ASCII."""
    if "\r" in subject or "\n" in subject:
        raise ValueError("a subject is one line")
    if subject.isascii():
        return subject
    return Header(subject, _UTF8_8BIT, header_name="Subject").encode(linesep="\r\n")


def _text_part(text: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    long_lines = any(len(line) > _LONGEST_8BIT_LINE for line in text.splitlines())
    part.set_payload(text, _UTF8_QP if long_lines else _UTF8_8BIT)
    return part


def _attachment_part(attachment: dict) -> MIMEBase:
    maintype, _, rest = attachment["content_type"].partition("/")
    subtype, *raw_params = (piece.strip() for piece in rest.split(";"))
    params = dict(p.split("=", 1) for p in raw_params if "=" in p)
    part = MIMEBase(maintype, subtype, **params)
    data = attachment["data"]
    part.set_payload(data.encode("utf-8") if isinstance(data, str) else data)
    encoders.encode_base64(part)
    part.add_header("Content-Disposition", "attachment", filename=attachment["filename"])
    return part


#: Headers a caller may not set through ``headers``: the message itself sets them.
_OWN_HEADERS = frozenset(
    name.lower()
    for name in (
        "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Subject", "From", "To",
        "Cc", "Bcc", "Date", "Message-ID", "Reply-To", "Content-Language", "Auto-Submitted",
    )
)


class _OneLine:
    """A header value written as given, on one line: the standard library would fold a
    long value without spaces (a URL in ``List-Unsubscribe``) onto a line of its own.
    compat32's generator takes any object with ``encode`` as a ready header."""

    def __init__(self, value: str) -> None:
        self.value = value

    def encode(self, linesep: str = "\n", maxlinelen: int | None = None) -> str:
        return self.value

    def __str__(self) -> str:
        return self.value


def _extra_header(name: str, value: str) -> tuple[str, str]:
    """One caller-given header, checked: a plain ASCII name and one ASCII line of value
    that fits SMTP's line limit."""
    if (
        not name
        or not name.isascii()
        or any(c in name for c in ": \t\r\n")
        or name.lower() in _OWN_HEADERS
    ):
        raise ValueError(f"not a header a caller may set: {name!r}")
    if not value.isascii() or "\r" in value or "\n" in value:
        raise ValueError(f"a header value is one line of ASCII: {name}")
    if len(name) + 2 + len(value) > _LONGEST_8BIT_LINE:
        raise ValueError(f"a header line is at most {_LONGEST_8BIT_LINE} characters: {name}")
    return name, value


def check_headers(headers: dict[str, str] | None) -> list[tuple[str, str]]:
    """Extra headers as (name, value) pairs; ``ValueError`` for one a caller may not set
    (a header of the message's own, not ASCII, or more than one line)."""
    return [_extra_header(name, value) for name, value in (headers or {}).items()]


def build(message: MessageParts, headers: dict[str, str] | None = None) -> MIMEBase:
    """The MIME tree of one message, headers fixed at queue time.

    ``headers``: extra headers for this message (e.g. ``List-Unsubscribe``), each one
    ASCII line; they live in the finished bytes only.
    """
    extra = check_headers(headers)
    body: MIMEBase
    if message.body_html:
        body = MIMEMultipart("alternative", boundary=f"=_kvarn_{uuid.uuid4().hex}")
        body.attach(_text_part(message.body_text, "plain"))
        body.attach(_text_part(message.body_html, "html"))
    else:
        body = _text_part(message.body_text, "plain")
    if message.attachments:
        root = MIMEMultipart("mixed", boundary=f"=_kvarn_{uuid.uuid4().hex}")
        root.attach(body)
        for attachment in message.attachments:
            root.attach(_attachment_part(attachment))
    else:
        root = body
    if "MIME-Version" not in root:
        root["MIME-Version"] = "1.0"
    root["Subject"] = encoded_subject(message.subject)
    root["From"] = encoded_address(message.sender)
    root["To"] = encoded_address(message.recipient)
    root["Date"] = format_datetime(message.created_at.replace(microsecond=0))
    root["Message-ID"] = message.message_id
    if message.reply_to:
        root["Reply-To"] = encoded_address(message.reply_to)
    root["Content-Language"] = message.locale
    root["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    for name, value in extra:
        root[name] = _OneLine(value)
    return root


def wire_bytes(message: MessageParts, headers: dict[str, str] | None = None) -> bytes:
    """The finished message as it goes over SMTP (CRLF line ends)."""
    buffer = BytesIO()
    BytesGenerator(buffer, policy=_WIRE_POLICY).flatten(build(message, headers))
    return buffer.getvalue()


class StoredMessage(Message):
    """A Flask-Mail message that sends bytes finished earlier, as they are."""

    def __init__(self, recipient: str, sender: str, wire: bytes) -> None:
        super().__init__(recipients=[recipient], sender=sender)
        self.wire = wire

    def as_bytes(self) -> bytes:
        return self.wire
