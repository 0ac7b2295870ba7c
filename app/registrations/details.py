"""A person corrects their own registration from the personal link, keeping their place.

Name, organisation, work team and needs change at once (with a receipt mail); a new email
address changes nothing until the person follows a confirmation link mailed to it, so a
typo cannot hand the registration to someone else. Every change is one write
transaction under the event lock, audited (who: the person, through the link; what: the
field names, not their values). The status and place in the queue never change here
(that is ``seats``).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer

from ..audit import entries as audit
from ..core import clock, text
from ..core.database import write_transaction
from ..core.errors import NotFound, Refused
from ..core.extensions import db
from ..core.urls import absolute_url
from ..mail import outbox
from ..models import Organisation, Registration
from . import notices
from .locking import lock_event
from .statuses import CANCELLABLE

#: Hours an email-change link works.
EMAIL_LINK_HOURS = 48
_BAD_LINK = _l("This link does not work any more. Change the address again from your personal page.")


@dataclass(frozen=True)
class Details:
    name: str
    organisation_id: int
    work_team: str = ""
    needs: str = ""


def _locked(token: str) -> Registration:
    event_id = db.session.scalar(sa.select(Registration.event_id).where(Registration.manage_token == token))
    if event_id is None:
        raise NotFound()
    lock_event(event_id)
    return db.session.scalar(
        sa.select(Registration)
        .where(Registration.manage_token == token)
        .execution_options(populate_existing=True)
    )


def _editable(registration: Registration) -> None:
    if registration.status not in CANCELLABLE or not is_still_ahead(registration):
        raise Refused(_l("This registration can no longer be changed."))


def is_still_ahead(registration: Registration) -> bool:
    """Whether the event is still ahead (details of a past event stay as they were)."""
    ends = registration.event.ends_at
    return ends is None or ends > clock.now()


def update_details(token: str, details: Details) -> Registration:
    """Change name, organisation, work team and needs; the place in the queue stays."""

    def work() -> Registration:
        registration = _locked(token)
        _editable(registration)
        organisation = db.session.get(Organisation, details.organisation_id)
        if organisation is None or (not organisation.active and organisation.id != registration.organisation_id):
            raise Refused(_l("Choose an organisation from the list."), field="organisation")
        wanted = {
            "name": text.one_line(details.name),
            "organisation_id": organisation.id,
            "work_team": text.one_line(details.work_team),
            "needs": text.multi_line(details.needs),
        }
        if not wanted["name"]:
            raise Refused(_l("Enter your name."), field="name")
        changed = [field for field, value in wanted.items() if getattr(registration, field) != value]
        if not changed:
            return registration
        for field in changed:
            setattr(registration, field, wanted[field])
        db.session.flush()
        stamp = clock.now().strftime("%Y%m%d%H%M%S%f")
        notices.enqueue_for_registration(
            "details_changed", registration, f"details:{registration.id}:{stamp}", calendar_method=None,
            changed=changed,
        )
        audit.record(None, "registration.edit", registration, {"fields": changed, "by": "person"})
        return registration

    return write_transaction(work)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="kvarn-email-change")


def request_email_change(token: str, new_email: str) -> str:
    """Mail a confirmation link to ``new_email``; nothing changes until it is followed.
    Returns the normalised address."""
    address = (new_email or "").strip().lower()

    def work() -> str:
        registration = _locked(token)
        _editable(registration)
        if address == registration.email:
            raise Refused(_l("That is already the address of this registration."), field="email")
        if _taken(registration, address):
            raise Refused(
                _l("That address is already registered for this event."), field="email"
            )
        link_token = email_change_token(registration, address)
        hour = clock.now().strftime("%Y%m%d%H")
        outbox.enqueue(
            kind="email_change",
            recipient=address,
            locale=registration.locale,
            dedupe_key=f"email-change:{registration.id}:{address}:{hour}"[:200],
            context={
                **notices.registration_context(registration, calendar_method=None),
                "new_email": address,
                "confirm_url": absolute_url(f"/r/email/{link_token}"),
                "hours": EMAIL_LINK_HOURS,
            },
            reply_to=notices.reply_to_for(registration.event),
            event_id=registration.event_id,
            registration_id=registration.id,
        )
        audit.record(None, "registration.email_requested", registration, {"by": "person"})
        return address

    return write_transaction(work)


def email_change_token(registration: Registration, new_email: str) -> str:
    """The signed link token that moves ``registration`` to ``new_email`` (once, for a while)."""
    issued = int(clock.now().timestamp())
    return _serializer().dumps([registration.id, registration.email, new_email, issued])


def _taken(registration: Registration, address: str) -> bool:
    return (
        db.session.scalar(
            sa.select(Registration.id).where(
                Registration.event_id == registration.event_id,
                Registration.active_email == address,
                Registration.id != registration.id,
            )
        )
        is not None
    )


def confirm_email_change(link_token: str) -> Registration:
    """Follow the link from the mail: the registration's address becomes the new one."""
    try:
        registration_id, old, new, issued = _serializer().loads(link_token)
    except (BadSignature, ValueError, TypeError):
        raise Refused(_BAD_LINK) from None
    if clock.now().timestamp() - int(issued) > EMAIL_LINK_HOURS * 3600:
        raise Refused(_BAD_LINK)

    def work() -> Registration:
        event_id = db.session.scalar(sa.select(Registration.event_id).where(Registration.id == registration_id))
        if event_id is None:
            raise Refused(_BAD_LINK)
        lock_event(event_id)
        registration = db.session.get(Registration, registration_id, populate_existing=True)
        if registration.email == new:
            return registration  # followed twice: already done
        if registration.email != old or registration.status not in CANCELLABLE:
            raise Refused(_BAD_LINK)  # used already, or the registration changed meanwhile
        if _taken(registration, new):
            raise Refused(_l("That address is already registered for this event."))
        registration.email = new
        registration.active_email = new
        db.session.flush()
        notices.enqueue_for_registration(
            "details_changed", registration, f"email-changed:{registration.id}:{new}"[:200],
            calendar_method=None, changed=["email"],
        )
        audit.record(None, "registration.email_changed", registration, {"by": "person"})
        return registration

    return write_transaction(work)
