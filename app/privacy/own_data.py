"""A person's own data (GDPR article 15): everything Kvarn holds about one address, as JSON.

The rule this module owns: what the copy holds, and who gets it. It holds every
registration of the address in every event (with its check-ins, evaluation invitations
and certificates), the team sign-ups it made, its subscription to new events, the mail
sent to it (what, when, whether delivered: not the contents, which are the registrations
again) and the audit log's entries about its registrations (what happened when; not which
staff member). Evaluation answers are not in it: they are anonymous and point at nobody.
Secrets are left out (personal, team and evaluation links), so the file can be kept
anywhere. The copy is asked for from a personal link but mailed, as a link, to the
registration's address (``notices``): only the owner of the address opens it. Both the
request and the download are audited.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from ..audit import entries as audit
from ..core import clock
from ..core.database import write_transaction
from ..core.errors import NotFound
from ..core.extensions import db
from ..models import (
    AuditEntry,
    Certificate,
    Evaluation,
    EvaluationInvitation,
    Event,
    EventSession,
    OutboxMessage,
    Registration,
    SessionAttendance,
    Subscription,
    Team,
)
from ..registrations import reads
from . import links, notices

FORMAT = "kvarn-own-data/1"


def _moment(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _event(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "title": event.title,
        "kind": event.kind.value,
        "starts_at": _moment(event.starts_at),
        "ends_at": _moment(event.ends_at),
    }


def collect(email: str) -> dict[str, Any]:
    """Everything held about ``email`` (compared as stored: lower case)."""
    address = (email or "").strip().lower()
    registrations = list(
        db.session.scalars(
            sa.select(Registration)
            .where(Registration.email == address)
            .order_by(Registration.created_at, Registration.id)
        )
    )
    ids = [r.id for r in registrations]
    sessions: dict[int, list[dict]] = {}
    if ids:
        for registration_id, session, checked_in_at in db.session.execute(
            sa.select(SessionAttendance.registration_id, EventSession, SessionAttendance.checked_in_at)
            .join(EventSession, EventSession.id == SessionAttendance.session_id)
            .where(SessionAttendance.registration_id.in_(ids))
            .order_by(EventSession.starts_at)
        ):
            sessions.setdefault(registration_id, []).append(
                {"session_starts_at": _moment(session.starts_at), "checked_in_at": _moment(checked_in_at)}
            )
    invitations = (
        db.session.execute(
            sa.select(EvaluationInvitation, Evaluation.event_id)
            .join(Evaluation, Evaluation.id == EvaluationInvitation.evaluation_id)
            .where(EvaluationInvitation.registration_id.in_(ids))
            .order_by(EvaluationInvitation.invited_at)
        ).all()
        if ids
        else []
    )
    certificates = (
        list(db.session.scalars(sa.select(Certificate).where(Certificate.registration_id.in_(ids))))
        if ids
        else []
    )
    teams = list(
        db.session.scalars(
            sa.select(Team).where(Team.contact_email == address).order_by(Team.created_at, Team.id)
        )
    )
    subscription = db.session.scalar(sa.select(Subscription).where(Subscription.email == address))
    mail_filter = OutboxMessage.recipient == address
    if ids:
        mail_filter = sa.or_(mail_filter, OutboxMessage.registration_id.in_(ids))
    messages = list(
        db.session.scalars(
            sa.select(OutboxMessage).where(mail_filter).order_by(OutboxMessage.created_at, OutboxMessage.id)
        )
    )
    history = []
    team_ids = [t.id for t in teams]
    if ids or team_ids:
        about = sa.or_(
            sa.and_(AuditEntry.object_type == "registration", AuditEntry.object_id.in_(ids or [-1])),
            sa.and_(AuditEntry.object_type == "team", AuditEntry.object_id.in_(team_ids or [-1])),
        )
        history = list(
            db.session.scalars(
                sa.select(AuditEntry).where(about).order_by(AuditEntry.created_at, AuditEntry.id)
            )
        )
    return {
        "format": FORMAT,
        "made_at": _moment(clock.now()),
        "controller": str(current_app.config.get("ORGANISATION_NAME") or current_app.config["SITE_NAME"]),
        "email": address,
        "registrations": [
            {
                "id": r.id,
                "event": _event(r.event),
                "name": r.name,
                "email": r.email,
                "organisation": r.organisation.name,
                "work_team": r.work_team,
                "needs": r.needs,
                "language": r.locale,
                "status": r.status.value,
                "registered_at": _moment(r.created_at),
                "status_changed_at": _moment(r.status_changed_at),
                "checked_in_at": _moment(r.checked_in_at),
                "sessions_checked_in": sessions.get(r.id, []),
                "team_id": r.team_id,
                "waiting_list_position": reads.waitlist_position(r),
            }
            for r in registrations
        ],
        "teams_signed_up": [
            {
                "id": t.id,
                "event": _event(t.event),
                "contact_name": t.contact_name,
                "contact_email": t.contact_email,
                "kept_together": t.keep_together,
                "language": t.locale,
                "signed_up_at": _moment(t.created_at),
                "members": len(reads.team_members(t.id)),
            }
            for t in teams
        ],
        "subscription": (
            {
                "email": subscription.email,
                "frequency": subscription.frequency.value,
                "kinds": sorted(k.kind.value for k in subscription.kinds),
                "arranged_by": sorted(o.organisation.name for o in subscription.organisations),
                "language": subscription.locale,
                "created_at": _moment(subscription.created_at),
                "confirmed_at": _moment(subscription.confirmed_at),
                "last_digest_at": _moment(subscription.last_digest_at),
            }
            if subscription is not None
            else None
        ),
        "messages": [
            {
                "kind": m.kind,
                "to": m.recipient,
                "subject": m.subject,
                "status": m.status.value,
                "queued_at": _moment(m.created_at),
                "sent_at": _moment(m.sent_at),
                "event_id": m.event_id,
            }
            for m in messages
        ],
        "evaluation_invitations": [
            {
                "event_id": event_id,
                "invited_at": _moment(invitation.invited_at),
                "reminded_at": _moment(invitation.reminded_at),
                "answered": invitation.used,
            }
            for invitation, event_id in invitations
        ],
        "certificates": [
            {
                "code": c.code,
                "registration_id": c.registration_id,
                "issued_at": _moment(c.issued_at),
                "sessions_attended": c.sessions_attended,
                "sessions_total": c.sessions_total,
            }
            for c in certificates
        ],
        "history": [
            {
                "at": _moment(e.created_at),
                "action": e.action,
                "about": f"{e.object_type} {e.object_id}",
                "by_staff": e.user_id is not None,
            }
            for e in history
        ],
    }


def request_link(token: str) -> str:
    """Mail the download link to the address of the registration behind a personal link.
    Returns the address (for the page to say where the link went)."""

    def work() -> str:
        registration = reads.by_manage_token(token)
        if registration is None:
            raise NotFound()
        notices.own_data_link(registration)
        audit.record(None, "person.data_requested", registration, {"by": "person"})
        return registration.email

    return write_transaction(work)


def download(link_token: str) -> tuple[str, bytes]:
    """(file name, JSON bytes) of the data of the address a download link was mailed to;
    ``Refused`` for a link that no longer works. Audited before the bytes are returned."""
    link = links.read(links.OWN_DATA, link_token)
    data = collect(link.email)
    registration_id = link.registration.id
    counts = {
        "registrations": len(data["registrations"]),
        "teams": len(data["teams_signed_up"]),
        "messages": len(data["messages"]),
        "subscription": data["subscription"] is not None,
    }

    def work() -> None:
        audit.record(None, "person.data_download", db.session.get(Registration, registration_id), counts)

    write_transaction(work)
    stamp = clock.local(clock.now()).strftime("%Y%m%d-%H%M")
    body = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False).encode("utf-8")
    return f"kvarn-my-data-{stamp}.json", body
