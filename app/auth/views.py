"""The log-in and log-out pages."""

from __future__ import annotations

from functools import cache

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from ..accounts.roles import landing_endpoint
from ..core.extensions import db, limiter
from ..core.urls import safe_next
from ..models import User
from .forms import LoginForm

bp = Blueprint("auth", __name__)


@cache
def _dummy_hash() -> str:
    """Checked when the email is unknown, so both failures take the same time."""
    return generate_password_hash("not-a-real-password")


def home_for(user: User) -> str:
    return url_for(landing_endpoint(user.role))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = db.session.scalar(sa.select(User).where(User.email == form.email.data.lower()))
        if user is not None and user.active and user.check_password(form.password.data):
            login_user(user)
            return redirect(safe_next(form.next.data, default=home_for(user)))
        if user is None:
            check_password_hash(_dummy_hash(), form.password.data)
        form.form_errors.append(_("Wrong email or password."))
        return render_template("auth/login.html", form=form), 401
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
def logout():
    logout_user()
    flash(_("You are logged out."), "success")
    return redirect(url_for("public.events"))
