"""Public pages: the event list, an event, sign-up and the personal manage link."""

from __future__ import annotations

from datetime import timedelta

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from ..accounts.organisations import active_organisations
from ..core import clock
from ..core.errors import NotFound, Refused, on_refusal_return_to
from ..core.extensions import limiter
from ..core.form_base import refuse_onto
from ..core.i18n import current_language
from ..core.security import private
from ..core.urls import safe_next
from ..events import listing
from ..models import Event, EventKind, Registration
from ..registrations import reads, seats
from .forms import SignupForm

bp = Blueprint("public", __name__)


def signup_choices() -> list[tuple[int | str, str]]:
    """Organisations for the sign-up form, after an empty first choice: nobody is
    registered for the first municipality in the list just by not choosing."""
    return [("", _("Choose your organisation…")), *active_organisations()]


@bp.get("/")
def index():
    return redirect(url_for("public.events"))


@bp.get("/events")
def events():
    kind = request.args.get("kind", "")
    if kind not in {k.value for k in EventKind}:
        kind = ""
    found = listing.upcoming_public(EventKind(kind) if kind else None)
    counts = reads.counts_for(e.id for e in found)
    return render_template(
        "public/events.html", events=found, counts=counts, kind=kind, kinds=list(EventKind)
    )


def _render_event(event: Event, form: SignupForm, status: int = 200, notice: str | None = None):
    form.organisation.choices = signup_choices()
    counts = reads.counts_of(event.id)
    return (
        render_template(
            "public/event.html", event=event, form=form, counts=counts, notice=notice
        ),
        status,
    )


@bp.get("/events/<int:event_id>")
def event(event_id: int):
    event = listing.public_event(event_id)
    return _render_event(event, SignupForm())


@bp.post("/events/<int:event_id>/register")
@limiter.limit(lambda: current_app.config["SIGNUP_RATE_LIMIT"])
@private
def register(event_id: int):
    # The seats module reads the event and the organisation under its lock; they are
    # read here again only to show the form with its messages.
    form = SignupForm()
    if not form.validate():
        return _render_event(listing.public_event(event_id), form, 400)
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
    except Refused as refusal:
        refuse_onto(form, refusal)
        return _render_event(listing.public_event(event_id), form, 400)

    if result.outcome == seats.Outcome.ALREADY_REGISTERED:
        return _render_event(
            listing.public_event(event_id),
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
    """The registration of a personal link that still works (it expires with the event)."""
    registration = reads.by_manage_token(token)
    if registration is None:
        raise NotFound()
    ends = registration.event.ends_at
    keep = timedelta(days=current_app.config["MANAGE_LINK_DAYS_AFTER_EVENT"])
    if ends is not None and ends + keep < clock.now():
        raise NotFound()
    return registration


@bp.get("/r/<token>")
@private
def manage(token: str):
    registration = registration_or_404(token)
    return render_template(
        "public/manage.html",
        registration=registration,
        event=registration.event,
        position=reads.waitlist_position(registration),
    )


@bp.post("/r/<token>/cancel")
@private
def cancel(token: str):
    registration = registration_or_404(token)
    on_refusal_return_to(url_for("public.manage", token=token))
    seats.cancel(registration.manage_token)
    flash(_("Your registration is cancelled. A receipt is on its way by email."), "success")
    return redirect(url_for("public.manage", token=token), 303)


@bp.get("/lang/<code>")
def set_language(code: str):
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")))
