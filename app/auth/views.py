"""The log-in pages: password, the two-step code, log-out, "forgot password" and choosing
a password from an invitation or reset link.

Log-in attempts are limited per client address and, for failures, per account
(``LOGIN_RATE_LIMIT``, ``LOGIN_ACCOUNT_RATE_LIMIT``): one client cannot lock everyone out,
and many addresses cannot guess one account. Behind a reverse proxy the client address
is the real one only with ``PROXY_FIX_X_FOR`` set (see core.security).
"""

from __future__ import annotations

import time
from functools import cache

import sqlalchemy as sa
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
from flask_login import current_user, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from ..accounts import passwords, two_step, users
from ..accounts.roles import landing_endpoint
from ..core.errors import NotFound, Refused
from ..core.extensions import db, limiter
from ..core.form_base import refuse_onto
from ..core.security import private
from ..core.urls import safe_next
from ..models import User
from .forms import ChoosePasswordForm, CodeForm, ForgotForm, LoginForm

bp = Blueprint("auth", __name__)

#: Seconds between the password and the two-step code before the log-in starts over.
_PENDING_SECONDS = 300


@cache
def _dummy_hash() -> str:
    """Checked when the email is unknown, so both failures take the same time."""
    return generate_password_hash("not-a-real-password")


def home_for(user: User) -> str:
    return url_for(landing_endpoint(user.role))


def _account_key() -> str:
    return "account:" + (request.form.get("email") or "").strip().lower()[:254]


def _failed(response) -> bool:
    return response.status_code == 401


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"], deduct_when=_failed)
@limiter.limit(
    lambda: current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"],
    methods=["POST"],
    key_func=_account_key,
    deduct_when=_failed,
)
@private
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = db.session.scalar(sa.select(User).where(User.email == form.email.data.lower()))
        if user is not None and user.active and user.check_password(form.password.data):
            target = safe_next(form.next.data, default=home_for(user))
            if user.two_step_enabled:
                session["two_step"] = {"id": user.get_id(), "at": int(time.time()), "next": target}
                return redirect(url_for("auth.login_code"), 303)
            login_user(user)
            return redirect(target)
        if user is None:
            check_password_hash(_dummy_hash(), form.password.data)
        form.form_errors.append(_("Wrong email or password."))
        return render_template("auth/login.html", form=form), 401
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


def _pending_user_id() -> int | None:
    pending = session.get("two_step")
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > _PENDING_SECONDS:
        return None
    user_id, _, _secret = str(pending.get("id", "")).partition(":")
    return int(user_id) if user_id.isdigit() and len(user_id) <= 10 else None


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"], deduct_when=_failed)
@private
def login_code():
    user_id = _pending_user_id()
    if user_id is None:
        session.pop("two_step", None)
        flash(_("Log in again: the log-in took too long."), "info")
        return redirect(url_for("auth.login"), 303)
    form = CodeForm()
    if form.validate_on_submit():
        try:
            user = two_step.check_code(user_id, form.code.data)
        except Refused as refusal:
            refuse_onto(form, refusal)
            return render_template("auth/login_code.html", form=form), 401
        pending = session.pop("two_step")
        if pending["id"] != user.get_id():  # the password changed meanwhile
            return redirect(url_for("auth.login"), 303)
        login_user(user)
        return redirect(safe_next(pending.get("next"), default=home_for(user)))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login_code.html", form=form), status


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        users.end_sessions(current_user.id)  # a copied session cookie stops working too
    logout_user()
    flash(_("You are logged out."), "success")
    return redirect(url_for("public.events"))


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
@private
def forgot():
    form = ForgotForm()
    if form.validate_on_submit():
        passwords.request_reset(form.email.data)
        return render_template("auth/forgot_sent.html", hours=current_app.config["PASSWORD_LINK_HOURS"])
    status = 400 if request.method == "POST" else 200
    return render_template("auth/forgot.html", form=form), status


@bp.route("/password/<purpose>/<link>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
@private
def choose_password(purpose: str, link: str):
    if purpose not in (passwords.INVITE, passwords.RESET) or len(link) > 300:
        raise NotFound()
    try:
        user = passwords.user_for(link, purpose)
    except Refused as refusal:
        return render_template("auth/link_invalid.html", message=refusal.message), 410
    form = ChoosePasswordForm()
    if form.validate_on_submit():
        try:
            passwords.choose_password(link, purpose, form.password.data)
        except Refused as refusal:
            refuse_onto(form, refusal)
        else:
            logout_user()
            flash(_("Your password is saved. Log in with it now."), "success")
            return redirect(url_for("auth.login"), 303)
    status = 400 if form.is_submitted() else 200
    return render_template(
        "auth/choose_password.html", form=form, user=user, purpose=purpose
    ), status
