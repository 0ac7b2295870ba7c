"""The domain: organisations, staff, events with sessions, registrations, outbox, audit.

Imports no service. Statuses of registrations are changed only by
``registrations.seats``; which status allows what is ``registrations.statuses``.
"""

from __future__ import annotations

import enum
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .core import clock
from .core.extensions import db


class UTCDateTime(sa.types.TypeDecorator):
    """Aware datetimes in Python, naive UTC with microseconds in every database."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class EventKind(enum.StrEnum):
    COURSE = "course"
    LECTURE = "lecture"
    MEETING = "meeting"
    CONFERENCE = "conference"


class EventStatus(enum.StrEnum):
    DRAFT = "draft"
    GAUGING = "gauging"
    OPEN = "open"
    CLOSED = "closed"
    FINISHED = "finished"
    CANCELLED = "cancelled"


class RegistrationStatus(enum.StrEnum):
    INTERESTED = "interested"
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"
    ATTENDED = "attended"
    NO_SHOW = "no_show"


class Role(enum.StrEnum):
    ADMIN = "admin"
    ORGANISER = "organiser"
    COORDINATOR = "coordinator"


def _enum(enum_cls, length=20):
    return sa.Enum(
        enum_cls,
        native_enum=False,
        length=length,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


def new_token() -> str:
    return secrets.token_urlsafe(32)


#: The password hash of an invited user who has not chosen a password: matches nothing.
NO_PASSWORD = "!"


def exact_string(length: int) -> sa.types.TypeEngine:
    """A string compared exactly on every database: MariaDB's default collation ignores
    case and accents, so tokens and email addresses use its binary collation there."""
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


class Organisation(db.Model):
    __tablename__ = "organisation"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    def __repr__(self) -> str:
        return f"<Organisation {self.name}>"


class User(UserMixin, db.Model):
    __tablename__ = "user"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(exact_string(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    # An invited user has no usable password until they follow the invitation link.
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(_enum(Role))
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisation.id"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    # Part of every session's identity (get_id): a new value ends every session at once.
    session_secret: Mapped[str] = mapped_column(sa.String(64), default=new_token)
    # Two-step log-in (TOTP): the shared secret once confirmed, the last time step used
    # (a code works once), and the hashes of the unused recovery codes.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    recovery_code_hashes: Mapped[list | None] = mapped_column(sa.JSON, default=list)

    organisation: Mapped[Organisation | None] = relationship()

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        if self.password_hash == NO_PASSWORD:
            return False
        return check_password_hash(self.password_hash, password)

    def end_sessions(self) -> None:
        """Every session and remember-me cookie of this user stops working."""
        self.session_secret = new_token()

    def get_id(self) -> str:  # Flask-Login: the session names the user and its secret
        return f"{self.id}:{self.session_secret}"

    @property
    def invited(self) -> bool:
        """Created by an admin; has not chosen a password yet."""
        return self.password_hash == NO_PASSWORD

    @property
    def two_step_enabled(self) -> bool:
        return bool(self.totp_secret)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active


class Event(db.Model):
    __tablename__ = "event"
    __table_args__ = (
        # The upcoming events are one range of it (span_end > now), in the listing, the
        # feeds and the dashboard, however many past events there are; it covers their
        # counts (events.spans).
        sa.Index("ix_event_span", "span_end", "span_start", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[EventKind] = mapped_column(_enum(EventKind))
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    what_to_bring: Mapped[str] = mapped_column(sa.Text, default="")
    language: Mapped[str] = mapped_column(sa.String(5), default="sv")
    status: Mapped[EventStatus] = mapped_column(_enum(EventStatus), default=EventStatus.DRAFT)
    capacity: Mapped[int] = mapped_column(default=0)
    waitlist_enabled: Mapped[bool] = mapped_column(default=True)
    registration_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    registration_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    organiser_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    contact_email: Mapped[str | None] = mapped_column(sa.String(254))
    # Who arranges it (shown on the page and in mail), for whom, and what it costs
    # (None or 0: free of charge).
    organising_organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisation.id"))
    audience: Mapped[str] = mapped_column(sa.String(300), default="")
    fee_sek: Mapped[int | None] = mapped_column()
    # The organiser's words when the event was cancelled, shown on its page.
    cancel_message: Mapped[str] = mapped_column(sa.Text, default="")
    # Raised whenever time or venue changes: calendar clients replace the old entry.
    ics_sequence: Mapped[int] = mapped_column(default=0)
    # The most people one team sign-up may hold (the person signing up included).
    max_team_size: Mapped[int] = mapped_column(default=8)
    # The share of the sessions a person must have attended for a certificate of
    # attendance (0.80: four sessions of five); None: the event gives no certificates
    # (evaluations.certificates owns the rule).
    certificate_share: Mapped[float | None] = mapped_column(
        sa.Numeric(3, 2, asdecimal=False), default=0.8
    )
    # When the event first became public (published or gauging interest); None for a draft
    # or an event made public before Kvarn recorded it. Digests announce what is newer
    # than a subscriber's confirmation (subscriptions.digests).
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Gauging interest (evening lectures).
    interest_threshold: Mapped[int | None] = mapped_column()
    interest_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notify_coordinators_on_threshold: Mapped[bool] = mapped_column(default=True)
    threshold_reached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deadline_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the retention rules removed the personal data of its registrations, after its
    # archive record was written (``privacy.purge``); None while they are kept.
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The first start and the last end of its sessions (None without sessions), stored for
    # filtering and ordering in SQL; written only by events.spans on every flush.
    span_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    span_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)

    organiser: Mapped[User | None] = relationship()
    organising_organisation: Mapped[Organisation | None] = relationship()
    sessions: Mapped[list[EventSession]] = relationship(
        back_populates="event",
        order_by="EventSession.starts_at",
        cascade="all, delete-orphan",
    )

    @property
    def starts_at(self) -> datetime | None:
        return self.sessions[0].starts_at if self.sessions else None

    @property
    def ends_at(self) -> datetime | None:
        return max(s.ends_at for s in self.sessions) if self.sessions else None

    def phase(self, at: datetime | None = None) -> EventStatus:
        """The status as the public sees it now: open events close and finish by time."""
        at = at or clock.now()
        if self.status in (EventStatus.OPEN, EventStatus.CLOSED):
            if self.ends_at and self.ends_at <= at:
                return EventStatus.FINISHED
            if self.status == EventStatus.OPEN and (
                self.registration_closes_at and self.registration_closes_at <= at
            ):
                return EventStatus.CLOSED
        return self.status

    def registration_not_yet_open(self, at: datetime | None = None) -> bool:
        at = at or clock.now()
        return bool(self.registration_opens_at and self.registration_opens_at > at)

    @property
    def is_public(self) -> bool:
        return self.status != EventStatus.DRAFT


class EventSession(db.Model):
    __tablename__ = "event_session"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("event.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # None means "to be decided".
    venue: Mapped[str | None] = mapped_column(sa.String(300))
    # The street address of the venue, for directions and a map link.
    address: Mapped[str | None] = mapped_column(sa.String(300))

    event: Mapped[Event] = relationship(back_populates="sessions")


class Registration(db.Model):
    __tablename__ = "registration"
    __table_args__ = (
        # At most one active registration per (event, email): active_email is the
        # email while active and NULL once cancelled (NULLs never collide).
        sa.UniqueConstraint("event_id", "active_email", name="uq_registration_event_active_email"),
        # The waiting line and the lists in team order (``reads.in_team_order``) read
        # only this index.
        sa.Index(
            "ix_registration_event_status_order_team",
            "event_id", "status", "created_at", "id", "team_id",
        ),
        # Covers the dashboard's GROUP BY event, organisation (reporting.figures) and its team
        # counts (registrations.reads.team_counts_for): no table reads.
        sa.Index(
            "ix_registration_event_org_status_team", "event_id", "organisation_id", "status", "team_id"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("event.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(120))
    email: Mapped[str] = mapped_column(exact_string(254))
    active_email: Mapped[str | None] = mapped_column(exact_string(254))
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    work_team: Mapped[str] = mapped_column(sa.String(120), default="")
    needs: Mapped[str] = mapped_column(sa.String(1000), default="")
    locale: Mapped[str] = mapped_column(sa.String(5), default="sv")
    status: Mapped[RegistrationStatus] = mapped_column(_enum(RegistrationStatus))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    manage_token: Mapped[str] = mapped_column(exact_string(64), unique=True, default=new_token)
    # The sign-up form's one-time key: a resubmitted (double-clicked) form finds its row.
    submission_key: Mapped[str | None] = mapped_column(exact_string(64), unique=True)
    team_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("team.id", ondelete="SET NULL"), index=True
    )
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[Event] = relationship()
    organisation: Mapped[Organisation] = relationship()
    team: Mapped[Team | None] = relationship()


class Team(db.Model):
    """Colleagues signed up together by one person (the contact, who is also its first
    member). Members are ordinary registrations sharing ``team_id``. With
    ``keep_together`` all active members have seats or all wait, holding one place in the
    queue (registrations.seats owns the rule)."""

    __tablename__ = "team"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("event.id", ondelete="CASCADE"), index=True)
    keep_together: Mapped[bool] = mapped_column(default=False)
    contact_name: Mapped[str] = mapped_column(sa.String(120))
    contact_email: Mapped[str] = mapped_column(exact_string(254))
    locale: Mapped[str] = mapped_column(sa.String(5), default="sv")
    manage_token: Mapped[str] = mapped_column(exact_string(64), unique=True, default=new_token)
    # The team form's one-time key: a resubmitted (double-clicked) form finds its team.
    submission_key: Mapped[str | None] = mapped_column(exact_string(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    event: Mapped[Event] = relationship()


class SessionAttendance(db.Model):
    """One person checked in at one session of a course (the primary key: once per pair).

    A registration is ``attended`` exactly while it has at least one of these rows, and its
    ``checked_in_at`` is the earliest of them (``registrations.seats`` keeps both in step;
    ``registrations.attendance`` reads them)."""

    __tablename__ = "session_attendance"
    registration_id: Mapped[int] = mapped_column(
        sa.ForeignKey("registration.id", ondelete="CASCADE"), primary_key=True
    )
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("event_session.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The staff user who checked the person in (None once that user is deleted).
    checked_in_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))


class SubscriptionFrequency(enum.StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


class DeliveryKind(enum.StrEnum):
    DIGEST = "digest"
    ANNOUNCEMENT = "announcement"


class Subscription(db.Model):
    """Someone who wants to hear of new events by email, without an account ("bevakning").

    Held only with confirmed consent: ``confirmed_at`` is set when the link mailed to the
    address is followed (double opt-in); unconfirmed rows are deleted after a few days and
    a row is deleted at once on unsubscribing (``subscriptions.subscribing`` owns this).
    The filters are rows of ``subscription_kind`` and ``subscription_organisation``; none
    of a sort means every kind, or every organiser.
    """

    __tablename__ = "subscription"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(exact_string(254), unique=True)
    locale: Mapped[str] = mapped_column(sa.String(5), default="sv")
    frequency: Mapped[SubscriptionFrequency] = mapped_column(
        _enum(SubscriptionFrequency), default=SubscriptionFrequency.WEEKLY
    )
    # The link in the confirmation mail, and the personal link (page, unsubscribe).
    confirm_token: Mapped[str] = mapped_column(exact_string(64), unique=True, default=new_token)
    manage_token: Mapped[str] = mapped_column(exact_string(64), unique=True, default=new_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The digest period ("2026-12-01" daily, "2026-W49" weekly) a digest run last covered,
    # and when a digest was last queued (a run that finds nothing new queues none).
    digest_period: Mapped[str | None] = mapped_column(sa.String(10))
    last_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    kinds: Mapped[list[SubscriptionKind]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )
    organisations: Mapped[list[SubscriptionOrganisation]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )


class SubscriptionKind(db.Model):
    """One kind of event a subscription asks for."""

    __tablename__ = "subscription_kind"
    subscription_id: Mapped[int] = mapped_column(
        sa.ForeignKey("subscription.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[EventKind] = mapped_column(_enum(EventKind), primary_key=True)


class SubscriptionOrganisation(db.Model):
    """One arranging organisation a subscription asks for."""

    __tablename__ = "subscription_organisation"
    subscription_id: Mapped[int] = mapped_column(
        sa.ForeignKey("subscription.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True, index=True
    )

    organisation: Mapped[Organisation] = relationship()


class SubscriptionDelivery(db.Model):
    """An event that went to a subscriber, in a digest or an announcement: the primary
    key makes "each event in each digest once" and "never announced twice" hold whatever
    runs at once. Written in the transaction that queues the mail."""

    __tablename__ = "subscription_delivery"
    subscription_id: Mapped[int] = mapped_column(
        sa.ForeignKey("subscription.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[int] = mapped_column(
        sa.ForeignKey("event.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    kind: Mapped[DeliveryKind] = mapped_column(_enum(DeliveryKind), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class OutboxMessage(db.Model):
    __tablename__ = "outbox_message"
    __table_args__ = (sa.Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(exact_string(200), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    recipient: Mapped[str] = mapped_column(sa.String(254))
    sender: Mapped[str] = mapped_column(sa.String(300))
    reply_to: Mapped[str | None] = mapped_column(sa.String(300))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str] = mapped_column(sa.Text)
    # JSON list of {"filename", "content_type", "data"}: text data (e.g. .ics), or binary
    # data (a PDF) as base64 with "encoding": "base64" (mail.message.stored_attachment).
    attachments: Mapped[list] = mapped_column(sa.JSON, default=list)
    message_id: Mapped[str] = mapped_column(sa.String(300))
    locale: Mapped[str] = mapped_column(sa.String(5), default="sv")
    # The finished RFC 5322 message (mail.message), built when queued so that every attempt
    # sends the same bytes; cleared once sent. MEDIUMBLOB on MariaDB (16 MiB).
    wire: Mapped[bytes | None] = mapped_column(
        sa.LargeBinary(2**24 - 1).with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb")
    )
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("event.id", ondelete="SET NULL"))
    registration_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("registration.id", ondelete="SET NULL")
    )
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MessageRound(db.Model):
    """One round of mail an organiser sent to an event's participants: a reminder (with
    the organiser's own text, if any) or a free-text message to one audience. Each person's
    mail of the round has the dedupe key ``<kind>:<registration>:<label>``
    (registrations.messages owns rounds)."""

    __tablename__ = "message_round"
    # Also the index of the rounds of one event (and of the foreign key on MariaDB).
    __table_args__ = (
        sa.UniqueConstraint("event_id", "kind", "label", name="uq_message_round_event_kind_label"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("event.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(20))  # "reminder" or "message"
    audience: Mapped[str] = mapped_column(sa.String(20))  # "seated", "waiting", "interested"
    # Names the round in its mail's dedupe keys; from the form's one-time key.
    label: Mapped[str] = mapped_column(exact_string(60))
    subject: Mapped[str] = mapped_column(sa.String(200), default="")
    body: Mapped[str] = mapped_column(sa.Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    queued: Mapped[int] = mapped_column(default=0)

    created_by: Mapped[User | None] = relationship()

class AuditEntry(db.Model):
    __tablename__ = "audit_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(sa.String(60), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(40))
    object_id: Mapped[int | None] = mapped_column()
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)

    user: Mapped[User | None] = relationship()


# --- evaluations and certificates (evaluations/) -----------------------------------------


class Evaluation(db.Model):
    """An event's course evaluation: its questions, editable until the first invitation
    goes out (``sent_at``), and whether it is sent at all. ``evaluations.questions``
    owns the editing, ``evaluations.invitations`` the sending."""

    __tablename__ = "evaluation"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(
        sa.ForeignKey("event.id", ondelete="CASCADE"), unique=True
    )
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    # When the first invitations were queued: the questions are fixed from then on, and
    # answers are taken for EVALUATION_ANSWER_DAYS after it.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[Event] = relationship()
    questions: Mapped[list[EvaluationQuestion]] = relationship(
        order_by="EvaluationQuestion.position", cascade="all, delete-orphan", passive_deletes=True
    )


class EvaluationQuestion(db.Model):
    """One question: a rating from 1 to 5 (``rating``) or free text (``text``)."""

    __tablename__ = "evaluation_question"
    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("evaluation.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(sa.String(10))
    text: Mapped[str] = mapped_column(sa.String(300))


class EvaluationInvitation(db.Model):
    """One person's evaluation link (the thank-you mail after the last session). It
    records only *that* it was used, never when, and no answer points back to it."""

    __tablename__ = "evaluation_invitation"
    __table_args__ = (
        sa.UniqueConstraint(
            "evaluation_id", "registration_id", name="uq_evaluation_invitation_person"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("evaluation.id", ondelete="CASCADE")
    )
    registration_id: Mapped[int] = mapped_column(
        sa.ForeignKey("registration.id", ondelete="CASCADE"), index=True
    )
    token: Mapped[str] = mapped_column(exact_string(64), unique=True, default=new_token)
    used: Mapped[bool] = mapped_column(default=False)
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    evaluation: Mapped[Evaluation] = relationship()
    registration: Mapped[Registration] = relationship()


def new_answer_id() -> str:
    """A random key: answer rows carry no order that could be matched to anything."""
    return secrets.token_hex(16)


class EvaluationAnswer(db.Model):
    """One person's answers, with no link to the person: no registration, email, token
    or time, a random key; the organisation only if the person agreed to give it."""

    __tablename__ = "evaluation_answer"
    id: Mapped[str] = mapped_column(exact_string(32), primary_key=True, default=new_answer_id)
    evaluation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("evaluation.id", ondelete="CASCADE"), index=True
    )
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisation.id", ondelete="SET NULL"), index=True
    )

    items: Mapped[list[EvaluationAnswerItem]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )


class EvaluationAnswerItem(db.Model):
    """The answer to one question: a rating (1–5) or a text."""

    __tablename__ = "evaluation_answer_item"
    answer_id: Mapped[str] = mapped_column(
        exact_string(32), sa.ForeignKey("evaluation_answer.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[int] = mapped_column(
        sa.ForeignKey("evaluation_question.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    rating: Mapped[int | None] = mapped_column()
    text: Mapped[str | None] = mapped_column(sa.Text)


class Certificate(db.Model):
    """A certificate of attendance: its verification code and what it certified when it
    was issued. Name and event are read from the registration, so a registration
    anonymised or deleted by the retention rules takes its certificate's data with it."""

    __tablename__ = "certificate"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(exact_string(16), unique=True)
    registration_id: Mapped[int] = mapped_column(
        sa.ForeignKey("registration.id", ondelete="CASCADE"), unique=True
    )
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    sessions_attended: Mapped[int] = mapped_column()
    sessions_total: Mapped[int] = mapped_column()

    registration: Mapped[Registration] = relationship()
