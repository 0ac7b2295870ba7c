"""The one place that changes registration statuses.

Every public function here runs one write transaction (``write_transaction``)
that first locks the event row (``locking.lock_event``), decides from the database,
writes, queues the mail in the outbox (``notices``) and records the audit entry,
and commits it all together. Nothing else in Kvarn assigns ``Registration.status``.

The rules (docs/architecture.md, "Rules that never break"): confirmed <= capacity;
the waitlist is served in ``(created_at, id)`` order; a newcomer gets a seat only if
one is free and nobody waits; a freed seat goes to the waitlist first.
Which statuses allow what is read from ``statuses``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from ..audit import entries as audit
from ..core import clock, text
from ..core.database import require_write_transaction, write_transaction
from ..core.errors import NotFound, Refused
from ..core.extensions import db
from ..models import Event, EventStatus, Organisation, Registration, RegistrationStatus
from . import notices
from .locking import lock_event
from .reads import count_columns
from .statuses import CANCELLABLE, SEAT_GIVING_EVENTS, SEATED, can_promote_by_hand

S = RegistrationStatus


class Outcome(enum.StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    INTERESTED = "interested"
    #: The email already has an active registration; a reminder of the link was mailed.
    ALREADY_REGISTERED = "already_registered"
    #: The same form was submitted again (double click); here is what the first one made.
    RESUBMITTED = "resubmitted"


@dataclass(frozen=True)
class SignUp:
    name: str
    email: str
    organisation_id: int
    work_team: str = ""
    needs: str = ""
    locale: str = "sv"
    submission_key: str | None = None


@dataclass(frozen=True)
class SignUpResult:
    outcome: Outcome
    #: The new (or resubmitted) registration; None when the email was already registered,
    #: since that registration belongs to whoever owns the address.
    registration: Registration | None
    #: Its manage token, read inside the transaction (no reload after the commit).
    manage_token: str | None = None


# --- reading under the lock -------------------------------------------------


def _seats_taken_and_waiting(event_id: int) -> tuple[int, int]:
    """Seated and waitlisted registrations of the event, in one statement."""
    seated, waiting = db.session.execute(_SEATED_AND_WAITING, {"event_id": event_id}).one()
    return int(seated or 0), int(waiting or 0)


def _earlier_registrations(
    event_id: int, submission_key: str | None, email: str
) -> tuple[Registration | None, Registration | None]:
    """In one statement: the registration this form already made (double click), and the
    active registration of this email for this event."""
    statement = _BY_FORM_KEY_OR_EMAIL if submission_key else _BY_EMAIL
    found = list(
        db.session.scalars(
            statement, {"event_id": event_id, "email": email, "submission_key": submission_key}
        )
    )
    by_key = next((r for r in found if submission_key and r.submission_key == submission_key), None)
    by_email = next((r for r in found if r.event_id == event_id and r.active_email == email), None)
    return by_key, by_email


def _count(event_id: int, statuses) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(Registration.id)).where(
            Registration.event_id == event_id, Registration.status.in_(list(statuses))
        )
    )


def _in_order(event_id: int, status: S, limit: int | None = None) -> list[Registration]:
    query = (
        sa.select(Registration)
        .where(Registration.event_id == event_id, Registration.status == status)
        .order_by(Registration.created_at, Registration.id)
        .execution_options(populate_existing=True)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def _set_status(registration: Registration, status: S) -> None:
    registration.status = status
    registration.status_changed_at = clock.now()
    registration.active_email = None if status == S.CANCELLED else registration.email


def _fill_free_seats(event: Event) -> list[Registration]:
    """Give every free seat to the head of the waitlist, in order. Returns the promoted."""
    if event.status not in SEAT_GIVING_EVENTS:
        return []
    if event.phase() == EventStatus.FINISHED:
        return []
    free = event.capacity - _count(event.id, SEATED)
    if free <= 0:
        return []
    promoted = _in_order(event.id, S.WAITLISTED, limit=free)
    for registration in promoted:
        _set_status(registration, S.CONFIRMED)
        notices.promoted(registration)
    return promoted


# --- public operations --------------------------------------------------------


def _check_accepting(event: Event) -> None:
    """Refuse a sign-up the event does not take now."""
    phase = event.phase()
    if phase == EventStatus.GAUGING:
        if event.interest_deadline and event.interest_deadline <= clock.now():
            raise Refused(_l("The time to show interest in this event has passed."))
        return
    if phase == EventStatus.CANCELLED:
        raise Refused(_l("This event has been cancelled."))
    if phase in (EventStatus.CLOSED, EventStatus.FINISHED):
        raise Refused(_l("Registration for this event is closed."))
    if phase != EventStatus.OPEN:
        raise NotFound(_l("There is no such event."))
    if event.registration_not_yet_open():
        raise Refused(_l("Registration for this event has not opened yet."))


def sign_up(event_id: int, data: SignUp) -> SignUpResult:
    """Register one person: a seat, a waitlist place or (gauging) an interest."""

    def work() -> SignUpResult:
        event = lock_event(event_id)
        email = data.email.strip().lower()
        submission_key = data.submission_key
        earlier, existing = _earlier_registrations(event.id, submission_key, email)
        if earlier is not None and earlier.event_id == event.id and earlier.email == email:
            # The same person's same form again (a double click): what the first one made.
            return SignUpResult(Outcome.RESUBMITTED, earlier, earlier.manage_token)
        if earlier is not None:
            # Another sign-up carrying a used key (a form restored by Back on a shared
            # computer, or another event's key): a new sign-up; the key is not stored again.
            submission_key = None
        _check_accepting(event)
        organisation = db.session.get(Organisation, data.organisation_id)
        if organisation is None or not organisation.active:
            raise Refused(_l("Choose an organisation from the list."), field="organisation")

        if existing is not None:
            notices.already_registered(existing)
            return SignUpResult(Outcome.ALREADY_REGISTERED, None)

        position = None
        if event.status == EventStatus.GAUGING:
            status = S.INTERESTED
        else:
            seated, waiting = _seats_taken_and_waiting(event.id)
            if seated < event.capacity and waiting == 0:
                status = S.CONFIRMED
            elif event.waitlist_enabled:
                status = S.WAITLISTED
                position = waiting + 1  # the newest arrival waits behind everyone
            else:
                raise Refused(_l("This event is full and has no waiting list."), code="full")

        now = clock.now()
        registration = Registration(
            event_id=event.id,
            name=text.one_line(data.name),
            email=email,
            active_email=email,
            organisation_id=organisation.id,
            work_team=text.one_line(data.work_team),
            needs=text.multi_line(data.needs),
            locale=data.locale,
            status=status,
            created_at=now,
            status_changed_at=now,
            submission_key=submission_key,
        )
        db.session.add(registration)
        db.session.flush()
        notices.registration_created(registration, position)
        if status == S.INTERESTED:
            _note_threshold(event)
        return SignUpResult(Outcome(status.value), registration, registration.manage_token)

    try:
        return write_transaction(work)
    except IntegrityError as error:
        # Only a crafted form key sent to two events at the same instant gets here: the
        # event lock serialises everything else that is unique.
        raise Refused(
            _l("This form was sent twice at the same moment. Reload the page and send it again.")
        ) from error


def _note_threshold(event: Event) -> None:
    """The first time interest reaches the threshold, tell whoever the event says."""
    if not event.interest_threshold or event.threshold_reached_at is not None:
        return
    if _count(event.id, [S.INTERESTED]) >= event.interest_threshold:
        event.threshold_reached_at = clock.now()
        notices.threshold_reached(event)


def _load_by_token_locked(token: str) -> tuple[Event, Registration]:
    event_id = db.session.scalar(
        sa.select(Registration.event_id).where(Registration.manage_token == token)
    )
    if event_id is None:
        raise NotFound()
    event = lock_event(event_id)
    registration = db.session.execute(
        sa.select(Registration)
        .where(Registration.manage_token == token)
        .execution_options(populate_existing=True)
    ).scalar_one()
    return event, registration


def cancel(token: str) -> Registration:
    """The person cancels through their manage link; a freed seat is passed on at once."""

    def work() -> Registration:
        event, registration = _load_by_token_locked(token)
        return _cancel(event, registration, by_staff=None)

    return write_transaction(work)


def cancel_by_staff(registration_id: int, user_id: int) -> Registration:
    def work() -> Registration:
        event_id = db.session.scalar(
            sa.select(Registration.event_id).where(Registration.id == registration_id)
        )
        if event_id is None:
            raise NotFound()
        event = lock_event(event_id)
        registration = db.session.get(Registration, registration_id, populate_existing=True)
        return _cancel(event, registration, by_staff=user_id)

    return write_transaction(work)


def _cancel(event: Event, registration: Registration, by_staff: int | None) -> Registration:
    if registration.status == S.CANCELLED:
        return registration
    if registration.status not in CANCELLABLE:
        raise Refused(_l("This registration can no longer be cancelled."))
    if event.phase() == EventStatus.FINISHED:
        raise Refused(_l("This event is over; the registration can no longer be cancelled."))
    previous = registration.status
    _set_status(registration, S.CANCELLED)
    notices.registration_cancelled(registration)
    if by_staff is not None:
        audit.record(
            by_staff,
            "registration.cancel",
            registration,
            {"event_id": event.id, "previous_status": previous.value},
        )
    _fill_free_seats(event)
    return registration


def set_capacity(event_id: int, capacity: int, user_id: int | None) -> list[Registration]:
    """Change capacity in its own transaction (see ``change_capacity``)."""
    return write_transaction(lambda: change_capacity(lock_event(event_id), capacity, user_id))


def change_capacity(event: Event, capacity: int, user_id: int | None) -> list[Registration]:
    """Change capacity of an event locked in the caller's write transaction; refuse to go
    below the seats taken; promote into new seats. Returns the promoted.

    For services whose one transaction changes capacity among other things (an edit).
    """
    require_write_transaction()
    if capacity < 0:
        raise Refused(_l("Capacity cannot be negative."), field="capacity")
    seated = _count(event.id, SEATED)
    if capacity < seated:
        raise Refused(
            _l(
                "%(seated)d people already have a seat; capacity cannot be lower than that. "
                "Cancel registrations first if the room really is smaller.",
                seated=seated,
            ),
            field="capacity",
        )
    old = event.capacity
    event.capacity = capacity
    promoted = _fill_free_seats(event)
    if user_id is not None and old != capacity:
        audit.record(
            user_id,
            "event.capacity",
            event,
            {"from": old, "to": capacity, "promoted": [r.id for r in promoted]},
        )
    return promoted


def promote_by_hand(registration_id: int, user_id: int) -> Registration:
    """Give a waitlisted person a seat ahead of the queue by adding one seat for them."""

    def work() -> Registration:
        registration = db.session.get(Registration, registration_id)
        if registration is None:
            raise NotFound()
        event = lock_event(registration.event_id)
        db.session.refresh(registration)
        if registration.status != S.WAITLISTED:
            raise Refused(_l("Only a waitlisted person can be promoted."))
        if not can_promote_by_hand(registration, event):
            raise Refused(_l("Seats can only be given in an open or closed event."))
        event.capacity = max(event.capacity, _count(event.id, SEATED) + 1)
        _set_status(registration, S.CONFIRMED)
        notices.promoted(registration)
        audit.record(
            user_id,
            "registration.promote",
            registration,
            {"event_id": event.id, "capacity": event.capacity},
        )
        return registration

    return write_transaction(work)


def set_attendance(registration_id: int, attended: bool, user_id: int) -> Registration:
    """Check a confirmed person in (attended) or undo it."""

    def work() -> Registration:
        registration = db.session.get(Registration, registration_id)
        if registration is None:
            raise NotFound()
        lock_event(registration.event_id)
        db.session.refresh(registration)
        if attended and registration.status in (S.CONFIRMED, S.NO_SHOW):
            _set_status(registration, S.ATTENDED)
            registration.checked_in_at = clock.now()
        elif not attended and registration.status == S.ATTENDED:
            _set_status(registration, S.CONFIRMED)
            registration.checked_in_at = None
        elif registration.status != (S.ATTENDED if attended else S.CONFIRMED):
            raise Refused(_l("Only people with a seat can be checked in."))
        audit.record(user_id, "registration.attendance", registration, {"attended": attended})
        return registration

    return write_transaction(work)


def open_gauged_event(event_id: int, user_id: int) -> tuple[list[Registration], list[Registration]]:
    """Confirm a gauging event: interests become seats in arrival order, the rest wait."""

    def work():
        event = lock_event(event_id)
        if event.status != EventStatus.GAUGING:
            raise Refused(_l("Only an event that gauges interest can be confirmed."))
        if not event.sessions or any(s.venue is None for s in event.sessions):
            raise Refused(_l("Fix the date and venue of every session before confirming."))
        event.status = EventStatus.OPEN
        interested = _in_order(event.id, S.INTERESTED)
        confirmed, waitlisted = interested[: event.capacity], interested[event.capacity :]
        for registration in confirmed:
            _set_status(registration, S.CONFIRMED)
        for registration in waitlisted:
            _set_status(registration, S.WAITLISTED)
        for registration in interested:
            notices.lecture_confirmed(registration)
        audit.record(
            user_id,
            "event.confirm",
            event,
            {"confirmed": len(confirmed), "waitlisted": len(waitlisted)},
        )
        return confirmed, waitlisted

    return write_transaction(work)


def cancel_event(event_id: int, user_id: int, message: str = "") -> list[Registration]:
    """Cancel the event and every active registration; everyone is told."""

    def work() -> list[Registration]:
        event = lock_event(event_id)
        if event.status in (EventStatus.CANCELLED, EventStatus.FINISHED):
            raise Refused(_l("This event can no longer be cancelled."))
        event.status = EventStatus.CANCELLED
        event.cancel_message = text.multi_line(message or "")
        affected = list(
            db.session.scalars(
                sa.select(Registration)
                .where(
                    Registration.event_id == event.id,
                    Registration.status.in_([S.CONFIRMED, S.WAITLISTED, S.INTERESTED]),
                )
                .order_by(Registration.created_at, Registration.id)
            )
        )
        for registration in affected:
            _set_status(registration, S.CANCELLED)
            notices.event_cancelled(registration, message)
        audit.record(user_id, "event.cancel", event, {"registrations": len(affected)})
        return affected

    return write_transaction(work)


# The sign-up path's statements, built once: SQLAlchemy then only looks up their
# compiled SQL instead of building and hashing a new statement per sign-up.
_SEATED_AND_WAITING = sa.select(*count_columns()[:2]).where(
    Registration.event_id == sa.bindparam("event_id")
)
_SAME_EMAIL = sa.and_(
    Registration.event_id == sa.bindparam("event_id"),
    Registration.active_email == sa.bindparam("email"),
)
_BY_EMAIL = sa.select(Registration).where(_SAME_EMAIL)
_BY_FORM_KEY_OR_EMAIL = sa.select(Registration).where(
    sa.or_(Registration.submission_key == sa.bindparam("submission_key"), _SAME_EMAIL)
)
