"""The public forms: sign-up, correcting one's registration, changing its email address,
confirming a cancellation, and the listing's filters."""

from __future__ import annotations

import uuid

from flask_babel import lazy_gettext as _l
from wtforms import DateField, EmailField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, InputRequired, Optional, ValidationError

from ..core.form_base import (
    FIRST_YEAR,
    LAST_YEAR,
    KvarnForm,
    at_most,
    multi_line,
    one_line,
    to_int_or_none,
)

NAME_MAX = 120
EMAIL_MAX = 254
TEAM_MAX = 120
NEEDS_MAX = 1000


# The fields in the order the sign-up page shows them (WTForms orders a form's fields by
# when they were made, which also orders the error summary).
_NAME = StringField(
    _l("Name"),
    filters=[one_line],
    validators=[DataRequired(_l("Enter your name.")), at_most(NAME_MAX)],
)
_EMAIL = EmailField(
    _l("Email"),
    filters=[one_line],
    validators=[
        DataRequired(_l("Enter your email address.")),
        at_most(EMAIL_MAX),
        Email(_l("Enter a valid email address, like name@kommun.se."), check_deliverability=False),
    ],
)
_ORGANISATION = SelectField(
    _l("Organisation"),
    coerce=to_int_or_none,
    validate_choice=False,
    validators=[InputRequired(_l("Choose your organisation."))],
)
_WORK_TEAM = StringField(
    _l("Work team (optional)"),
    filters=[one_line],
    validators=[Optional(), at_most(TEAM_MAX)],
)
_NEEDS = TextAreaField(
    _l("Special needs, such as diet or accessibility (optional)"),
    filters=[multi_line],
    validators=[Optional(), at_most(NEEDS_MAX)],
)


class PersonForm(KvarnForm):
    """Who is coming: the fields a person gives at sign-up and may correct later."""

    name = _NAME
    organisation = _ORGANISATION
    work_team = _WORK_TEAM
    needs = _NEEDS

    def validate_organisation(self, field) -> None:
        # Whether it is a known, active organisation is decided by the service.
        if not isinstance(field.data, int):
            raise ValidationError(_l("Choose an organisation from the list."))


class SignupForm(PersonForm):
    email = _EMAIL
    # A fresh key per rendered form: a double-clicked submit finds the first one's result.
    submission_key = HiddenField(default=lambda: uuid.uuid4().hex)

    def validate_submission_key(self, field) -> None:
        if field.data and (len(field.data) > 64 or not field.data.isalnum()):
            field.data = None


class EditRegistrationForm(PersonForm):
    """The person corrects their own registration (a new email address is confirmed apart)."""


class EmailChangeForm(KvarnForm):
    email = EmailField(
        _l("New email address"),
        filters=[one_line],
        validators=[
            DataRequired(_l("Enter your email address.")),
            at_most(EMAIL_MAX),
            Email(_l("Enter a valid email address, like name@kommun.se."), check_deliverability=False),
        ],
    )


class ConfirmForm(KvarnForm):
    """A button that only needs its CSRF token (cancelling after the confirmation step)."""


class EventFilterForm(KvarnForm):
    """The listing's filters, read from the query string so a search can be shared."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"), filters=[one_line], validators=[Optional(), at_most(100)])
    organisation = SelectField(_l("Arranged by"), coerce=to_int_or_none, validate_choice=False)
    kind = SelectField(_l("Kind"), validate_choice=False)
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])

    def validate_date_from(self, field) -> None:
        _check_year(field)

    def validate_date_to(self, field) -> None:
        _check_year(field)
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))


def _check_year(field) -> None:
    if field.data is not None and not FIRST_YEAR <= field.data.year <= LAST_YEAR:
        raise ValidationError(
            _l("Enter a date between the years %(first)d and %(last)d.", first=FIRST_YEAR, last=LAST_YEAR)
        )
