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
from ..models import Event
from ..registrations import reads, seats
from .forms import SignupForm, blank_colleague_row
from .listing_filters import read_filters

bp = Blueprint("public", __name__)


def signup_choices() -> list[tuple[int | str, str]]:
    """Organisations for the sign-up form, after an empty first choice: nobody is
    registered for the first municipality in the list just by not choosing."""
    return [("", _("Choose your organisation…")), *active_organisations()]


@bp.get("/")
def index():
    return redirect(url_for("public.events"))


def _listing(past: bool):
    """The listing or the archive, with the filters from the query string (shareable);
    the query string is read as the feeds and the embedded list read it (``listing_filters``)."""
    reading = read_filters(request.args, past=past)
    form, status = reading.form, 200
    if reading.filters is None:
        status = 400
        found = listing.Page([], 1, 1, 0)
    else:
        found = listing.search(reading.filters, page_arg())
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
    same = [("", _("Same as yours")), *active_organisations()]
    template_row = blank_colleague_row()
    for row in [template_row, *(entry.form for entry in form.colleagues)]:
        row.organisation.choices = same
    counts = reads.counts_of(event.id)
    return (
        render_template(
            "public/event.html",
            event=event,
            form=form,
            counts=counts,
            notice=notice,
            colleague_template=template_row,
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
    if _edit_rows(form, request.form.get("action", "")):
        return _render_event(listing.public_event(event_id), form)
    if not form.validate():
        return _render_event(listing.public_event(event_id), form, 400)
    if form.colleagues.entries:
        return _register_team(event_id, form)
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
    # The personal page says what happened (``signed_up``): no session cookie is written,
    # which spares every sign-up the cookie's signing and serialising.
    return redirect(url_for("public.manage", token=result.manage_token, signed_up=1), 303)


def _edit_rows(form: SignupForm, action: str) -> bool:
    """The form's own buttons without JavaScript: add a colleague's row or remove one.
    Nothing is validated or written; the page comes back with the rows changed."""
    if action == "add-colleague":
        if len(form.colleagues) < form.colleagues.max_entries:
            form.colleagues.append_entry()
    elif action.startswith("remove-colleague-"):
        name = "colleagues-" + action.removeprefix("remove-colleague-")
        form.colleagues.entries = [e for e in form.colleagues.entries if e.name != name]
    else:
        return False
    form.number_rows()
    return True


def _register_team(event_id: int, form: SignupForm):
    """Sign up the person and their colleagues as one team (``seats.sign_up_team``)."""
    organisation, work_team = form.organisation.data, form.work_team.data or ""
    members = [
        seats.Member(form.name.data, form.email.data, organisation, work_team, form.needs.data or "")
    ] + [
        seats.Member(
            row.name.data,
            row.email.data,
            row.organisation.data or organisation,
            row.work_team.data or work_team,
        )
        for row in (entry.form for entry in form.colleagues)
    ]
    data = seats.TeamSignUp(
        members=tuple(members),
        keep_together=form.keep_together.data,
        locale=current_language(),
        submission_key=form.submission_key.data or None,
    )
    try:
        result = seats.sign_up_team(event_id, data)
    except seats.RowsRefused as refusal:
        _refuse_rows(form, refusal)
        return _render_event(listing.public_event(event_id), form, 400)
    except Refused as refusal:
        refuse_onto(form, refusal)
        return _render_event(listing.public_event(event_id), form, 400)
    if not result.resubmitted:
        flash(_team_flash(result), "success")
        for index, why in sorted(result.refused.items()):
            person = members[index]
            flash(_("%(name)s (%(email)s) was not signed up: %(why)s", name=person.name, email=person.email, why=why), "warning")
    return redirect(url_for("public.team", team_token=result.manage_token), 303)


def _refuse_rows(form: SignupForm, refusal: seats.RowsRefused) -> None:
    """Each refused row's reason next to its field; the message above the form."""
    form.form_errors.append(refusal.message)
    for index, (name, why) in refusal.rows.items():
        row = form if index == 0 else form.colleagues.entries[index - 1].form
        field = row[name]
        field.errors = [*field.errors, why]


def _team_flash(result: seats.TeamSignUpResult) -> str:
    statuses = [registration.status.value for _, registration in result.placed]
    seated, waiting = statuses.count("confirmed"), statuses.count("waitlisted")
    if statuses.count("interested"):
        return _("Thank you! Your team's interest is registered. Everyone gets their own email.")
    return _(
        "Your team is signed up: %(seated)d with a seat, %(waiting)d on the waiting list. "
        "Everyone gets their own email, and you get a summary.",
        seated=seated,
        waiting=waiting,
    )


@bp.get("/lang/<code>")
def set_language(code: str):
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")))
