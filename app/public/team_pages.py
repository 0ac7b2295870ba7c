"""The team link (/t/<team_token>): the person who signed up a team sees every member and
manages the team without an account: cancel one member or everyone, add a colleague while
places last, keep the team together or split it. Each member still has their own link for
their own registration. Every page here is private (never cached)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..core.errors import NotFound, Refused, on_refusal_return_to
from ..core.form_base import refuse_onto
from ..core.security import private
from ..models import Team
from ..registrations import reads, seats
from ..registrations.statuses import can_cancel
from .forms import ConfirmForm, TeamMemberForm
from .personal_pages import link_expired
from .views import bp, signup_choices


def team_or_404(token: str) -> Team:
    """The team of a team link that still works (it expires with the event, as a
    personal link does)."""
    team = reads.team_by_token(token)
    if team is None or link_expired(team.event):
        raise NotFound()
    return team


def _page(team: Team, form: TeamMemberForm | None = None, status: int = 200):
    form = form or TeamMemberForm(formdata=None)
    form.organisation.choices = signup_choices()
    members = reads.team_members(team.id)
    return render_template(
        "public/team.html",
        team=team,
        event=team.event,
        facts=reads.team_facts(team.id),
        members=members,
        positions=reads.waitlist_positions(team.event_id),
        form=form,
        confirm_form=ConfirmForm(),
        addable=team.event.phase().value in ("open", "gauging") and not team.event.registration_not_yet_open(),
        own=next((m for m in members if m.email == team.contact_email), None),
    ), status


@bp.get("/t/<team_token>")
@private
def team(team_token: str):
    return _page(team_or_404(team_token))


@bp.post("/t/<team_token>/members")
@private
def team_add_member(team_token: str):
    team = team_or_404(team_token)
    form = TeamMemberForm()
    form.organisation.choices = signup_choices()
    if not form.validate():
        return _page(team, form, 400)
    member = seats.Member(
        form.name.data, form.email.data, form.organisation.data, form.work_team.data or ""
    )
    try:
        registration = seats.add_team_member(team_token, member)
    except Refused as refusal:
        refuse_onto(form, refusal)
        return _page(team, form, 400)
    flash(
        _("%(name)s is added to the team (%(status)s) and gets their own email.",
          name=registration.name, status=_status_word(registration.status.value)),
        "success",
    )
    return redirect(url_for("public.team", team_token=team_token), 303)


@bp.post("/t/<team_token>/members/<int:member_id>/cancel")
@private
def team_cancel_member(team_token: str, member_id: int):
    team_or_404(team_token)
    on_refusal_return_to(url_for("public.team", team_token=team_token))
    if not ConfirmForm().validate_on_submit():
        raise Refused(_("Send the form again from the team page."))
    registration = seats.cancel_team_member(team_token, member_id)
    flash(_("%(name)s's registration is cancelled; they get a receipt by email.", name=registration.name), "success")
    return redirect(url_for("public.team", team_token=team_token), 303)


@bp.route("/t/<team_token>/cancel", methods=["GET", "POST"])
@private
def team_cancel(team_token: str):
    """GET: what cancelling the whole team means; POST (from that page): cancel everyone."""
    team = team_or_404(team_token)
    if request.method == "GET":
        members = [m for m in reads.team_members(team.id) if can_cancel(m, team.event)]
        if not members:
            return redirect(url_for("public.team", team_token=team_token), 303)
        return render_template(
            "public/team_cancel.html", team=team, event=team.event, members=members, form=ConfirmForm()
        )
    on_refusal_return_to(url_for("public.team", team_token=team_token))
    if not ConfirmForm().validate_on_submit():
        raise Refused(_("Send the form again from the confirmation page."))
    cancelled = seats.cancel_team(team_token)
    flash(_("The team's %(count)d registrations are cancelled; everyone gets a receipt by email.", count=len(cancelled)), "success")
    return redirect(url_for("public.team", team_token=team_token), 303)


@bp.post("/t/<team_token>/keep")
@private
def team_keep(team_token: str):
    team_or_404(team_token)
    on_refusal_return_to(url_for("public.team", team_token=team_token))
    if not ConfirmForm().validate_on_submit():
        raise Refused(_("Send the form again from the team page."))
    keep = request.form.get("keep") == "1"
    seats.set_keep_together(team_token, keep)
    flash(
        _("The team is kept together: everyone gets a seat at the same time.")
        if keep
        else _("The team is split: each member is placed in turn and keeps their place."),
        "success",
    )
    return redirect(url_for("public.team", team_token=team_token), 303)


def _status_word(status: str) -> str:
    return {
        "confirmed": _("with a seat"),
        "waitlisted": _("on the waiting list"),
        "interested": _("interest registered"),
    }.get(status, status)

