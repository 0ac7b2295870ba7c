"""The public sign-up form."""

from __future__ import annotations

import uuid

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, InputRequired, Optional, ValidationError

from ..core.form_base import KvarnForm, at_most, multi_line, one_line, to_int_or_none

NAME_MAX = 120
EMAIL_MAX = 254
TEAM_MAX = 120
NEEDS_MAX = 1000


class SignupForm(KvarnForm):
    name = StringField(
        _l("Name"),
        filters=[one_line],
        validators=[
            DataRequired(_l("Enter your name.")),
            at_most(NAME_MAX),
        ],
    )
    email = EmailField(
        _l("Email"),
        filters=[one_line],
        validators=[
            DataRequired(_l("Enter your email address.")),
            at_most(EMAIL_MAX),
            Email(_l("Enter a valid email address, like name@kommun.se."), check_deliverability=False),
        ],
    )
    organisation = SelectField(
        _l("Organisation"),
        coerce=to_int_or_none,
        validate_choice=False,
        validators=[InputRequired(_l("Choose your organisation."))],
    )
    work_team = StringField(
        _l("Work team (optional)"),
        filters=[one_line],
        validators=[
            Optional(),
            at_most(TEAM_MAX),
        ],
    )
    needs = TextAreaField(
        _l("Special needs, such as diet or accessibility (optional)"),
        filters=[multi_line],
        validators=[
            Optional(),
            at_most(NEEDS_MAX),
        ],
    )
    # A fresh key per rendered form: a double-clicked submit finds the first one's result.
    submission_key = HiddenField(default=lambda: uuid.uuid4().hex)

    def validate_organisation(self, field) -> None:
        # Whether it is a known, active organisation is decided by the seats module.
        if not isinstance(field.data, int):
            raise ValidationError(_l("Choose an organisation from the list."))

    def validate_submission_key(self, field) -> None:
        if field.data and (len(field.data) > 64 or not field.data.isalnum()):
            field.data = None
