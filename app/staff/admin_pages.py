"""Admin pages: organisations and staff accounts (admins only, every change audited)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..accounts import organisations, passwords, users
from ..accounts.access import roles_required
from ..core.errors import NotFound, Refused, on_refusal_return_to
from ..core.extensions import db
from ..core.form_base import refuse_onto
from ..models import Organisation, Role, User
from .admin_forms import ConfirmForm, OrganisationForm, RoleForm, UserForm
from .blueprint import bp


def _organisation_or_404(organisation_id: int) -> Organisation:
    organisation = db.session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound()
    return organisation


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    return user


# --- organisations ------------------------------------------------------------------


def _organisation_list(form: OrganisationForm, status: int = 200):
    rows = db.session.scalars(
        sa.select(Organisation).order_by(Organisation.active.desc(), Organisation.sort_order, Organisation.name)
    ).all()
    return (
        render_template(
            "staff/admin/organisations.html",
            organisations=rows,
            form=form,
            confirm=ConfirmForm(),
        ),
        status,
    )


@bp.get("/admin/organisations")
@roles_required(Role.ADMIN)
def admin_organisations():
    return _organisation_list(OrganisationForm())


@bp.post("/admin/organisations")
@roles_required(Role.ADMIN)
def admin_organisation_create():
    form = OrganisationForm()
    if form.validate_on_submit():
        try:
            organisation = organisations.create_organisation(form.name.data, form.sort_order.data, current_user.id)
        except Refused as refusal:
            refuse_onto(form, refusal)
        else:
            flash(_("%(name)s was added.", name=organisation.name), "success")
            return redirect(url_for("staff.admin_organisations"), 303)
    return _organisation_list(form, 400)


@bp.route("/admin/organisations/<int:organisation_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_organisation_edit(organisation_id: int):
    organisation = _organisation_or_404(organisation_id)
    form = OrganisationForm(obj=organisation)
    if form.validate_on_submit():
        try:
            organisations.update_organisation(organisation.id, form.name.data, form.sort_order.data, current_user.id)
        except Refused as refusal:
            refuse_onto(form, refusal)
        else:
            flash(_("The organisation was saved."), "success")
            return redirect(url_for("staff.admin_organisations"), 303)
    status = 400 if form.is_submitted() else 200
    return render_template("staff/admin/organisation_edit.html", organisation=organisation, form=form), status


def _set_organisation_active(organisation_id: int, active: bool):
    _organisation_or_404(organisation_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    organisation = organisations.set_organisation_active(organisation_id, active, current_user.id)
    if active:
        flash(_("%(name)s is active again.", name=organisation.name), "success")
    else:
        flash(_("%(name)s is deactivated: it is no longer offered in the sign-up form.", name=organisation.name), "success")
    return redirect(url_for("staff.admin_organisations"), 303)


@bp.post("/admin/organisations/<int:organisation_id>/deactivate")
@roles_required(Role.ADMIN)
def admin_organisation_deactivate(organisation_id: int):
    return _set_organisation_active(organisation_id, False)


@bp.post("/admin/organisations/<int:organisation_id>/activate")
@roles_required(Role.ADMIN)
def admin_organisation_activate(organisation_id: int):
    return _set_organisation_active(organisation_id, True)


# --- staff users ----------------------------------------------------------------------


def _organisation_choices() -> list[tuple]:
    return [("", _("– none –")), *organisations.active_organisations()]


@bp.get("/admin/users")
@roles_required(Role.ADMIN)
def admin_users():
    users = db.session.scalars(
        sa.select(User)
        .options(sa.orm.selectinload(User.organisation))
        .order_by(User.active.desc(), User.role, User.name)
    ).all()
    return render_template(
        "staff/admin/users.html", users=users, confirm=ConfirmForm()
    )


@bp.route("/admin/users/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_user_new():
    form = UserForm()
    form.organisation.choices = _organisation_choices()
    if form.validate_on_submit():
        try:
            user = users.invite_user(
                form.email.data,
                form.name.data,
                form.role.data,
                form.organisation.data or None,
                current_user.id,
            )
        except Refused as refusal:
            refuse_onto(form, refusal)
        else:
            flash(_("The account for %(email)s was created, and an invitation to choose a password is on its way by email.", email=user.email), "success")
            return redirect(url_for("staff.admin_users"), 303)
    status = 400 if form.is_submitted() else 200
    return render_template("staff/admin/user_new.html", form=form), status


def _set_user_active(user_id: int, active: bool):
    _user_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    on_refusal_return_to(url_for("staff.admin_users"))
    user = users.set_user_active(user_id, active, current_user.id)
    if active:
        flash(_("%(email)s can log in again.", email=user.email), "success")
    else:
        flash(_("%(email)s can no longer log in.", email=user.email), "success")
    return redirect(url_for("staff.admin_users"), 303)


@bp.post("/admin/users/<int:user_id>/deactivate")
@roles_required(Role.ADMIN)
def admin_user_deactivate(user_id: int):
    return _set_user_active(user_id, False)


@bp.post("/admin/users/<int:user_id>/activate")
@roles_required(Role.ADMIN)
def admin_user_activate(user_id: int):
    return _set_user_active(user_id, True)


@bp.post("/admin/users/<int:user_id>/reset-link")
@roles_required(Role.ADMIN)
def admin_user_reset_link(user_id: int):
    _user_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    on_refusal_return_to(url_for("staff.admin_users"))
    user = passwords.send_reset_by_admin(user_id, current_user.id)
    flash(_("A link to choose a new password is on its way to %(email)s.", email=user.email), "success")
    return redirect(url_for("staff.admin_users"), 303)


@bp.route("/admin/users/<int:user_id>/role", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_user_role(user_id: int):
    user = _user_or_404(user_id)
    form = RoleForm(data={"role": user.role.value, "organisation": user.organisation_id})
    form.organisation.choices = _organisation_choices()
    if form.validate_on_submit():
        try:
            users.change_role(user.id, form.role.data, form.organisation.data or None, current_user.id)
        except Refused as refusal:
            refuse_onto(form, refusal)
        else:
            flash(_("The role of %(email)s is changed; they log in again to use it.", email=user.email), "success")
            return redirect(url_for("staff.admin_users"), 303)
    status = 400 if form.is_submitted() else 200
    return render_template("staff/admin/user_role.html", user=user, form=form), status
