"""Rounds of mail to an event's participants: reminders and the organiser's own messages.

This module owns what a round is and how it reaches people:

- the audiences: "with a seat" (confirmed or checked in, not marked absent), "waiting"
  (on the waiting list) and "interested" (gauging);
- a round (``models.MessageRound``) records who sent what to whom and when, and how many
  mails it queued. Each person's mail of a round has the dedupe key
  ``<mail kind>:<registration>:<label>``, so a person gets a round's mail once;
- a round is named by the label the sending form carries (its one-time key): the same
  form sent again (a double click, a reload) finds its round and queues nothing;
- a round to thousands of people is queued in one transaction without rendering the
  templates per person (``mail.stencil``: once per language, then the name and the
  personal link are filled in) and without an ORM object per mail;
- each round's progress: its mails by outbox status.

Free-text messages (``send_message``) live here; reminders (their own text, the
second-round-within-a-day rule, the scheduled round) in ``reminders``. The organiser's
text is plain text: control characters are normalised (``core.text.multi_line``), line
breaks kept, and the HTML part escapes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from ..audit import entries as audit
from ..core import clock
from ..core.database import write_transaction
from ..core.errors import NotFound, Refused
from ..core.extensions import db
from ..core.text import multi_line, one_line
from ..mail import outbox
from ..mail.stencil import Stencil
from ..models import Event, MessageRound, OutboxMessage, Registration, RegistrationStatus
from . import notices
from .locking import lock_event

S = RegistrationStatus

#: The kinds of round, and the mail template (outbox kind) of each.
REMINDER = "reminder"
MESSAGE = "message"
MAIL_KIND = {REMINDER: "reminder", MESSAGE: "participant_message"}

SEATED = "seated"
WAITING = "waiting"
INTERESTED = "interested"
#: Who is in each audience. "With a seat" leaves out people marked absent (no-show).
AUDIENCES: dict[str, tuple[RegistrationStatus, ...]] = {
    SEATED: (S.CONFIRMED, S.ATTENDED),
    WAITING: (S.WAITLISTED,),
    INTERESTED: (S.INTERESTED,),
}
AUDIENCE_LABELS = {
    SEATED: _l("Everyone with a seat"),
    WAITING: _l("Everyone on the waiting list"),
    INTERESTED: _l("Everyone who has shown interest"),
}
#: The line in a message that says why this person gets it (in the recipient's language).
REASONS = {
    SEATED: _l("You get this message because you have a seat at this event."),
    WAITING: _l("You get this message because you are on the waiting list for this event."),
    INTERESTED: _l("You get this message because you have shown interest in this event."),
}

SUBJECT_MAX = 200
BODY_MAX = 5000
NOTE_MAX = 2000
#: The personal values of a round's mail; everything else is the same for everyone.
PERSONAL = ("name", "manage_token")
#: The made-up person of every preview (never a real one: the mail holds the secret link).
SAMPLE = {"name": "Anna Andersson", "manage_token": "example-link"}


@dataclass(frozen=True)
class Person:
    """One recipient: only what a round's mail needs of the registration."""

    id: int
    name: str
    email: str
    locale: str
    manage_token: str


@dataclass(frozen=True)
class Progress:
    """A round's mails by outbox status."""

    pending: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.pending + self.sending + self.sent + self.failed

    @property
    def done(self) -> int:
        return self.sent + self.failed

    @property
    def waiting(self) -> int:
        return self.pending + self.sending

    @property
    def finished(self) -> bool:
        return self.total > 0 and self.done == self.total

    def as_dict(self) -> dict:
        return {
            "pending": self.pending,
            "sending": self.sending,
            "sent": self.sent,
            "failed": self.failed,
            "total": self.total,
            "done": self.done,
            "finished": self.finished,
        }


@dataclass(frozen=True)
class Sent:
    """What sending a round did: ``again`` when the form had been sent before (nothing
    was queued now; ``queued`` is what the round queued then)."""

    round_id: int
    label: str
    queued: int
    again: bool = False


@dataclass(frozen=True)
class Draft:
    """A free-text message as the organiser wrote it."""

    audience: str
    subject: str
    body: str


# --- who ---------------------------------------------------------------------------------


def audience_counts(event_id: int) -> dict[str, int]:
    """How many people each audience of the event holds now."""
    rows = db.session.execute(
        sa.select(Registration.status, sa.func.count())
        .where(Registration.event_id == event_id)
        .group_by(Registration.status)
    )
    by_status = {S(status): count for status, count in rows}
    return {
        audience: sum(by_status.get(status, 0) for status in statuses)
        for audience, statuses in AUDIENCES.items()
    }


def recipients(
    event_id: int, audience: str, changed_before: datetime | None = None
) -> list[Person]:
    """The audience's people in the order they registered (only those whose status has
    not changed since ``changed_before``, when given)."""
    query = (
        sa.select(
            Registration.id,
            Registration.name,
            Registration.email,
            Registration.locale,
            Registration.manage_token,
        )
        .where(
            Registration.event_id == event_id,
            Registration.status.in_(list(AUDIENCES[audience])),
        )
        .order_by(Registration.created_at, Registration.id)
    )
    if changed_before is not None:
        query = query.where(Registration.status_changed_at <= changed_before)
    return [Person(*row) for row in db.session.execute(query)]


# --- rounds ------------------------------------------------------------------------------


def round_key(kind: str, registration_id: int, label: str) -> str:
    """The dedupe key of one person's mail of a round."""
    return f"{MAIL_KIND[kind]}:{registration_id}:{label}"


def find_round(event_id: int, kind: str, label: str) -> MessageRound | None:
    return db.session.scalar(
        sa.select(MessageRound).where(
            MessageRound.event_id == event_id,
            MessageRound.kind == kind,
            MessageRound.label == label,
        )
    )


def rounds_of(event_id: int, kind: str) -> list[MessageRound]:
    """The event's rounds of ``kind``, newest first, with who sent them."""
    return list(
        db.session.scalars(
            sa.select(MessageRound)
            .where(MessageRound.event_id == event_id, MessageRound.kind == kind)
            .order_by(MessageRound.created_at.desc(), MessageRound.id.desc())
            .options(selectinload(MessageRound.created_by))
        )
    )


def latest_round_since(event_id: int, kind: str, since: datetime) -> MessageRound | None:
    """The newest round of ``kind`` that reached someone after ``since``."""
    return db.session.scalar(
        sa.select(MessageRound)
        .where(
            MessageRound.event_id == event_id,
            MessageRound.kind == kind,
            MessageRound.created_at >= since,
            MessageRound.queued > 0,
        )
        .order_by(MessageRound.created_at.desc(), MessageRound.id.desc())
        .limit(1)
    )


def progress(event_id: int, kind: str, labels: Iterable[str]) -> dict[str, Progress]:
    """Each round's mails (by label) by outbox status, counted in the database."""
    result = {}
    for label in labels:
        rows = db.session.execute(
            sa.select(OutboxMessage.status, sa.func.count())
            .where(
                OutboxMessage.event_id == event_id,
                OutboxMessage.kind == MAIL_KIND[kind],
                OutboxMessage.dedupe_key.endswith(f":{label}", autoescape=True),
            )
            .group_by(OutboxMessage.status)
        )
        result[label] = Progress(**{status.value: count for status, count in rows})
    return result


def paragraphs(text: str) -> list[list[str]]:
    """The organiser's text for the HTML part: paragraphs at blank lines, each a list of
    its lines (the template escapes each and joins them with line breaks)."""
    return [block.split("\n") for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]


def text_context(text: str) -> dict:
    """The template data of the organiser's own text (a reminder's or a message's)."""
    return {"organiser_text": text, "organiser_paragraphs": paragraphs(text)}


def _stand_in(event: Event, locale: str, audience: str, values: Mapping[str, str]) -> Registration:
    """A registration that is never added to the session, carrying ``values`` (a real
    person's, the sample's or the stencil's placeholders) for the templates."""
    now = clock.now()
    status = AUDIENCES[audience][0]
    person = Registration(
        id=0,
        event_id=event.id,
        name=values["name"],
        email="",
        locale=locale,
        status=status,
        created_at=now,
        status_changed_at=now,
        manage_token=values["manage_token"],
    )
    person.event = event
    if person in db.session:  # brought in by a relationship's cascade: never to be stored
        db.session.expunge(person)
    return person


def stencil(event: Event, kind: str, audience: str, locale: str, **extra) -> Stencil:
    """The round's mail in ``locale`` with placeholders for the personal values."""

    def context_with(values: Mapping[str, str]) -> dict:
        person = _stand_in(event, locale, audience, values)
        return notices.registration_context(
            person,
            calendar_method=None,
            position=None,
            calendar_files=0,
            audience=audience,
            reason=REASONS[audience],
            **extra,
        )

    with db.session.no_autoflush:
        return Stencil(MAIL_KIND[kind], locale, context_with, PERSONAL)


def sample(event: Event, kind: str, audience: str, locale: str, **extra) -> tuple[str, str, str]:
    """Subject, text and HTML of the round's mail for the made-up person, exactly as a
    recipient gets it (the same stencil), queueing nothing."""
    return stencil(event, kind, audience, locale, **extra).fill(SAMPLE)


def queue_round(
    event: Event, round_: MessageRound, people: list[Person], **extra
) -> int:
    """Queue the round's mail to each of ``people`` who does not have it yet.

    Runs inside the caller's transaction, which holds the event lock (so no other
    transaction queues this round at the same time). ``extra`` goes into the template
    context of everyone alike. Returns how many were queued now.
    """
    kind, label = round_.kind, round_.label
    have = set(
        db.session.scalars(
            sa.select(OutboxMessage.dedupe_key).where(
                OutboxMessage.event_id == event.id,
                OutboxMessage.kind == MAIL_KIND[kind],
                OutboxMessage.dedupe_key.endswith(f":{label}", autoescape=True),
            )
        )
    )
    stencils: dict[str, Stencil] = {}
    reply_to = notices.reply_to_for(event)

    def messages():
        for person in people:
            key = round_key(kind, person.id, label)
            if key in have:
                continue
            have.add(key)
            made = stencils.get(person.locale)
            if made is None:
                made = stencils[person.locale] = stencil(
                    event, kind, round_.audience, person.locale, **extra
                )
            # One line each (a name stored before control characters were normalised).
            values = {"name": one_line(person.name), "manage_token": person.manage_token}
            subject, text, html = made.fill(values)
            yield outbox.Rendered(
                kind=MAIL_KIND[kind],
                recipient=person.email,
                locale=person.locale,
                dedupe_key=key,
                subject=subject,
                text=text,
                html=html,
                reply_to=reply_to,
                event_id=event.id,
                registration_id=person.id,
            )

    queued = outbox.enqueue_rendered(messages())
    round_.queued += queued
    return queued


def new_round(
    event: Event, kind: str, audience: str, label: str, user_id: int | None, subject: str = "", body: str = ""
) -> MessageRound:
    round_ = MessageRound(
        event_id=event.id,
        kind=kind,
        audience=audience,
        label=label,
        subject=subject,
        body=body,
        created_by_id=user_id,
        created_at=clock.now(),
        queued=0,
    )
    db.session.add(round_)
    db.session.flush()
    return round_


# --- free-text messages --------------------------------------------------------------------


def message_label(key: str) -> str:
    """The label of the round a message form (with its one-time ``key``) sends."""
    return f"m-{key[:16]}"


def clean(draft: Draft) -> Draft:
    """The draft as it will be stored and sent: control characters gone (``core.text``),
    the subject on one line, line breaks of the text kept."""
    return Draft(draft.audience, one_line(draft.subject or ""), multi_line(draft.body or ""))


def _check(draft: Draft) -> None:
    if draft.audience not in AUDIENCES:
        raise Refused(_l("Choose who gets the message."), field="audience")
    if not draft.subject:
        raise Refused(_l("Write a subject."), field="subject")
    if len(draft.subject) > SUBJECT_MAX:
        raise Refused(_l("Use at most %(max)d characters.", max=SUBJECT_MAX), field="subject")
    if not draft.body:
        raise Refused(_l("Write the message."), field="body")
    if len(draft.body) > BODY_MAX:
        raise Refused(_l("Use at most %(max)d characters.", max=BODY_MAX), field="body")


def message_context(draft: Draft) -> dict:
    return {"subject": draft.subject, **text_context(draft.body)}


def preview_message(event_id: int, draft: Draft, locale: str) -> tuple[str, str, str]:
    """Subject, text and HTML of the message for the made-up person; queues nothing."""
    draft = clean(draft)
    _check(draft)
    event = db.session.get(Event, event_id)
    if event is None:
        raise NotFound()
    return sample(event, MESSAGE, draft.audience, locale, **message_context(draft))


def send_message(event_id: int, user_id: int | None, key: str, draft: Draft) -> Sent:
    """Queue the message to everyone in its audience, once, in one transaction.

    ``key`` is the sending form's one-time key: the same form sent again finds the round
    it made and queues nothing (``Sent.again``). Refuses an empty or too long draft and
    an audience with nobody in it. Writes the audit entry "event.message".
    """
    draft = clean(draft)
    _check(draft)
    label = message_label(key)

    def work() -> Sent:
        event = lock_event(event_id)
        earlier = find_round(event.id, MESSAGE, label)
        if earlier is not None:
            return Sent(earlier.id, label, earlier.queued, again=True)
        people = recipients(event.id, draft.audience)
        if not people:
            raise Refused(_l("Nobody is in that group right now."), field="audience")
        round_ = new_round(
            event, MESSAGE, draft.audience, label, user_id, subject=draft.subject, body=draft.body
        )
        queued = queue_round(event, round_, people, **message_context(draft))
        audit.record(
            user_id,
            "event.message",
            event,
            {"round": round_.id, "audience": draft.audience, "subject": draft.subject, "queued": queued},
        )
        return Sent(round_.id, label, queued)

    return write_transaction(work)
