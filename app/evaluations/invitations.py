"""Who gets the thank-you mail after the last session, and the one reminder: exactly once.

The rules this module owns:

- Who: everyone with a seat who attended by the check-in rule
  (``registrations.attendance``: at least one session; an event where nobody was checked
  in counts everyone with a seat). Not the waiting list, the interested or the cancelled.
- When: ``EVALUATION_SEND_AFTER_HOURS`` after the event's last session ended, for an
  event that was held (not cancelled) and ended within ``EVALUATION_SEND_WITHIN_DAYS``
  (switching the feature on never mails old events). The first run fixes the questions
  (``Evaluation.sent_at``); answers are taken for ``EVALUATION_ANSWER_DAYS`` from then,
  and someone checked in late still gets their mail while answering is open.
- What: one mail per person (the evaluation link when the evaluation is on, the
  certificate PDF when they qualify; nobody is mailed when there is neither), and one
  reminder ``EVALUATION_REMINDER_DAYS`` later to whoever has not answered, while answering
  is still open.
- Exactly once: ``send_due`` (``flask evaluations send-due``, cron) takes each event in
  one write transaction that locks it; the ``evaluation_invitation`` row (one per person
  and evaluation) and the outbox dedupe keys (``notices``) make a repeated or concurrent
  run queue nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from ..audit import entries as audit
from ..core import clock
from ..core.database import write_transaction
from ..core.extensions import db
from ..models import (
    Evaluation,
    EvaluationInvitation,
    Event,
    EventSession,
    EventStatus,
    Registration,
)
from ..registrations import attendance
from ..registrations.locking import lock_event
from ..registrations.statuses import SEATED
from . import certificates, notices, questions

#: Events whose people are thanked: held, not cancelled (the phase "finished" is by time).
HELD = (EventStatus.OPEN, EventStatus.CLOSED, EventStatus.FINISHED)


def _hours(name: str) -> timedelta:
    return timedelta(hours=float(current_app.config[name]))


def _days(name: str) -> timedelta:
    return timedelta(days=float(current_app.config[name]))


def closes_at(evaluation: Evaluation) -> datetime | None:
    """When answering ends (None before anything was sent)."""
    if evaluation.sent_at is None:
        return None
    return evaluation.sent_at + _days("EVALUATION_ANSWER_DAYS")


def is_open(evaluation: Evaluation, now: datetime | None = None) -> bool:
    """Whether the evaluation takes answers now."""
    ends = closes_at(evaluation)
    return evaluation.enabled and ends is not None and (now or clock.now()) < ends


def is_closed(evaluation: Evaluation | None, now: datetime | None = None) -> bool:
    """Whether answering is over (sent, and the answering time has passed)."""
    if evaluation is None:
        return False
    ends = closes_at(evaluation)
    return ends is not None and (now or clock.now()) >= ends


def due_events(now: datetime | None = None) -> list[int]:
    """Events a run should look at: ended long enough ago, and either ended recently or
    with answering still open (late check-ins, reminders)."""
    now = now or clock.now()
    last_end = (
        sa.select(EventSession.event_id, sa.func.max(EventSession.ends_at).label("ends_at"))
        .group_by(EventSession.event_id)
        .subquery()
    )
    sent_since = now - _days("EVALUATION_ANSWER_DAYS")
    still_open = sa.exists().where(
        Evaluation.event_id == Event.id, Evaluation.sent_at.is_not(None), Evaluation.sent_at > sent_since
    )
    return list(
        db.session.scalars(
            sa.select(Event.id)
            .join(last_end, last_end.c.event_id == Event.id)
            .where(
                Event.status.in_(HELD),
                last_end.c.ends_at <= now - _hours("EVALUATION_SEND_AFTER_HOURS"),
                sa.or_(last_end.c.ends_at > now - _days("EVALUATION_SEND_WITHIN_DAYS"), still_open),
            )
            .order_by(Event.id)
        )
    )


def attendees(event: Event) -> list[tuple[Registration, int]]:
    """(registration, sessions attended) of everyone who attended, in sign-up order."""
    seated = list(
        db.session.scalars(
            sa.select(Registration)
            .where(Registration.event_id == event.id, Registration.status.in_(list(SEATED)))
            .order_by(Registration.created_at, Registration.id)
        )
    )
    counts = attendance.attended_sessions(r.id for r in seated)
    return [(r, counts[r.id]) for r in seated if counts.get(r.id, 0) > 0]


@dataclass
class EventRun:
    thanked: int = 0
    certificates: int = 0
    reminded: int = 0


def _invited(evaluation_id: int) -> set[int]:
    return set(
        db.session.scalars(
            sa.select(EvaluationInvitation.registration_id).where(
                EvaluationInvitation.evaluation_id == evaluation_id
            )
        )
    )


def _thank(event: Event, evaluation: Evaluation, now: datetime, run: EventRun) -> None:
    invited = _invited(evaluation.id)
    ends = closes_at(evaluation)
    open_now = is_open(evaluation, now)
    total = len(event.sessions)
    for registration, attended in attendees(event):
        if registration.id in invited:
            continue
        found = certificates.judge(event, registration.status, attended, total, now)
        if not open_now and not found.qualifies:
            continue  # nothing to send: no evaluation, no certificate
        invitation = EvaluationInvitation(
            evaluation_id=evaluation.id, registration_id=registration.id, invited_at=now
        )
        db.session.add(invitation)
        db.session.flush()
        certificate = certificates.issue(registration, found) if found.qualifies else None
        if notices.thanks(registration, invitation, open_now, ends, certificate):
            run.thanked += 1
            run.certificates += certificate is not None


def _remind(evaluation: Evaluation, now: datetime, run: EventRun) -> None:
    if not is_open(evaluation, now):
        return
    due = db.session.scalars(
        sa.select(EvaluationInvitation)
        .where(
            EvaluationInvitation.evaluation_id == evaluation.id,
            EvaluationInvitation.used.is_(False),
            EvaluationInvitation.reminded_at.is_(None),
            EvaluationInvitation.invited_at <= now - _days("EVALUATION_REMINDER_DAYS"),
        )
        .order_by(EvaluationInvitation.id)
    ).all()
    for invitation in due:
        invitation.reminded_at = now
        registration = invitation.registration
        if registration.status not in SEATED:
            continue
        if notices.reminder(registration, invitation, closes_at(evaluation)):
            run.reminded += 1


def _for_event(event_id: int, now: datetime) -> EventRun:
    event = lock_event(event_id)
    run = EventRun()
    ends = event.ends_at
    if event.status not in HELD or ends is None or ends > now - _hours("EVALUATION_SEND_AFTER_HOURS"):
        return run
    evaluation = questions.ensure(event)
    if evaluation.sent_at is None:
        if ends <= now - _days("EVALUATION_SEND_WITHIN_DAYS"):
            return run  # ended before the feature could thank anyone: never mailed
        evaluation.sent_at = now
    if now < closes_at(evaluation):
        _thank(event, evaluation, now, run)
    _remind(evaluation, now, run)
    if run.thanked or run.reminded:
        audit.record(
            None,
            "evaluation.sent",
            event,
            {"thanked": run.thanked, "certificates": run.certificates, "reminded": run.reminded},
        )
    return run


@dataclass
class SendRun:
    events: int = 0
    thanked: int = 0
    certificates: int = 0
    reminded: int = 0
    per_event: dict[int, EventRun] = field(default_factory=dict)


def send_due(now: datetime | None = None) -> SendRun:
    """Queue the thank-you mails and reminders that are due (cron, e.g. hourly; safe to
    repeat and to run twice at once). One write transaction per event."""
    now = now or clock.now()
    result = SendRun()
    for event_id in due_events(now):
        run = write_transaction(lambda event_id=event_id: _for_event(event_id, now))
        result.events += 1
        result.thanked += run.thanked
        result.certificates += run.certificates
        result.reminded += run.reminded
        if run.thanked or run.reminded:
            result.per_event[event_id] = run
    return result


@dataclass(frozen=True)
class Progress:
    """What the organiser's page says of the sending (counts only, never who answered)."""

    sent_at: datetime | None
    closes_at: datetime | None
    invited: int
    reminded: int
    answered: int


def progress(evaluation: Evaluation | None) -> Progress:
    if evaluation is None:
        return Progress(None, None, 0, 0, 0)
    invited, reminded, used = db.session.execute(
        sa.select(
            sa.func.count(EvaluationInvitation.id),
            sa.func.count(EvaluationInvitation.reminded_at),
            sa.func.coalesce(sa.func.sum(sa.case((EvaluationInvitation.used.is_(True), 1), else_=0)), 0),
        ).where(EvaluationInvitation.evaluation_id == evaluation.id)
    ).one()
    return Progress(evaluation.sent_at, closes_at(evaluation), int(invited), int(reminded), int(used))
