"""The personal link (/r/<token>): a person's own registration, without an account.

See it, correct it (name, organisation, work team, needs: the place in the queue stays),
move it to another email address (confirmed from that address), and cancel it after a
confirmation step that says what cancelling means for this status. Every page here is
private (never cached) and shows only its owner's data.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..core import clock
from ..core.errors import NotFound, Refused, on_refusal_return_to
from ..core.form_base import refuse_onto
from ..core.security import private
from ..evaluations import certificates
from ..events.calendar_files import event_calendar_bytes, registration_calendar_bytes
from ..models import Registration
from ..registrations import details, reads, seats
from ..registrations.statuses import SEATED, can_cancel
from .forms import ConfirmForm, EditRegistrationForm, EmailChangeForm
from .views import bp, signup_choices


def link_expired(event) -> bool:
    """Whether personal and team links of ``event`` have stopped working:
    ``MANAGE_LINK_DAYS_AFTER_EVENT`` days after it ended."""
    ends = event.ends_at
    keep = timedelta(days=current_app.config["MANAGE_LINK_DAYS_AFTER_EVENT"])
    return ends is not None and ends + keep < clock.now()


def registration_or_404(token: str) -> Registration:
    """The registration of a personal link that still works (it expires with the event)."""
    registration = reads.by_manage_token(token)
    if registration is None or link_expired(registration.event):
        raise NotFound()
    return registration


def _page(
    registration: Registration, edit_form=None, email_form=None, status: int = 200, notice=None
):
    if edit_form is None:
        edit_form = EditRegistrationForm(
            formdata=None,
            data={
                "name": registration.name,
                "organisation": registration.organisation_id,
                "work_team": registration.work_team,
                "needs": registration.needs,
            },
        )
    edit_form.organisation.choices = signup_choices()
    team = reads.team_facts(registration.team_id) if registration.team_id is not None else None
    contact = registration.team is not None and registration.team.contact_email == registration.email
    return render_template(
        "public/manage.html",
        registration=registration,
        notice=notice,
        team=team,
        team_link=url_for("public.team", team_token=team.manage_token) if team and contact else None,
        event=registration.event,
        position=reads.waitlist_position(registration),
        form=edit_form,
        email_form=email_form or EmailChangeForm(formdata=None),
        changeable=details.is_still_ahead(registration) and can_cancel(registration, registration.event),
        certificate_offered=certificates.offered(registration),
    ), status


#: What the personal page says right after a sign-up (``?signed_up=1``), by status.
SIGNED_UP = {
    "confirmed": _l("You have a seat. A confirmation is on its way by email."),
    "waitlisted": _l("The event is full, so you are on the waiting list. We will email you if you get a seat."),
    "interested": _l("Thank you! Your interest is registered. This is not a seat yet: we will email you when the organiser decides."),
}


@bp.get("/r/<token>")
@private
def manage(token: str):
    registration = registration_or_404(token)
    notice = None
    if request.args.get("signed_up") and registration.status.value in SIGNED_UP:
        notice = SIGNED_UP[registration.status.value]
    return _page(registration, notice=notice)


@bp.post("/r/<token>/details")
@private
def edit_details(token: str):
    registration = registration_or_404(token)
    form = EditRegistrationForm()
    form.organisation.choices = signup_choices()
    if form.validate():
        try:
            details.update_details(
                token,
                details.Details(
                    name=form.name.data,
                    organisation_id=form.organisation.data,
                    work_team=form.work_team.data or "",
                    needs=form.needs.data or "",
                ),
            )
        except Refused as refusal:
            refuse_onto(form, refusal)
        else:
            flash(_("Your registration is updated; your place is the same. A receipt is on its way by email."), "success")
            return redirect(url_for("public.manage", token=token), 303)
    return _page(registration, edit_form=form, status=400)


@bp.post("/r/<token>/email")
@private
def change_email(token: str):
    registration = registration_or_404(token)
    form = EmailChangeForm()
    if form.validate():
        try:
            address = details.request_email_change(token, form.email.data)
        except Refused as refusal:
            refuse_onto(form, refusal)
        else:
            flash(
                _("We have sent a link to %(email)s. Your address changes when you follow it.", email=address),
                "success",
            )
            return redirect(url_for("public.manage", token=token), 303)
    return _page(registration, email_form=form, status=400)


@bp.get("/r/<token>/calendar.ics")
@private
def calendar(token: str):
    """The person's own calendar file (the same entries as their mails, without any link);
    while they wait for a seat, the event's public file."""
    registration = registration_or_404(token)
    data = (
        registration_calendar_bytes(registration)
        if registration.status in SEATED
        else event_calendar_bytes(registration.event)
    )
    return Response(
        data,
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="kvarn-event-{registration.event_id}.ics"'},
    )


@bp.get("/r/email/<change>")
@private
def confirm_email(change: str):
    if len(change) > 500:
        raise NotFound()
    try:
        registration = details.confirm_email_change(change)
    except Refused as refusal:
        return render_template("public/link_invalid.html", message=refusal.message), 410
    flash(_("Your email address is changed to %(email)s.", email=registration.email), "success")
    return redirect(url_for("public.manage", token=registration.manage_token), 303)


@bp.route("/r/<token>/cancel", methods=["GET", "POST"])
@private
def cancel(token: str):
    """GET: what cancelling means for this registration; POST (from that page): cancel."""
    registration = registration_or_404(token)
    if request.method == "GET":
        if not can_cancel(registration, registration.event):
            return redirect(url_for("public.manage", token=token), 303)
        waiting = reads.counts_of(registration.event_id).waitlisted
        return render_template(
            "public/cancel_confirm.html",
            registration=registration,
            event=registration.event,
            position=reads.waitlist_position(registration),
            someone_waits=waiting > 0,
            form=ConfirmForm(),
        )
    on_refusal_return_to(url_for("public.manage", token=token))
    if not ConfirmForm().validate_on_submit():
        raise Refused(_("Send the form again from the confirmation page."))
    previous = registration.status
    seats.cancel(registration.manage_token)
    messages = {
        "interested": _("Your interest is withdrawn. A receipt is on its way by email."),
        "waitlisted": _("You have left the waiting list. A receipt is on its way by email."),
    }
    flash(messages.get(previous.value, _("Your registration is cancelled. A receipt is on its way by email.")), "success")
    return redirect(url_for("public.manage", token=token), 303)
