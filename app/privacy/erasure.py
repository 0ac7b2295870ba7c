"""A person erases all their registrations (GDPR article 17), confirmed from their address.

The rules this module owns:

- Asked for from a personal link, it starts nothing but a mail to the registration's
  address with a signed link (``links``, ``PRIVACY_LINK_HOURS``); the link opens a page
  that says what will happen, and only its button (a POST) erases: a mail program that
  fetches links erases nothing.
- Erasing is one write transaction: ``registrations.seats.erase_registrations`` cancels
  the active registrations (their seats go to the waiting list, whose people get their
  "promoted" mail) and anonymises every registration and team sign-up of the address;
  then its unsent mail is deleted and its sent mail stripped (``forgetting``), the audit
  log forgets the address (entries about that mail, audit-log downloads filtered by it),
  a receipt is queued to the address (counts only; its recipient goes once it is sent),
  and ``person.erasure`` is recorded with counts only, never the address.
- Following the link again erases nothing more and says so (``links.LinkUsed``). Subscriptions to new events
  are the person's own separate consent and stay (their mails say how to stop them).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from ..audit import entries as audit
from ..core.database import write_transaction
from ..core.errors import NotFound
from ..core.extensions import db
from ..models import EventStatus, OutboxMessage, Registration, Team
from ..registrations import reads, seats
from ..registrations.statuses import CANCELLABLE
from . import forgetting, links, notices


@dataclass(frozen=True)
class Preview:
    """What erasing the address of a link would do, for the confirmation page."""

    email: str
    registrations: int
    events: int
    #: Active registrations of events not yet over: cancelled, their places passed on.
    active: int
    teams: int


@dataclass(frozen=True)
class Outcome:
    registrations: int
    events: int
    cancelled: int
    promoted: int


def _preview(email: str) -> Preview:
    rows = db.session.execute(
        sa.select(Registration.event_id, Registration.status).where(Registration.email == email)
    ).all()
    registrations = list(
        db.session.scalars(
            sa.select(Registration).where(
                Registration.email == email, Registration.status.in_([s.value for s in CANCELLABLE])
            )
        )
    )
    active = sum(1 for r in registrations if r.event.phase() != EventStatus.FINISHED)
    teams = db.session.scalar(sa.select(sa.func.count(Team.id)).where(Team.contact_email == email))
    return Preview(email, len(rows), len({event_id for event_id, _ in rows}), active, int(teams or 0))


def request(token: str) -> str:
    """Mail the confirmation link to the address of a personal link's registration.
    Returns the address."""

    def work() -> str:
        registration = reads.by_manage_token(token)
        if registration is None:
            raise NotFound()
        preview = _preview(registration.email)
        notices.erasure_link(registration, preview.registrations, preview.events)
        audit.record(None, "person.erasure_requested", registration, {"by": "person"})
        return registration.email

    return write_transaction(work)


def preview(link_token: str) -> Preview:
    """What the link would erase; ``Refused`` for a link that no longer works."""
    return _preview(links.read(links.ERASURE, link_token).email)


def confirm(link_token: str) -> Outcome:
    """Erase every registration of the link's address (see the module's rules)."""

    def work() -> Outcome:
        link = links.read(links.ERASURE, link_token)  # inside: a second click finds it used
        address, locale = link.email, link.registration.locale
        erased = seats.erase_registrations(address)
        if erased.nothing:  # erased meanwhile by the same link, followed twice at once
            raise links.LinkUsed()
        mail = [OutboxMessage.registration_id.in_(erased.registration_ids or (-1,))]
        if erased.team_ids:
            mail.append(OutboxMessage.dedupe_key.in_([f"team_created:{i}" for i in erased.team_ids]))
        forgotten = forgetting.forget_messages(sa.or_(*mail))
        scrubbed = forgetting.scrub_message_entries(forgotten.message_ids)
        scrubbed += forgetting.scrub_participant_filters(address)
        outcome = Outcome(
            len(erased.registration_ids), erased.events, erased.cancelled, erased.promoted
        )
        notices.erasure_done(address, locale, outcome.registrations, outcome.events, outcome.cancelled)
        audit.record(
            None,
            "person.erasure",
            None,
            {
                "registrations": outcome.registrations,
                "events": erased.events,
                "cancelled": erased.cancelled,
                "promoted": erased.promoted,
                "teams": len(erased.team_ids),
                "messages": forgotten.total,
                "audit_entries": scrubbed,
            },
        )
        return outcome

    return write_transaction(work)
