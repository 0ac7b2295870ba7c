"""Public pages: the event list, an event, sign-up and the personal manage link."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
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
from ..core.errors import Refused
from ..core.extensions import limiter
from ..core.form_base import refuse_onto
from ..core.i18n import current_language
from ..core.params import page_arg
from ..core.security import private
from ..core.urls import safe_next
from ..events import listing
from ..events.calendar_files import event_calendar_bytes
from ..events.statuses import kind_label
from ..models import Event, EventKind
from ..registrations import reads, seats
from .forms import EventFilterForm, SignupForm

bp = Blueprint("public", __name__)


def signup_choices() -> list[tuple[int | str, str]]:
    """Organisations for the sign-up form, after an empty first choice: nobody is
    registered for the first municipality in the list just by not choosing."""
    return [("", _("Choose your organisation…")), *active_organisations()]


@bp.get("/")
def index():
    return redirect(url_for("public.events"))


def _listing(past: bool):
    """The listing or the archive, with the filters from the query string (shareable)."""
    form = EventFilterForm(request.args)
    form.organisation.choices = [("", _("All organisers")), *active_organisations()]
    form.kind.choices = [("", _("All kinds"))] + [(k.value, kind_label(k)) for k in EventKind]
    status = 200
    if request.args and not form.validate():
        status = 400
        found = listing.Page([], 1, 1, 0)
    else:
        kind = form.kind.data if form.kind.data in {k.value for k in EventKind} else None
        filters = listing.Filters(
            q=form.q.data or "",
            organisation_id=form.organisation.data or None,
            kind=EventKind(kind) if kind else None,
            date_from=form.date_from.data,
            date_to=form.date_to.data,
            past=past,
        )
        found = listing.search(filters, page_arg())
    counts = reads.counts_for(e.id for e in found.events)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "public/events.html", form=form, page=found, counts=counts, past=past, args=args
    ), status


@bp.get("/events")
def events():
    return _listing(past=False)


@bp.get("/events/past")
def archive():
    return _listing(past=True)


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


@bp.get("/events/<int:event_id>/calendar.ics")
def event_calendar(event_id: int):
    """The event's sessions for any calendar: public, without anyone's personal link."""
    event = listing.public_event(event_id)
    return Response(
        event_calendar_bytes(event),
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="kvarn-event-{event.id}.ics"'},
    )


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


@bp.get("/lang/<code>")
def set_language(code: str):
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")))
