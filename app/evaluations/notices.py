"""The mails of evaluations: the thank-you mail after the last session (with the
evaluation link, and the certificate PDF when the person qualifies) and its one reminder.
Called inside the transaction that decides them (``invitations``).

Dedupe keys start with ``evaluation:<registration>:`` and name the mail (``thanks``,
``reminder``), so each person gets each of them once however often cron runs. No mail
is ever queued when someone answers: an outbox row written then would join the answer's
moment to the person.
"""

from __future__ import annotations

from datetime import datetime

from ..core.urls import absolute_url
from ..mail import outbox
from ..models import Certificate, EvaluationInvitation, Registration
from ..registrations.notices import registration_context, reply_to_for
from . import certificates

THANKS = "evaluation_thanks"
REMINDER = "evaluation_reminder"


def key_prefix(registration_id: int) -> str:
    return f"evaluation:{registration_id}:"


def thanks_key(registration_id: int) -> str:
    return f"{key_prefix(registration_id)}thanks"


def reminder_key(registration_id: int) -> str:
    return f"{key_prefix(registration_id)}reminder"


def evaluation_url(invitation: EvaluationInvitation) -> str:
    return absolute_url(f"/evaluations/{invitation.token}")


def certificate_url(registration: Registration) -> str:
    return absolute_url(f"/r/{registration.manage_token}/certificate.pdf")


def _context(
    registration: Registration,
    invitation: EvaluationInvitation,
    evaluation_open: bool,
    closes_at: datetime,
    certificate: Certificate | None,
) -> dict:
    return registration_context(
        registration,
        position=None,
        evaluation_url=evaluation_url(invitation) if evaluation_open else None,
        closes_at=closes_at,
        certificate=certificate,
        certificate_code=certificates.format_code(certificate.code) if certificate else None,
        certificate_url=certificate_url(registration) if certificate else None,
        verify_url=certificates.verify_url(certificate.code) if certificate else None,
    )


def thanks(
    registration: Registration,
    invitation: EvaluationInvitation,
    evaluation_open: bool,
    closes_at: datetime,
    certificate: Certificate | None,
) -> bool:
    """The thank-you mail: the evaluation link (when the event has an evaluation) and the
    certificate attached (when the person qualifies). Queued once per registration."""
    attachments = []
    if certificate is not None:
        attachments.append(
            {
                "filename": certificates.filename(certificate),
                "content_type": "application/pdf",
                "data": certificates.pdf(certificate, registration.locale),
            }
        )
    return outbox.enqueue(
        kind=THANKS,
        recipient=registration.email,
        locale=registration.locale,
        dedupe_key=thanks_key(registration.id),
        context=_context(registration, invitation, evaluation_open, closes_at, certificate),
        reply_to=reply_to_for(registration.event),
        attachments=attachments,
        event_id=registration.event_id,
        registration_id=registration.id,
    )


def reminder(
    registration: Registration, invitation: EvaluationInvitation, closes_at: datetime
) -> bool:
    """The one reminder to answer, a few days after the thank-you mail."""
    return outbox.enqueue(
        kind=REMINDER,
        recipient=registration.email,
        locale=registration.locale,
        dedupe_key=reminder_key(registration.id),
        context=_context(registration, invitation, True, closes_at, None),
        reply_to=reply_to_for(registration.event),
        event_id=registration.event_id,
        registration_id=registration.id,
    )
