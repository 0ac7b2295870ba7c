"""Public pages: the event list, an event, sign-up and the personal manage link."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from .. import clock, seats
from ..extensions import db, limiter
from ..i18n import current_language
from ..models import Event, EventKind, EventSession, EventStatus, Organisation, Registration
from ..urls import safe_next
from . import bp
from .forms import SignupForm

LISTED = (EventStatus.OPEN, EventStatus.GAUGING, EventStatus.CLOSED)


def organisation_choices() -> list[tuple[int, str]]:
    rows = db.session.execute(
        sa.select(Organisation.id, Organisation.name)
        .where(Organisation.active.is_(True))
        .order_by(Organisation.sort_order, Organisation.name)
    )
    return [(row.id, row.name) for row in rows]


def signup_choices() -> list[tuple[int | str, str]]:
    """Organisations for the sign-up form, after an empty first choice: nobody is
    registered for the first municipality in the list just by not choosing."""
    return [("", _("Choose your organisation…")), *organisation_choices()]


def public_event_or_404(event_id: int) -> Event:
    event = db.session.get(Event, event_id)
    if event is None or not event.is_public:
        abort(404)
    return event


@bp.get("/")
def index():
    return redirect(url_for("public.events"))


@bp.get("/events")
def events():
    kind = request.args.get("kind", "")
    now = clock.now()
    upcoming = (
        sa.select(EventSession.event_id)
        .group_by(EventSession.event_id)
        .having(sa.func.max(EventSession.ends_at) > now)
    )
    query = (
        sa.select(Event)
        .where(Event.status.in_(LISTED), Event.id.in_(upcoming))
        .options(sa.orm.selectinload(Event.sessions))
    )
    if kind in {k.value for k in EventKind}:
        query = query.where(Event.kind == kind)
    else:
        kind = ""
    found = sorted(db.session.scalars(query), key=lambda e: e.starts_at)
    counts = seats.counts_for(e.id for e in found)
    return render_template(
        "public/events.html", events=found, counts=counts, kind=kind, kinds=list(EventKind)
    )


def _render_event(event: Event, form: SignupForm, status: int = 200, notice: str | None = None):
    form.organisation.choices = signup_choices()
    counts = seats.counts_for([event.id])[event.id]
    return (
        render_template(
            "public/event.html", event=event, form=form, counts=counts, notice=notice
        ),
        status,
    )


@bp.get("/events/<int:event_id>")
def event(event_id: int):
    event = public_event_or_404(event_id)
    return _render_event(event, SignupForm())


@bp.post("/events/<int:event_id>/register")
@limiter.limit(lambda: current_app.config["SIGNUP_RATE_LIMIT"])
def register(event_id: int):
    # The seats module reads the event and the organisation under its lock; they are
    # read here again only to show the form with its messages.
    form = SignupForm()
    if not form.validate():
        return _render_event(public_event_or_404(event_id), form, 400)
    data = seats.SignUp(
        name=form.name.data,
        email=form.email.data,
        organisation_id=form.organisation.data,
        work_team=form.work_team.data or "",
        needs=form.needs.data or "",
        locale=current_language(),
        submission_key=form.submission_key.data or None,
    )
    try:
        result = seats.sign_up(event_id, data)
    except seats.NotFound:
        abort(404)
    except seats.SeatsError as error:
        if error.field and error.field in form:
            form[error.field].errors = [*form[error.field].errors, error.message]
        else:
            form.form_errors.append(error.message)
        return _render_event(public_event_or_404(event_id), form, 400)

    if result.outcome == seats.Outcome.ALREADY_REGISTERED:
        return _render_event(
            public_event_or_404(event_id),
            SignupForm(formdata=None),
            200,
            notice=_(
                "This email address is already registered for this event. We have sent the link "
                "to that registration to the address, so its owner can see or change it."
            ),
        )
    flash_for = {
        seats.Outcome.CONFIRMED: _("You have a seat. A confirmation is on its way by email."),
        seats.Outcome.WAITLISTED: _("The event is full, so you are on the waiting list. We will email you if you get a seat."),
        seats.Outcome.INTERESTED: _("Thank you! Your interest is registered. This is not a seat yet: we will email you when the organiser decides."),
    }
    if result.outcome in flash_for:
        flash(flash_for[result.outcome], "success")
    return redirect(url_for("public.manage", token=result.manage_token), 303)


def registration_or_404(token: str) -> Registration:
    if not token or len(token) > 64:
        abort(404)
    registration = db.session.scalar(
        sa.select(Registration).where(Registration.manage_token == token)
    )
    if registration is None:
        abort(404)
    ends = registration.event.ends_at
    keep = timedelta(days=current_app.config["MANAGE_LINK_DAYS_AFTER_EVENT"])
    if ends is not None and ends + keep < clock.now():
        abort(404)  # the link has expired with the event
    return registration


@bp.get("/r/<token>")
def manage(token: str):
    registration = registration_or_404(token)
    return render_template(
        "public/manage.html",
        registration=registration,
        event=registration.event,
        position=seats.waitlist_position(registration),
    )


@bp.post("/r/<token>/cancel")
def cancel(token: str):
    registration = registration_or_404(token)
    try:
        seats.cancel(registration.manage_token)
    except seats.NotFound:
        abort(404)
    except seats.SeatsError as error:
        flash(str(error.message), "error")
        return redirect(url_for("public.manage", token=token), 303)
    flash(_("Your registration is cancelled. A receipt is on its way by email."), "success")
    return redirect(url_for("public.manage", token=token), 303)


@bp.get("/lang/<code>")
def set_language(code: str):
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")))
