"""The public forms: sign-up (alone or with colleagues as a team), correcting one's
registration, changing its email address, confirming a cancellation, managing a team,
and the listing's filters."""

from __future__ import annotations

import secrets

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
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
#: The most colleague rows a form is read with, whatever an event allows (a bound on work).
COLLEAGUE_ROWS_MAX = 50


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


class ColleagueForm(Form):
    """One colleague's row in a team sign-up. An empty organisation or work team means
    "the same as mine"; the row's own checks are in ``SignupForm.validate_colleagues``."""

    name = StringField(_l("Name"), filters=[one_line], validators=[Optional(), at_most(NAME_MAX)])
    email = EmailField(
        _l("Email"),
        filters=[one_line],
        validators=[
            Optional(),
            at_most(EMAIL_MAX),
            Email(_l("Enter a valid email address, like name@kommun.se."), check_deliverability=False),
        ],
    )
    organisation = SelectField(_l("Organisation"), coerce=to_int_or_none, validate_choice=False)
    work_team = StringField(
        _l("Work team"), filters=[one_line], validators=[Optional(), at_most(TEAM_MAX)]
    )


class SignupForm(PersonForm):
    email = _EMAIL
    # A fresh key per rendered form: a double-clicked submit finds the first one's result.
    submission_key = HiddenField("", default=lambda: secrets.token_hex(16))  # no label shown
    colleagues = FieldList(
        FormField(ColleagueForm), _l("Colleagues"), min_entries=0, max_entries=COLLEAGUE_ROWS_MAX
    )
    keep_together = BooleanField(_l("Keep us together: we all get seats at the same time, or we all wait"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.number_rows()

    def number_rows(self) -> None:
        """Label each colleague's fields with the row's number (the error summary says
        which row a problem is in)."""
        for number, entry in enumerate(self.colleagues, start=1):
            row = entry.form
            row.name.label.text = _l("Name of colleague %(number)s", number=number)
            row.email.label.text = _l("Email of colleague %(number)s", number=number)
            row.organisation.label.text = _l("Organisation of colleague %(number)s", number=number)
            row.work_team.label.text = _l("Work team of colleague %(number)s", number=number)

    def validate_submission_key(self, field) -> None:
        if field.data and (len(field.data) > 64 or not field.data.isalnum()):
            field.data = None

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        return self._rows_valid() and valid

    def _rows_valid(self) -> bool:
        """Every row names a person with an address of their own; errors go on the row."""
        seen = {(self.email.data or "").strip().lower()}
        for entry in self.colleagues:
            row = entry.form
            name, email = (row.name.data or "").strip(), (row.email.data or "").strip().lower()
            if not name and not email and not row.email.errors:
                row.name.errors = [*row.name.errors, _l("This row is empty: fill in name and email, or remove the row.")]
                continue
            if not name:
                row.name.errors = [*row.name.errors, _l("Enter the colleague's name.")]
            if not email and not row.email.errors:
                row.email.errors = [*row.email.errors, _l("Enter the colleague's email address.")]
            elif email and email in seen:
                row.email.errors = [*row.email.errors, _l("This email address is already in the team.")]
            seen.add(email)
            if row.organisation.data is None:
                row.organisation.errors = [*row.organisation.errors, _l("Choose an organisation from the list.")]
        return not any(entry.form.errors for entry in self.colleagues)


def blank_colleague_row() -> ColleagueForm:
    """An empty row with placeholders in its names and labels, for the page's template
    element that the script copies (``__index__``, ``__number__``)."""
    row = ColleagueForm(prefix="colleagues-__index__-")
    row.name.label.text = _l("Name of colleague %(number)s", number="__number__")
    row.email.label.text = _l("Email of colleague %(number)s", number="__number__")
    row.organisation.label.text = _l("Organisation of colleague %(number)s", number="__number__")
    row.work_team.label.text = _l("Work team of colleague %(number)s", number="__number__")
    return row


class TeamMemberForm(KvarnForm):
    """A colleague added to a team afterwards."""

    name = _NAME
    email = _EMAIL
    organisation = _ORGANISATION
    work_team = _WORK_TEAM

    def validate_organisation(self, field) -> None:
        if not isinstance(field.data, int):
            raise ValidationError(_l("Choose an organisation from the list."))


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
