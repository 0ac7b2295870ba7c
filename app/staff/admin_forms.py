"""Forms for the admin pages and the audit-log filter."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    NumberRange,
    Optional,
    ValidationError,
)

from ..accounts import roles
from ..accounts.organisations import ORGANISATION_NAME_MAX
from ..accounts.passwords import PASSWORD_MAX, PASSWORD_MIN
from ..core.form_base import (
    KvarnForm,
    at_most,
    check_year,
    new_password_field,
    one_line,
    to_int_or_none,
)
from ..models import Role


class WholeNumberField(IntegerField):
    """An integer input whose parse error is our own (translatable) message."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(_l("Enter a whole number.")) from exc


class OrganisationForm(KvarnForm):
    name = StringField(
        _l("Name"),
        filters=[one_line],
        validators=[
            DataRequired(_l("Enter a name.")),
            at_most(ORGANISATION_NAME_MAX),
        ],
    )
    sort_order = WholeNumberField(
        _l("Position in lists"),
        default=0,
        validators=[
            InputRequired(_l("Enter a whole number.")),
            NumberRange(-1000, 1000, _l("Enter a number from %(min)s to %(max)s.")),
        ],
    )


class ConfirmForm(KvarnForm):
    """A button that changes something: nothing but the CSRF token."""


class PasswordForm(KvarnForm):
    password = new_password_field(_l("New password"), PASSWORD_MIN, PASSWORD_MAX)
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[EqualTo("password", _l("The two passwords are not the same."))],
    )


class CodeConfirmForm(KvarnForm):
    """A six-digit code from the authenticator app (or, to turn it off, a recovery code)."""

    code = StringField(
        _l("Code"),
        filters=[one_line],
        validators=[DataRequired(_l("Enter the code.")), at_most(20)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class ChangePasswordForm(PasswordForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(_l("Enter your current password."))]
    )


class _RoleFields(KvarnForm):
    role = SelectField(
        _l("Role"), validate_choice=False, validators=[InputRequired(_l("Choose a role."))]
    )
    organisation = SelectField(
        _l("Organisation (coordinators only)"),
        coerce=to_int_or_none,
        validate_choice=False,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = [(role.value, label) for role, label in roles.LABELS.items()]

    def validate_role(self, field) -> None:
        if field.data not in {r.value for r in Role}:
            raise ValidationError(_l("Choose a role."))

    def validate_organisation(self, field) -> None:
        allowed = {value for value, _label in self.organisation.choices if value}
        if self.role.data == Role.COORDINATOR.value:
            if not field.data:
                raise ValidationError(_l("Choose the coordinator's organisation."))
            if field.data not in allowed:
                raise ValidationError(_l("Choose an organisation from the list."))
        elif field.data:
            raise ValidationError(_l("Only coordinators belong to an organisation."))


class RoleForm(_RoleFields):
    """An admin changes someone's role (their sessions end)."""


class UserForm(_RoleFields):
    """An admin invites a new staff member, who chooses their own password."""

    name = StringField(
        _l("Name"),
        filters=[one_line],
        validators=[
            DataRequired(_l("Enter a name.")),
            at_most(120),
        ],
    )
    email = EmailField(
        _l("Email"),
        filters=[one_line],
        validators=[
            DataRequired(_l("Enter an email address.")),
            at_most(254),
        ],
    )


class LocalDateField(DateField):
    """A date input whose parse error is our own (translatable) message."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(_l("Enter a date like 2025-03-31.")) from exc
        check_year(self)


def _known_choice(form, field) -> None:
    if field.data and field.data not in {value for value, _label in field.choices}:
        raise ValidationError(_l("Choose a value from the list."))


class AuditFilterForm(KvarnForm):
    """Filters read from the query string (a GET form changes nothing: no CSRF token)."""

    class Meta:
        csrf = False

    event = SelectField(_l("Event"), validate_choice=False, validators=[_known_choice])
    user = SelectField(_l("Done by"), validate_choice=False, validators=[_known_choice])
    participant = EmailField(
        _l("Participant's email"),
        filters=[one_line],
        validators=[
            Optional(),
            at_most(254),
            Email(_l("Enter a valid email address, like name@kommun.se."), check_deliverability=False),
        ],
    )
    action = SelectField(_l("Action"), validate_choice=False, validators=[_known_choice])
    object_type = SelectField(_l("Kind of object"), validate_choice=False, validators=[_known_choice])
    date_from = LocalDateField(_l("From (date)"), validators=[Optional()])
    date_to = LocalDateField(_l("To (date)"), validators=[Optional()])

    def validate_date_to(self, field) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))
