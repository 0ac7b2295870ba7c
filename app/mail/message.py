"""Turning a queued message's parts into the bytes that go over SMTP.

``wire_bytes`` runs when a message is queued (``mail.outbox``), so the outbox holds
the finished RFC 5322 message and every delivery attempt sends exactly the same
bytes: the same Message-ID, Date and MIME boundaries. It is built with the standard
library's ``email`` package (no library is patched); the worker (``mail.delivery``)
hands the stored bytes to Flask-Mail's connection through ``StoredMessage``.

The layout is the usual one: text and HTML as ``multipart/alternative``, wrapped in
``multipart/mixed`` with the attachments (calendar files, a PDF) when there are any.
"""

from __future__ import annotations

import base64
import functools
import re
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


_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


def is_plain_address(address: str) -> bool:
    """A bare ``local@domain`` of plain ASCII characters: what ``parseaddr`` and
    ``formataddr`` (and Flask-Mail's ``sanitize_address``) give back unchanged."""
    return _PLAIN_ADDRESS.fullmatch(address) is not None


def encoded_address(address: str) -> str:
    """``Name <local@domain>`` with a non-ASCII name as RFC 2047 words; a plain address
    (most recipients) is written as it is."""
    if is_plain_address(address):
        return address
    return _encoded_address(address)


@functools.lru_cache(maxsize=1024)
def _encoded_address(address: str) -> str:
    # Cached: the sender and reply-to addresses repeat on every message.
    name, email_address = parseaddr(address)
    if not email_address or any(c in address for c in "\r\n"):
        raise ValueError(f"not a usable address: {address!r}")
    local, at, domain = email_address.rpartition("@")
    if at and not domain.isascii():
        # A domain such as räksmörgås.se goes as IDNA (xn--…), as Flask-Mail's envelope
        # has it; a local part beyond ASCII would need SMTPUTF8 and stays refused.
        email_address = f"{local}@{domain.encode('idna').decode('ascii')}"
    return formataddr((name, email_address), charset="utf-8")


@functools.lru_cache(maxsize=1024)
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


def stored_attachment(attachment: dict) -> dict:
    """An attachment as the outbox's JSON column keeps it: text data as it is (calendar
    files), binary data (a PDF) as base64 text marked ``"encoding": "base64"``."""
    data = attachment["data"]
    if isinstance(data, bytes | bytearray):
        return {
            **attachment,
            "data": base64.b64encode(bytes(data)).decode("ascii"),
            "encoding": "base64",
        }
    return attachment


def attachment_bytes(attachment: dict) -> bytes:
    """The bytes of a stored attachment (text as UTF-8, base64 decoded)."""
    data = attachment["data"]
    if attachment.get("encoding") == "base64":
        return base64.b64decode(data)
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def _attachment_part(attachment: dict) -> MIMEBase:
    maintype, _, rest = attachment["content_type"].partition("/")
    subtype, *raw_params = (piece.strip() for piece in rest.split(";"))
    params = dict(p.split("=", 1) for p in raw_params if "=" in p)
    part = MIMEBase(maintype, subtype, **params)
    part.set_payload(attachment_bytes(attachment))
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
    """The finished message as it goes over SMTP (CRLF line ends).

    Written directly (``_written``) when every body line fits 8bit transfer, which is what
    the standard library's generator would write for that message, byte for byte
    (tests/test_message_bytes.py compares them), without building its object tree; else
    (quoted-printable bodies) by the generator itself.
    """
    if _fits_8bit(message.body_text) and _fits_8bit(message.body_html):
        return _written(message, check_headers(headers))
    return generated_bytes(message, headers)


def generated_bytes(message: MessageParts, headers: dict[str, str] | None = None) -> bytes:
    """The finished message written by the standard library's generator from ``build``."""
    buffer = BytesIO()
    BytesGenerator(buffer, policy=_WIRE_POLICY).flatten(build(message, headers))
    return buffer.getvalue()


def _fits_8bit(text: str) -> bool:
    if "\r" in text:
        return False
    return len(text) <= _LONGEST_8BIT_LINE or max(map(len, text.split("\n"))) <= _LONGEST_8BIT_LINE


_CRLF = "\r\n"


def _header(name: str, value: str) -> str:
    """One header line as the generator folds it (a short ASCII line stays as it is)."""
    if len(name) + 2 + len(value) <= 78 and value.isascii() and "\n" not in value:
        return f"{name}: {value}\r\n"
    return _folded(name, value)


@functools.lru_cache(maxsize=1024)
def _folded(name: str, value: str) -> str:
    # Cached: the folded lines that repeat (a subject, a content type with its parameters
    # but the boundary) are folded once; a line folds the same every time.
    return _WIRE_POLICY.fold(name, value)


def _lines(text: str) -> str:
    """A body as the generator writes it: CRLF line ends, "From " lines quoted (mbox)."""
    if not text.startswith("From ") and "\nFrom " not in text:
        return text.replace("\n", _CRLF)
    lines = text.split("\n")
    return _CRLF.join(">" + line if line.startswith("From ") else line for line in lines)


def _text_written(text: str, subtype: str) -> str:
    encoding = "7bit" if text.isascii() else "8bit"
    return (
        _header("Content-Type", f'text/{subtype}; charset="utf-8"')
        + "MIME-Version: 1.0\r\n"
        + f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
        + _lines(text)
    )


def _attachment_written(attachment: dict) -> str:
    maintype, _, rest = attachment["content_type"].partition("/")
    subtype, *raw_params = (piece.strip() for piece in rest.split(";"))
    params = "".join(
        f'; {key}="{value}"' for key, value in (p.split("=", 1) for p in raw_params if "=" in p)
    )
    data = base64.encodebytes(attachment_bytes(attachment)).decode("ascii")
    return (
        _header("Content-Type", f"{maintype}/{subtype}{params}")
        + "MIME-Version: 1.0\r\n"
        + "Content-Transfer-Encoding: base64\r\n"
        + _header("Content-Disposition", f'attachment; filename="{attachment["filename"]}"')
        + _CRLF
        + data.replace("\n", _CRLF)
    )


#: A boundary's shape: a fixed prefix and 32 hex digits, so every boundary folds alike.
_BOUNDARY_SHAPE = "=_kvarn_" + "0" * 32


def _multipart(subtype: str, parts: list[str]) -> tuple[str, str]:
    boundary = f"=_kvarn_{uuid.uuid4().hex}"
    # Folded once for the boundary's shape (hex digits give the folding nowhere to break).
    shape = _header("Content-Type", f'multipart/{subtype}; boundary="{_BOUNDARY_SHAPE}"')
    head = shape.replace(_BOUNDARY_SHAPE, boundary)
    head += "MIME-Version: 1.0\r\n"
    body = _CRLF + f"--{boundary}" + _CRLF
    body += (_CRLF + f"--{boundary}" + _CRLF).join(parts)
    body += _CRLF + f"--{boundary}--" + _CRLF
    return head, body


def _written(message: MessageParts, extra: list[tuple[str, str]]) -> bytes:
    """The message as ``generated_bytes`` writes it, by string formatting (see there)."""
    if message.body_html:
        parts = [_text_written(message.body_text, "plain"), _text_written(message.body_html, "html")]
        head, body = _multipart("alternative", parts)
    else:
        text = _text_written(message.body_text, "plain")
        head, _, rest = text.partition("\r\n\r\n")
        head, body = head + _CRLF, _CRLF + rest
    if message.attachments:
        inner = head + body
        parts = [inner, *(_attachment_written(a) for a in message.attachments)]
        head, body = _multipart("mixed", parts)
    headers = [
        ("Subject", encoded_subject(message.subject)),
        ("From", encoded_address(message.sender)),
        ("To", encoded_address(message.recipient)),
        ("Date", format_datetime(message.created_at.replace(microsecond=0))),
        ("Message-ID", message.message_id),
    ]
    if message.reply_to:
        headers.append(("Reply-To", encoded_address(message.reply_to)))
    headers += [("Content-Language", message.locale), ("Auto-Submitted", "auto-generated")]
    written = head + "".join(_header(name, value) for name, value in headers)
    written += "".join(f"{name}: {value}{_CRLF}" for name, value in extra)
    return (written + body).encode("utf-8")


class StoredMessage(Message):
    """A Flask-Mail message that sends bytes finished earlier, as they are.

    Its fields are set here rather than by ``Message.__init__``, which makes a new
    Message-ID (a host name lookup, for every message) that the stored bytes do not use:
    ``msgId`` is the one in them."""

    def __init__(self, recipient: str, sender: str, wire: bytes, message_id: str) -> None:
        self.recipients = [recipient]
        self.subject = ""
        self.sender = sender
        self.reply_to = None
        self.cc, self.bcc = [], []
        self.alts = {}  # before ``html``, a property of Flask-Mail's kept in ``alts``
        self.body = self.html = None
        self.date = None
        self.msgId = message_id
        self.charset = None
        self.extra_headers = None
        self.mail_options, self.rcpt_options = [], []
        self.attachments = []
        self.wire = wire

    def as_bytes(self) -> bytes:
        return self.wire
