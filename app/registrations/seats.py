"""The one place that changes registration statuses.

Every public function here runs one write transaction (``write_transaction``)
that first locks the event row (``locking.lock_event``), decides from the database,
writes, queues the mail in the outbox (``notices``) and records the audit entry,
and commits it all together. Nothing else in Kvarn assigns ``Registration.status``.

The rules (docs/architecture.md, "Rules that never break"): confirmed <= capacity;
the waitlist is served in ``(created_at, id)`` order; a newcomer gets a seat only if
one is free and nobody waits; a freed seat goes to the waitlist first. The team rule
(``queue``): a team kept together gets seats all at once or waits as one unit holding one
place, passed over while it does not fit (first fit). Teams are signed up, shrunk, grown,
split and kept here too. Which statuses allow what is read from ``statuses``.
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
from ..models import (
    Event,
    EventSession,
    EventStatus,
    Organisation,
    Registration,
    RegistrationStatus,
    SessionAttendance,
    Team,
    new_token,
)
from . import notices, queue, reads, snapshot
from .locking import lock_event
from .statuses import CANCELLABLE, SEAT_GIVING_EVENTS, SEATED, can_promote_by_hand
from .statuses import label as status_label

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
    #: The id of the new (or resubmitted) registration; None when the email was already
    #: registered, since that registration belongs to whoever owns the address.
    registration_id: int | None
    #: Its manage token, read inside the transaction (no reload after the commit).
    manage_token: str | None = None

    @property
    def registration(self) -> Registration | None:
        """The registration as an entity of the session, loaded when asked for (the
        sign-up itself wrote it without one, and the page only needs the token)."""
        if self.registration_id is None:
            return None
        return db.session.get(Registration, self.registration_id)


# --- reading under the lock -------------------------------------------------


def _seats_taken_and_waiting(event_id: int) -> tuple[int, int, int]:
    """Seated and waitlisted registrations of the event, and how many of the waiting are
    team members, in one statement."""
    seated, waiting, in_teams = db.session.connection().execute(
        _SEATED_AND_WAITING, {"event_id": event_id}
    ).one()
    return int(seated or 0), int(waiting or 0), int(in_teams or 0)


def _newcomers_placed(event: Event, newcomers: list[list[int]]) -> set[int]:
    """Which of ``newcomers`` (units of placeholder ids, in arrival order, behind everyone
    already waiting) get seats now, by the first-fit rule."""
    seated, waiting, in_teams = _seats_taken_and_waiting(event.id)
    free = event.capacity - seated
    if free <= 0:
        return set()
    if waiting and not in_teams:
        return set()  # someone waits alone: every free seat is theirs first
    line = queue.units(reads.waiting_line(event.id)) if waiting else []
    return set(queue.first_fit(line + newcomers, free)) & {i for unit in newcomers for i in unit}


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


def _by_ids(ids: list[int]) -> list[Registration]:
    """Registrations in the order of ``ids``, read fresh under the lock."""
    if not ids:
        return []
    found = {
        r.id: r
        for r in db.session.scalars(
            sa.select(Registration)
            .where(Registration.id.in_(ids))
            .execution_options(populate_existing=True)
        )
    }
    return [found[i] for i in ids]


def _fill_free_seats(event: Event) -> list[Registration]:
    """Give the free seats to the waitlist in order, first fit (``queue``). Returns the
    promoted."""
    if event.status not in SEAT_GIVING_EVENTS:
        return []
    if event.phase() == EventStatus.FINISHED:
        return []
    free = event.capacity - _count(event.id, SEATED)
    if free <= 0:
        return []
    promoted = _by_ids(queue.first_fit(queue.units(reads.waiting_line(event.id)), free))
    for registration in promoted:
        _set_status(registration, S.CONFIRMED)
        notices.promoted(registration)
    return promoted


def _kept_teams(event_id: int) -> set[int]:
    return set(
        db.session.scalars(
            sa.select(Team.id).where(Team.event_id == event_id, Team.keep_together == sa.true())
        )
    )


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
    """Register one person: a seat, a waitlist place or (gauging) an interest.

    The morning rush runs through here, so it reads and writes with Core statements
    (``snapshot``: the event, its sessions and the organisation as copies outside the
    session; the registration and its first mail inserted without the unit of work).
    The rules read the snapshots as they read the models."""

    def work() -> SignUpResult:
        email = data.email.strip().lower()
        submission_key = data.submission_key
        event, facts = snapshot.read_for_sign_up(event_id, email, submission_key, data.organisation_id)
        if facts.same_key_id is not None:
            earlier = db.session.get(Registration, facts.same_key_id)
            if earlier.event_id == event.id and earlier.email == email:
                # The same person's same form again (a double click): what the first made.
                return SignUpResult(Outcome.RESUBMITTED, earlier.id, earlier.manage_token)
            # Another sign-up carrying a used key (a form restored by Back on a shared
            # computer, or another event's key): a new sign-up; the key is not stored again.
            submission_key = None
        _check_accepting(event)
        organisation = facts.organisation
        if organisation is None or not organisation.active:
            raise Refused(_l("Choose an organisation from the list."), field="organisation")

        if facts.same_email_id is not None:
            notices.already_registered(db.session.get(Registration, facts.same_email_id))
            return SignUpResult(Outcome.ALREADY_REGISTERED, None)

        position = None
        if event.status == EventStatus.GAUGING:
            status = S.INTERESTED
        else:
            seated, waiting = facts.seated, facts.waiting
            if seated < event.capacity and (waiting == 0 or _newcomers_placed(event, [[0]])):
                status = S.CONFIRMED
            elif event.waitlist_enabled:
                status = S.WAITLISTED
                # The newest arrival waits behind everyone (a kept team counts once).
                position = waiting + 1 if not facts.waiting_in_teams else None
            else:
                raise Refused(_l("This event is full and has no waiting list."), code="full")

        registration = _insert_registration(
            event, organisation, data, email, status, submission_key, clock.now()
        )
        if status == S.WAITLISTED and position is None:
            position = reads.waitlist_position(registration)
        notices.registration_created(registration, position)
        if status == S.INTERESTED:
            _note_threshold(event)
        return SignUpResult(Outcome(status.value), registration.id, registration.manage_token)

    try:
        return write_transaction(work)
    except IntegrityError as error:
        # Only a crafted form key sent to two events at the same instant gets here: the
        # event lock serialises everything else that is unique.
        raise Refused(
            _l("This form was sent twice at the same moment. Reload the page and send it again.")
        ) from error


def _insert_registration(
    event: Event,
    organisation: Organisation,
    data: SignUp,
    email: str,
    status: S,
    submission_key: str | None,
    now,
) -> Registration:
    """One registration row by a Core INSERT; returned as a snapshot (``snapshot``)."""
    columns = {
        **_registration_columns(event, data, email, status, data.locale, now),
        "organisation_id": organisation.id,
        "manage_token": new_token(),
        "submission_key": submission_key,
        "team_id": None,
        "checked_in_at": None,
    }
    inserted = db.session.connection().execute(_INSERT_REGISTRATION, columns)
    return snapshot.registration(
        event, organisation, id=inserted.inserted_primary_key[0], **columns
    )


def _note_threshold(event: Event) -> None:
    """The first time interest reaches the threshold, tell whoever the event says
    (``event`` may be a snapshot: the change goes through the entity)."""
    if not event.interest_threshold or event.threshold_reached_at is not None:
        return
    if _count(event.id, [S.INTERESTED]) >= event.interest_threshold:
        entity = db.session.get(Event, event.id)
        entity.threshold_reached_at = clock.now()
        notices.threshold_reached(entity)


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
    """Cancel one registration and pass on what it frees (a seat; a smaller team may fit)."""
    if registration.status == S.CANCELLED:
        return registration
    _cancel_one(event, registration, by_staff)
    _fill_free_seats(event)
    return registration


def _cancel_one(event: Event, registration: Registration, by_staff: int | None) -> None:
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
        together = [registration]
        if registration.team_id is not None and registration.team_id in _kept_teams(event.id):
            # A team kept together gets its seats together: one more seat for each member.
            together = [
                r for r in _in_order(event.id, S.WAITLISTED) if r.team_id == registration.team_id
            ]
        event.capacity = max(event.capacity, _count(event.id, SEATED) + len(together))
        for member in together:
            _set_status(member, S.CONFIRMED)
            notices.promoted(member)
            audit.record(
                user_id,
                "registration.promote",
                member,
                {"event_id": event.id, "capacity": event.capacity},
            )
        return registration

    return write_transaction(work)


def set_attendance(
    registration_id: int, attended: bool, user_id: int | None, session_id: int | None = None
) -> Registration:
    """Check a person with a seat in at one session of the event (``attended``), or undo
    that check-in. ``session_id`` names the session (without it the event must have only
    one). The person is ``attended`` while checked in at any session, ``checked_in_at``
    the earliest check-in; undoing the last one makes them confirmed again. A repeated
    tap (already checked in there, or nothing to undo) changes and records nothing.
    The rows and the status are kept in step in the attendance section below."""

    def work() -> Registration:
        registration = db.session.get(Registration, registration_id)
        if registration is None:
            raise NotFound()
        event = lock_event(registration.event_id)
        db.session.refresh(registration)
        session = _session_to_check_in(event, session_id)
        if registration.status not in SEATED:
            raise Refused(_l("Only people with a seat can be checked in."))
        if _mark_session(registration, session, attended, user_id):
            audit.record(
                user_id,
                "registration.attendance",
                registration,
                {"attended": attended, **_session_details(event, session)},
            )
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
        kept = _kept_teams(event.id)
        line = queue.units(
            queue.InLine(r.id, r.team_id if r.team_id in kept else None) for r in interested
        )
        seated = set(queue.first_fit(line, event.capacity))  # teams by the first-fit rule
        confirmed = [r for r in interested if r.id in seated]
        waitlisted = [r for r in interested if r.id not in seated]
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


# --- work teams ---------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One person of a team sign-up."""

    name: str
    email: str
    organisation_id: int
    work_team: str = ""
    needs: str = ""


@dataclass(frozen=True)
class TeamSignUp:
    """Colleagues signed up at once; ``members[0]`` is the person signing up (the contact)."""

    members: tuple[Member, ...]
    keep_together: bool
    locale: str = "sv"
    submission_key: str | None = None


class RowsRefused(Refused):
    """A team refused because of some of its rows: ``rows`` maps row index (0 = the person
    signing up) to (field name, reason), shown next to that field of that row."""

    def __init__(self, message, rows: dict[int, tuple[str, str]]):
        super().__init__(message, field="colleagues", code="rows")
        self.rows = rows


@dataclass(frozen=True)
class TeamSignUpResult:
    team: Team
    manage_token: str
    #: (row index, registration) for every member signed up, in row order.
    placed: list[tuple[int, Registration]]
    #: Row index -> why that row was not signed up (only when not kept together).
    refused: dict[int, str]
    resubmitted: bool = False


def _already_registered_text():
    return _l("Already registered for this event: we have mailed the link to that address.")


def sign_up_team(event_id: int, data: TeamSignUp) -> TeamSignUpResult:
    """Sign up a team: every member an ordinary registration with its own link and mail,
    the contact one summary with the team's link. Kept together, all get seats or all wait
    as one unit; otherwise each is placed in turn. Rows already registered refuse the whole
    team when kept together, else only themselves."""

    def work() -> TeamSignUpResult:
        event = lock_event(event_id)
        members = data.members
        emails = [m.email.strip().lower() for m in members]
        submission_key = data.submission_key
        if submission_key:
            earlier = db.session.scalar(sa.select(Team).where(Team.submission_key == submission_key))
            if earlier is not None and earlier.event_id == event.id and earlier.contact_email == emails[0]:
                placed = list(enumerate(reads.team_members(earlier.id)))
                return TeamSignUpResult(earlier, earlier.manage_token, placed, {}, resubmitted=True)
            if earlier is not None:
                submission_key = None
        _check_accepting(event)
        _check_team_rows(event, data, emails)

        taken = {
            r.active_email: r
            for r in db.session.scalars(
                sa.select(Registration).where(
                    Registration.event_id == event.id, Registration.active_email.in_(emails)
                )
            )
        }
        refused = {i: str(_already_registered_text()) for i, email in enumerate(emails) if email in taken}
        if refused and data.keep_together:
            raise RowsRefused(
                _l(
                    "Some of you are already registered for this event, so nobody was signed up. "
                    "Remove those rows, or untick “keep us together”."
                ),
                {i: ("email", why) for i, why in refused.items()},
            )
        rows = [i for i in range(len(members)) if i not in refused]
        if not rows:
            raise RowsRefused(
                _l("Everyone in the team is already registered for this event."),
                {i: ("email", why) for i, why in refused.items()},
            )

        statuses = _team_statuses(event, rows, data.keep_together, refused)
        rows = [i for i in rows if i in statuses]
        now = clock.now()
        team = Team(
            event_id=event.id,
            keep_together=data.keep_together,
            contact_name=text.one_line(members[0].name),
            contact_email=emails[0],
            locale=data.locale,
            submission_key=submission_key,
            created_at=now,
        )
        db.session.add(team)
        db.session.flush()
        placed = []
        for i in rows:
            registration = _new_registration(event, members[i], emails[i], statuses[i], data.locale, now)
            registration.team_id = team.id
            db.session.add(registration)
            placed.append((i, registration))
        db.session.flush()  # ids in row order: the members' order in the queue
        positions = (
            reads.waitlist_positions(event.id) if S.WAITLISTED in statuses.values() else {}
        )
        for _, registration in placed:
            notices.registration_created(registration, positions.get(registration.id))
        for email in emails:
            if email in taken:
                notices.already_registered(taken[email])
        not_signed_up = [(members[i].name, emails[i], refused[i]) for i in sorted(refused)]
        notices.team_created(team, [r for _, r in placed], not_signed_up)
        if event.status == EventStatus.GAUGING:
            _note_threshold(event)
        return TeamSignUpResult(team, team.manage_token, placed, refused)

    return write_transaction(work)


def _check_team_rows(event: Event, data: TeamSignUp, emails: list[str]) -> None:
    """Refuse a team the event cannot take as it is: too many, duplicates, bad organisations."""
    size = len(data.members)
    if size > event.max_team_size:
        raise Refused(
            _l(
                "A team can have at most %(max)d people for this event, you included.",
                max=event.max_team_size,
            ),
            field="colleagues",
        )
    rows: dict[int, tuple[str, str]] = {}
    for i, email in enumerate(emails):
        if email in emails[:i]:
            rows[i] = ("email", str(_l("This email address is already in the team.")))
    known = set(
        db.session.scalars(
            sa.select(Organisation.id).where(
                Organisation.id.in_({m.organisation_id for m in data.members}),
                Organisation.active == sa.true(),
            )
        )
    )
    for i, member in enumerate(data.members):
        if member.organisation_id not in known:
            rows.setdefault(i, ("organisation", str(_l("Choose an organisation from the list."))))
    if rows:
        raise RowsRefused(_l("Some rows of the team need correcting."), rows)
    if data.keep_together and event.status != EventStatus.GAUGING and size > event.capacity:
        raise Refused(
            _l(
                "The event has %(capacity)d seats in all, so a team of %(size)d cannot be kept "
                "together. Untick “keep us together” to be placed one by one.",
                capacity=event.capacity,
                size=size,
            ),
            field="keep_together",
        )


def _team_statuses(event: Event, rows: list[int], kept: bool, refused: dict[int, str]) -> dict[int, S]:
    """Each row's status by the first-fit rule; rows without a seat in an event without a
    waiting list go into ``refused`` (the whole team, when kept together)."""
    if event.status == EventStatus.GAUGING:
        return dict.fromkeys(rows, S.INTERESTED)
    placeholder = {i: -(i + 1) for i in rows}
    newcomers = [[placeholder[i] for i in rows]] if kept else [[placeholder[i]] for i in rows]
    seated = _newcomers_placed(event, newcomers)
    statuses = {i: S.CONFIRMED if placeholder[i] in seated else S.WAITLISTED for i in rows}
    if event.waitlist_enabled or S.WAITLISTED not in statuses.values():
        return statuses
    if kept:
        raise Refused(
            _l("There are not enough seats left for your team together, and the event has no waiting list."),
            field="keep_together",
            code="full",
        )
    for i, status in list(statuses.items()):
        if status == S.WAITLISTED:
            refused[i] = str(_l("No seat was left, and the event has no waiting list."))
            del statuses[i]
    if not statuses:
        raise Refused(_l("This event is full and has no waiting list."), code="full")
    return statuses


def _new_registration(
    event: Event, member: Member | SignUp, email: str, status: S, locale: str, now
) -> Registration:
    return Registration(**_registration_columns(event, member, email, status, locale, now))


def _registration_columns(
    event: Event, member: Member | SignUp, email: str, status: S, locale: str, now
) -> dict:
    """A new registration's columns, from what the person gave (one way for a sign-up
    alone, a team's member and a walk-in)."""
    return {
        "event_id": event.id,
        "name": text.one_line(member.name),
        "email": email,
        "active_email": email,
        "organisation_id": member.organisation_id,
        "work_team": text.one_line(member.work_team),
        "needs": text.multi_line(member.needs),
        "locale": locale,
        "status": status,
        "created_at": now,
        "status_changed_at": now,
    }


def _load_team_locked(token: str) -> tuple[Event, Team]:
    team = reads.team_by_token(token)
    if team is None:
        raise NotFound()
    event = lock_event(team.event_id)
    db.session.refresh(team)
    return event, team


def _active_members(team: Team) -> list[Registration]:
    return list(
        db.session.scalars(
            sa.select(Registration)
            .where(Registration.team_id == team.id, Registration.status != S.CANCELLED)
            .order_by(Registration.created_at, Registration.id)
            .execution_options(populate_existing=True)
        )
    )


def cancel_team_member(token: str, registration_id: int) -> Registration:
    """The contact cancels one member; the team shrinks and may now fit."""

    def work() -> Registration:
        event, team = _load_team_locked(token)
        registration = db.session.get(Registration, registration_id, populate_existing=True)
        if registration is None or registration.team_id != team.id:
            raise NotFound()
        if registration.status != S.CANCELLED:
            _cancel(event, registration, by_staff=None)
            audit.record(None, "team.cancel", team, {"event_id": event.id, "members": [registration.id]})
        return registration

    return write_transaction(work)


def cancel_team(token: str) -> list[Registration]:
    """The contact cancels every member still registered; the freed seats are passed on."""

    def work() -> list[Registration]:
        event, team = _load_team_locked(token)
        members = [r for r in _active_members(team) if r.status in CANCELLABLE]
        if not members:
            raise Refused(_l("Nobody in the team can be cancelled any more."))
        for registration in members:
            _cancel_one(event, registration, by_staff=None)
        _fill_free_seats(event)
        audit.record(None, "team.cancel", team, {"event_id": event.id, "members": [r.id for r in members]})
        return members

    return write_transaction(work)


def add_team_member(token: str, member: Member) -> Registration:
    """Add a colleague to a team while a place lasts: in a team kept together only onto a
    free seat beside the others (never into the line, which would jump it); otherwise as
    any newcomer (a free seat, else the end of the waiting list)."""

    def work() -> Registration:
        event, team = _load_team_locked(token)
        _check_accepting(event)
        email = member.email.strip().lower()
        active = _active_members(team)
        if len(active) + 1 > event.max_team_size:
            raise Refused(
                _l(
                    "A team can have at most %(max)d people for this event, you included.",
                    max=event.max_team_size,
                )
            )
        organisation = db.session.get(Organisation, member.organisation_id)
        if organisation is None or not organisation.active:
            raise Refused(_l("Choose an organisation from the list."), field="organisation")
        if db.session.scalar(_BY_EMAIL, {"event_id": event.id, "email": email}) is not None:
            raise Refused(_l("This email address is already registered for this event."), field="email")
        status = _added_member_status(event, team, active)
        registration = _new_registration(event, member, email, status, team.locale, clock.now())
        registration.team_id = team.id
        db.session.add(registration)
        db.session.flush()
        notices.registration_created(registration)
        audit.record(None, "team.add_member", team, {"event_id": event.id, "members": [registration.id]})
        return registration

    return write_transaction(work)


def _added_member_status(event: Event, team: Team, active: list[Registration]) -> S:
    if event.status == EventStatus.GAUGING:
        return S.INTERESTED
    seated, _, _ = _seats_taken_and_waiting(event.id)
    if team.keep_together and active:
        if any(r.status not in SEATED for r in active):
            raise Refused(
                _l(
                    "Your team waits for seats together, so nobody can join it now: that would "
                    "move the newcomer ahead of people who signed up after you. Your colleague "
                    "can sign up on their own, or you can split the team."
                )
            )
        if seated >= event.capacity:
            raise Refused(_l("No seat is free for another member. Your colleague can sign up on their own."))
        return S.CONFIRMED
    if _newcomers_placed(event, [[0]]):
        return S.CONFIRMED
    if not event.waitlist_enabled:
        raise Refused(_l("This event is full and has no waiting list."), code="full")
    return S.WAITLISTED


def set_keep_together(token: str, keep: bool) -> Team:
    """Split a team (its members are placed one by one from now on, each keeping their
    place) or keep it together again (only while all its members are placed alike)."""

    def work() -> Team:
        event, team = _load_team_locked(token)
        if team.keep_together == keep:
            return team
        active = _active_members(team)
        if keep:
            groups = {("seated" if r.status in SEATED else r.status.value) for r in active}
            if len(groups) > 1:
                raise Refused(
                    _l(
                        "Some of the team have seats and some wait, so it cannot be kept "
                        "together now."
                    )
                )
            if groups == {S.WAITLISTED.value} and len(active) > event.capacity:
                raise Refused(
                    _l(
                        "The event has %(capacity)d seats in all, so a team of %(size)d cannot be "
                        "kept together.",
                        capacity=event.capacity,
                        size=len(active),
                    )
                )
        team.keep_together = keep
        if not keep:
            _fill_free_seats(event)
        audit.record(
            None,
            "team.keep" if keep else "team.split",
            team,
            {"event_id": event.id, "members": [r.id for r in active]},
        )
        return team

    return write_transaction(work)


# --- attendance per session (check-in, walk-ins) ----------------------------------------
# A registration is ``attended`` exactly while it has a ``SessionAttendance`` row, and its
# ``checked_in_at`` is the earliest one: reminders, exports and the invariants read the
# status; certificates read the rows (``attendance``).


def _session_to_check_in(event: Event, session_id: int | None) -> EventSession:
    """The event's session a check-in is for (``None``: its only session)."""
    if not event.sessions:
        raise Refused(_l("This event has no sessions to check in at."))
    if session_id is None:
        if len(event.sessions) > 1:
            raise Refused(_l("Choose the session to check in at."), field="session_id")
        return event.sessions[0]
    session = next((s for s in event.sessions if s.id == session_id), None)
    if session is None:
        raise NotFound()
    return session


def _session_details(event: Event, session: EventSession) -> dict:
    """Which session an audit entry is about: its id, number, the count, its start."""
    ordered = sorted(event.sessions, key=lambda s: (s.starts_at, s.id))
    return {
        "session_id": session.id,
        "session": ordered.index(session) + 1,
        "sessions": len(ordered),
        "starts_at": session.starts_at.isoformat(),
    }


def _mark_session(
    registration: Registration, session: EventSession, attended: bool, user_id: int | None
) -> bool:
    """Add or remove the registration's row for the session and bring its status and
    ``checked_in_at`` in line with its rows. False when there was nothing to change."""
    row = db.session.execute(
        sa.select(SessionAttendance)
        .where(
            SessionAttendance.registration_id == registration.id,
            SessionAttendance.session_id == session.id,
        )
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if attended == (row is not None):
        return False
    if attended:
        db.session.add(
            SessionAttendance(
                registration_id=registration.id,
                session_id=session.id,
                checked_in_at=clock.now(),
                checked_in_by=user_id,
            )
        )
    else:
        db.session.delete(row)
    db.session.flush()
    first = db.session.scalar(
        sa.select(sa.func.min(SessionAttendance.checked_in_at)).where(
            SessionAttendance.registration_id == registration.id
        )
    )
    if first is None:
        if registration.status == S.ATTENDED:
            _set_status(registration, S.CONFIRMED)
        registration.checked_in_at = None
    else:
        if registration.status != S.ATTENDED:
            _set_status(registration, S.ATTENDED)
        registration.checked_in_at = first
    return True


@dataclass(frozen=True)
class WalkInResult:
    registration: Registration
    #: False when the address already had a seat: that registration was checked in.
    added: bool
    #: The capacity before and after, when the event was full and got one more seat.
    capacity_raised: tuple[int, int] | None = None


def add_walk_in(
    event_id: int,
    session_id: int,
    name: str,
    email: str,
    organisation_id: int,
    user_id: int,
    locale: str | None = None,
) -> WalkInResult:
    """Someone at the door who had not signed up: a registration with a seat, checked in
    at the session, audited (``registration.walk_in``). A full event gets one more seat
    (said in the entry). An address that already has a seat is checked in instead; one
    waiting or interested is refused (give the seat by hand first: the queue's rule).
    The walk-in gets the ordinary confirmation mail: the personal link is their only way
    to see and correct what was typed at the door, to cancel later sessions and to get
    the calendar entries of a course's coming days."""

    def work() -> WalkInResult:
        event = lock_event(event_id)
        session = _session_to_check_in(event, session_id)
        if event.status not in SEAT_GIVING_EVENTS:
            raise Refused(_l("Walk-ins can be added only to an open or closed event."))
        address = email.strip().lower()
        if not text.one_line(name).strip():
            raise Refused(_l("Enter the name."), field="name")
        if "@" not in address:
            raise Refused(_l("Enter a valid email address, like name@kommun.se."), field="email")
        organisation = db.session.get(Organisation, organisation_id)
        if organisation is None or not organisation.active:
            raise Refused(_l("Choose an organisation from the list."), field="organisation")
        existing = db.session.scalar(
            _BY_EMAIL.execution_options(populate_existing=True),
            {"event_id": event.id, "email": address},
        )
        if existing is not None:
            if existing.status not in SEATED:
                raise Refused(
                    _l(
                        "%(name)s is already registered with this address but has no seat "
                        "(%(status)s). Give them a seat on the registrations page first.",
                        name=existing.name,
                        status=status_label(existing.status),
                    ),
                    field="email",
                )
            if _mark_session(existing, session, True, user_id):
                audit.record(
                    user_id,
                    "registration.attendance",
                    existing,
                    {"attended": True, **_session_details(event, session)},
                )
            return WalkInResult(existing, added=False)

        seated, waiting, _ = _seats_taken_and_waiting(event.id)
        raised = None
        if seated >= event.capacity or (waiting and not _newcomers_placed(event, [[0]])):
            # No free seat this newcomer may take: one more seat, for them.
            raised = (event.capacity, max(event.capacity, seated) + 1)
            event.capacity = raised[1]
        person = SignUp(name=name, email=address, organisation_id=organisation.id)
        registration = _new_registration(
            event, person, address, S.CONFIRMED, locale or event.language or "sv", clock.now()
        )
        db.session.add(registration)
        db.session.flush()
        notices.registration_created(registration)
        _mark_session(registration, session, True, user_id)
        details = {"event_id": event.id, **_session_details(event, session)}
        if raised is not None:
            details["capacity"] = {"from": raised[0], "to": raised[1]}
        audit.record(user_id, "registration.walk_in", registration, details)
        return WalkInResult(registration, added=True, capacity_raised=raised)

    return write_transaction(work)


# The sign-up path's statements, built once: SQLAlchemy then only looks up their
# compiled SQL instead of building and hashing a new statement per sign-up.
_SEATED_AND_WAITING = sa.select(*reads.seat_count_columns()).where(
    Registration.event_id == sa.bindparam("event_id")
)
_SAME_EMAIL = sa.and_(
    Registration.event_id == sa.bindparam("event_id"),
    Registration.active_email == sa.bindparam("email"),
)
_BY_EMAIL = sa.select(Registration).where(_SAME_EMAIL)
_INSERT_REGISTRATION = sa.insert(Registration.__table__)


# --- erasure: a person's registrations, on their request (privacy.erasure) --------------
# What is personal in a registration and a team sign-up, and erasing every registration of
# one address: active ones are cancelled here, so that the freed seats go to the waiting
# list as after any cancellation (``_fill_free_seats``, with the "promoted" mails), then
# the rows keep only what the figures need. ``privacy.purge`` anonymises an event's rows
# with the same two functions once the retention period is over.

#: The domain of an anonymised row's address: ``.invalid`` is reserved (RFC 2606) and
#: never receives mail.
ERASED_DOMAIN = "erased.invalid"


def erased_address(kind: str, row_id: int) -> str:
    """The placeholder address of an anonymised row: unique, so that the rule "one
    active registration per (event, email)" still holds for rows that keep their status."""
    return f"{kind}-{row_id}@{ERASED_DOMAIN}"


def anonymise_registration(registration: Registration) -> None:
    """Remove the personal data of one registration; the event, organisation, status,
    times, team and check-ins stay (they are the figures). The personal link stops
    working: its token is replaced by one nobody knows."""
    from ..models import new_token

    registration.name = ""
    registration.email = erased_address("registration", registration.id)
    registration.active_email = None if registration.status == S.CANCELLED else registration.email
    registration.work_team = ""
    registration.needs = ""
    registration.manage_token = new_token()
    registration.submission_key = None


def anonymise_team(team: Team) -> None:
    """Remove the contact's name and address from a team sign-up; the team link stops
    working. Its members are registrations of their own."""
    from ..models import new_token

    team.contact_name = ""
    team.contact_email = erased_address("team", team.id)
    team.manage_token = new_token()
    team.submission_key = None


@dataclass(frozen=True)
class Erased:
    """What ``erase_registrations`` did (counts and ids only: the address is gone)."""

    #: The registrations anonymised and the teams whose contact was the address.
    registration_ids: tuple[int, ...]
    team_ids: tuple[int, ...]
    events: int
    #: Of those, cancelled now (they were active in an event not yet over).
    cancelled: int
    #: People from the waiting lists who got the freed seats.
    promoted: int

    @property
    def nothing(self) -> bool:
        return not self.registration_ids and not self.team_ids


def erase_registrations(email: str) -> Erased:
    """Erase every registration of ``email`` in every event, in the caller's write
    transaction: under each event's lock (events in id order, so two erasures never wait
    for each other in a circle), cancel the active ones of events not yet over (no
    cancellation mail: the caller sends one receipt), pass the freed seats on to the
    waiting list, then anonymise every row of the address and every team it signed up.
    Registrations of events that are over keep their status, so attendance still counts."""
    require_write_transaction()
    address = (email or "").strip().lower()
    if not address:
        return Erased((), (), 0, 0, 0)
    event_ids = sorted(
        set(db.session.scalars(sa.select(Registration.event_id).where(Registration.email == address)))
        | set(db.session.scalars(sa.select(Team.event_id).where(Team.contact_email == address)))
    )
    registration_ids: list[int] = []
    team_ids: list[int] = []
    cancelled = promoted = 0
    for event_id in event_ids:
        event = lock_event(event_id)
        rows = list(
            db.session.scalars(
                sa.select(Registration)
                .where(Registration.event_id == event.id, Registration.email == address)
                .order_by(Registration.id)
                .execution_options(populate_existing=True)
            )
        )
        over = event.phase() == EventStatus.FINISHED
        freed = [r for r in rows if r.status in CANCELLABLE and not over]
        for registration in freed:
            _set_status(registration, S.CANCELLED)
        if freed:
            cancelled += len(freed)
            promoted += len(_fill_free_seats(event))
        for registration in rows:
            anonymise_registration(registration)
            registration_ids.append(registration.id)
        for team in db.session.scalars(
            sa.select(Team)
            .where(Team.event_id == event.id, Team.contact_email == address)
            .execution_options(populate_existing=True)
        ):
            anonymise_team(team)
            team_ids.append(team.id)
    db.session.flush()
    return Erased(tuple(registration_ids), tuple(team_ids), len(event_ids), cancelled, promoted)
