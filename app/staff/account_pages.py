"""A staff member's own account: change the password, set up or turn off two-step log-in."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from ..accounts import two_step, users
from ..accounts.access import roles_required
from ..accounts.roles import ALL_STAFF
from ..core.errors import Refused
from ..core.form_base import refuse_onto
from .admin_forms import ChangePasswordForm, CodeConfirmForm
from .blueprint import bp


def _account_page(password_form=None, off_form=None, status: int = 200):
    return render_template(
        "staff/account.html",
        password_form=password_form or ChangePasswordForm(),
        off_form=off_form or CodeConfirmForm(),
        required=two_step.required_for(current_user),
    ), status


@bp.get("/account")
@roles_required(*ALL_STAFF)
def account():
    return _account_page()


@bp.post("/account/password")
@roles_required(*ALL_STAFF)
def account_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            users.change_own_password(current_user.id, form.current_password.data, form.password.data)
        except Refused as refusal:
            refuse_onto(form, refusal)
        else:
            logout_user()
            flash(_("Your password is changed, and you are logged out everywhere. Log in with the new password."), "success")
            return redirect(url_for("auth.login"), 303)
    return _account_page(password_form=form, status=400)


@bp.route("/account/two-step", methods=["GET", "POST"])
@roles_required(*ALL_STAFF)
def two_step_setup():
    """GET: a new secret and its QR code (kept in the session until confirmed); POST: the
    first code confirms it, and the recovery codes are shown once."""
    if current_user.two_step_enabled:
        return redirect(url_for("staff.account"))
    form = CodeConfirmForm()
    pending = session.get("two_step_enrol")
    if request.method == "POST" and pending:
        if form.validate():
            try:
                codes = two_step.enable(current_user.id, pending, form.code.data)
            except Refused as refusal:
                refuse_onto(form, refusal)
            else:
                session.pop("two_step_enrol", None)
                return render_template("staff/two_step_codes.html", codes=codes)
        enrolment, status = two_step.enrolment_for(current_user, pending), 400
    else:
        enrolment, status = two_step.new_enrolment(current_user), 200
        session["two_step_enrol"] = enrolment.secret
    return render_template(
        "staff/two_step_setup.html",
        form=form,
        enrolment=enrolment,
        required=two_step.required_for(current_user),
    ), status


@bp.post("/account/two-step/off")
@roles_required(*ALL_STAFF)
def two_step_off():
    form = CodeConfirmForm()
    if form.validate_on_submit():
        try:
            two_step.disable(current_user.id, form.code.data)
        except Refused as refusal:
            refuse_onto(form, refusal)
        else:
            flash(_("Two-step log-in is off."), "success")
            return redirect(url_for("staff.account"), 303)
    return _account_page(off_form=form, status=400)
