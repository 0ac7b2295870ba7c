"""Organisers' event pages: list, create, edit (with the "who will be told" step),
publish, gauge interest, close, reopen, confirm a gauged event, cancel."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.routing import BuildError

from ..accounts.access import roles_required
from ..accounts.roles import ORGANISERS
from ..core.errors import Refused, on_refusal_return_to
from ..core.form_base import refuse_onto
from ..events import editing, listing, publishing
from ..events.schedule import describe
from ..models import Event, RegistrationStatus
from ..registrations import reads, seats
from ..registrations.statuses import SEATED
from .blueprint import bp
from .forms import CancelEventForm, EventForm, form_data_for

# Pages other staff areas add per event, shown on the event page once they exist.
EVENT_LINKS = (
    ("staff.event_messages", _l("Write to participants")),
    ("staff.attendance", _l("Printable attendance list")),
    ("staff.export_csv", _l("Download registrations (CSV)")),
    ("staff.export_xlsx", _l("Download registrations (Excel)")),
    ("staff.event_announcement", _l("Announce free seats to subscribers")),
    ("staff.event_poster", _l("Printable poster with a QR code")),
    ("staff.event_evaluation", _l("Evaluation and certificates")),
    ("staff.event_evaluation_summary", _l("Summary of the evaluation")),
)


@bp.get("/events", endpoint="events")
@roles_required(*ORGANISERS)
def events_list():
    show = request.args.get("show", "current")
    if show not in listing.STAFF_VIEWS:
        show = "current"
    found = listing.staff_events(show)
    counts = reads.counts_for(e.id for e in found)
    return render_template("staff/events/list.html", events=found, counts=counts, show=show)


def _render_form(form: EventForm, event: Event | None, status: int = 200):
    form.confirm_notice.data = ""  # every confirm step starts again from the form
    template = "staff/events/edit.html" if event else "staff/events/new.html"
    return render_template(template, form=form, event=event), status


def _wants_new_session(form: EventForm) -> bool:
    if "add_session" in request.form and len(form.sessions) < form.sessions.max_entries:
        form.sessions.append_entry()
        return True
    return False


@bp.route("/events/new", methods=["GET", "POST"])
@roles_required(*ORGANISERS)
def event_new():
    form = EventForm()
    if request.method == "POST":
        form.drop_removed_sessions()
        if _wants_new_session(form):
            return _render_form(form, None)
        if form.validate():
            try:
                event = editing.create_event(form.to_data(), current_user.id)
            except Refused as refusal:
                refuse_onto(form, refusal)
            else:
                flash(_("The event is saved as a draft. Publish it when it is ready."), "success")
                return redirect(url_for("staff.event_detail", event_id=event.id), 303)
        return _render_form(form, None, 400)
    return _render_form(form, None)


@bp.route("/events/<int:event_id>/edit", methods=["GET", "POST"])
@roles_required(*ORGANISERS)
def event_edit(event_id: int):
    event = listing.any_event(event_id)
    if request.method == "GET":
        return _render_form(EventForm(data=form_data_for(event)), event)
    form = EventForm()
    form.drop_removed_sessions()
    if _wants_new_session(form) or "back" in request.form:
        return _render_form(form, event)
    if not form.validate():
        return _render_form(form, event, 400)
    try:
        result = editing.update_event(
            event.id,
            form.to_data(),
            current_user.id,
            notify_confirmed=form.confirm_notice.data == "1",
        )
    except editing.NeedsConfirmation as needed:
        plan = needed.plan
        return render_template(
            "staff/events/confirm_change.html",
            form=form,
            event=event,
            changes=describe(plan.changes),
            people=plan.people,
            seated=plan.count(*SEATED),
            waitlisted=plan.count(RegistrationStatus.WAITLISTED),
            interested=plan.count(RegistrationStatus.INTERESTED),
        )
    except Refused as refusal:
        refuse_onto(form, refusal)
        return _render_form(form, event, 400)
    messages = [_("The changes are saved.")]
    if result.notified:
        messages.append(
            ngettext(
                "%(num)d person is being told about the change by email.",
                "%(num)d people are being told about the change by email.",
                result.notified,
            )
        )
    if result.promoted:
        messages.append(
            ngettext(
                "%(num)d person got a seat from the waiting list.",
                "%(num)d people got a seat from the waiting list.",
                len(result.promoted),
            )
        )
    flash(" ".join(messages), "success")
    return redirect(url_for("staff.event_detail", event_id=event.id), 303)


def _extra_links(event: Event) -> list[tuple[str, str]]:
    links = []
    for endpoint, label in EVENT_LINKS:
        try:
            links.append((url_for(endpoint, event_id=event.id), label))
        except BuildError:
            continue
    return links


@bp.get("/events/<int:event_id>")
@roles_required(*ORGANISERS)
def event_detail(event_id: int):
    event = listing.any_event(event_id)
    counts = reads.counts_of(event.id)
    return render_template(
        "staff/events/detail.html",
        event=event,
        counts=counts,
        phase=event.phase(),
        extra_links=_extra_links(event),
    )


def _transition(event_id: int, service, done: str):
    """A button on the event page: one service call; a refusal returns to the page."""
    event = listing.any_event(event_id)
    on_refusal_return_to(url_for("staff.event_detail", event_id=event.id))
    service(event.id, current_user.id)
    flash(done, "success")
    return redirect(url_for("staff.event_detail", event_id=event.id), 303)


@bp.post("/events/<int:event_id>/publish")
@roles_required(*ORGANISERS)
def event_publish(event_id: int):
    return _transition(event_id, publishing.publish, _("The event is published and open for registration."))


@bp.post("/events/<int:event_id>/gauge")
@roles_required(*ORGANISERS)
def event_gauge(event_id: int):
    return _transition(
        event_id, publishing.publish_gauging, _("The event is published. People can now register interest.")
    )


@bp.post("/events/<int:event_id>/close")
@roles_required(*ORGANISERS)
def event_close(event_id: int):
    return _transition(event_id, publishing.close, _("Registration is closed."))


@bp.post("/events/<int:event_id>/reopen")
@roles_required(*ORGANISERS)
def event_reopen(event_id: int):
    return _transition(event_id, publishing.reopen, _("Registration is open again."))


@bp.post("/events/<int:event_id>/confirm")
@roles_required(*ORGANISERS)
def event_confirm(event_id: int):
    event = listing.any_event(event_id)
    on_refusal_return_to(url_for("staff.event_detail", event_id=event.id))
    confirmed, waitlisted = seats.open_gauged_event(event.id, current_user.id)
    flash(
        _(
            "The event is confirmed and open. %(confirmed)d got a seat and %(waitlisted)d are on the waiting list; everyone is told by email.",
            confirmed=len(confirmed),
            waitlisted=len(waitlisted),
        ),
        "success",
    )
    return redirect(url_for("staff.event_detail", event_id=event.id), 303)


def default_cancel_message(event: Event) -> str:
    return _(
        "We are sorry, but we have had to cancel %(title)s. If you have questions, reply to this email.",
        title=event.title,
    )


@bp.route("/events/<int:event_id>/cancel", methods=["GET", "POST"])
@roles_required(*ORGANISERS)
def event_cancel(event_id: int):
    event = listing.any_event(event_id)
    form = CancelEventForm()
    if request.method == "GET":
        form.message.data = default_cancel_message(event)
    elif form.validate():
        try:
            told = seats.cancel_event(event.id, current_user.id, form.message.data or "")
        except Refused as refusal:
            refuse_onto(form, refusal)
        else:
            flash(
                ngettext(
                    "The event is cancelled. %(num)d person is told by email.",
                    "The event is cancelled. %(num)d people are told by email.",
                    len(told),
                ),
                "success",
            )
            return redirect(url_for("staff.event_detail", event_id=event.id), 303)
    counts = reads.counts_of(event.id)
    status = 400 if request.method == "POST" else 200
    return (
        render_template("staff/events/cancel.html", event=event, form=form, counts=counts),
        status,
    )
