"""The check-in page's form for a walk-in: someone at the door who had not signed up."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Email, InputRequired

from ..core.form_base import KvarnForm, at_most, one_line, to_int_or_none

NAME_MAX = 120
EMAIL_MAX = 254


class WalkInForm(KvarnForm):
    session_id = HiddenField()
    name = StringField(
        _l("Name"),
        filters=[one_line],
        validators=[DataRequired(_l("Enter the name.")), at_most(NAME_MAX)],
        render_kw={"autocomplete": "off"},
    )
    email = EmailField(
        _l("Email"),
        filters=[one_line],
        validators=[
            DataRequired(_l("Enter the email address.")),
            at_most(EMAIL_MAX),
            Email(_l("Enter a valid email address, like name@kommun.se."), check_deliverability=False),
        ],
        render_kw={"autocomplete": "off"},
    )
    organisation = SelectField(
        _l("Organisation"),
        coerce=to_int_or_none,
        validate_choice=False,
        validators=[InputRequired(_l("Choose the organisation."))],
    )
