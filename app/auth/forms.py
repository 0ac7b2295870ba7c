"""Log-in, the two-step code, "forgot password" and choosing a password from a link."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from ..accounts.passwords import PASSWORD_MAX, PASSWORD_MIN
from ..core.form_base import KvarnForm, new_password_field, one_line


class LoginForm(KvarnForm):
    email = EmailField(
        _l("Email"),
        filters=[one_line],
        validators=[DataRequired(_l("Enter your email address.")), Length(max=254)],
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(_l("Enter your password.")), Length(max=200)]
    )
    next = HiddenField()


class CodeForm(KvarnForm):
    code = StringField(
        _l("Code"),
        filters=[one_line],
        validators=[DataRequired(_l("Enter the code.")), Length(max=20)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class ForgotForm(KvarnForm):
    email = EmailField(
        _l("Email"),
        filters=[one_line],
        validators=[DataRequired(_l("Enter your email address.")), Length(max=254)],
    )


class ChoosePasswordForm(KvarnForm):
    password = new_password_field(_l("New password"), PASSWORD_MIN, PASSWORD_MAX)
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[EqualTo("password", _l("The two passwords are not the same."))],
        render_kw={"autocomplete": "new-password"},
    )
