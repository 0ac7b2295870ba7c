"""The forms of subscriptions to new events: subscribing, and changing what one gets."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, RadioField, SelectMultipleField
from wtforms.validators import DataRequired, Email, InputRequired, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..core.form_base import KvarnForm, at_most, one_line, to_int_or_none
from ..events.statuses import kind_label
from ..models import EventKind, SubscriptionFrequency
from ..subscriptions.labels import frequency_label
from ..subscriptions.subscribing import EMAIL_MAX, Choice


class CheckboxesField(SelectMultipleField):
    """Several choices as checkboxes (the template draws them inside a fieldset)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# Made first, so that the error summary lists the email first, as the page shows it.
_EMAIL = EmailField(
    _l("Email"),
    filters=[one_line],
    validators=[
        DataRequired(_l("Enter your email address.")),
        at_most(EMAIL_MAX),
        Email(_l("Enter a valid email address, like name@kommun.se."), check_deliverability=False),
    ],
)


def _kind(value):
    return value if value in {kind.value for kind in EventKind} else None


class ChoiceForm(KvarnForm):
    """What to get and how often: the part a subscriber may change later."""

    kinds = CheckboxesField(_l("Kinds of event"), coerce=_kind, validate_choice=False)
    organisations = CheckboxesField(_l("Arranged by"), coerce=to_int_or_none, validate_choice=False)
    frequency = RadioField(
        _l("How often"),
        validate_choice=False,
        default=SubscriptionFrequency.WEEKLY.value,
        validators=[InputRequired(_l("Choose how often you want the email."))],
    )

    def fill_choices(self, organisations: list[tuple[int, str]]) -> None:
        self.kinds.choices = [(kind.value, kind_label(kind)) for kind in EventKind]
        self.organisations.choices = organisations
        self.frequency.choices = [
            (frequency.value, frequency_label(frequency))
            for frequency in (SubscriptionFrequency.WEEKLY, SubscriptionFrequency.DAILY)
        ]

    def validate_kinds(self, field) -> None:
        if any(value is None for value in field.data or []):
            raise ValidationError(_l("Choose kinds from the list."))

    def validate_organisations(self, field) -> None:
        offered = {value for value, _label in self.organisations.choices or []}
        if any(value is None or value not in offered for value in field.data or []):
            raise ValidationError(_l("Choose organisers from the list."))

    def validate_frequency(self, field) -> None:
        if field.data not in {frequency.value for frequency in SubscriptionFrequency}:
            raise ValidationError(_l("Choose how often you want the email."))

    def choice(self) -> Choice:
        return Choice(
            frequency=SubscriptionFrequency(self.frequency.data),
            kinds=frozenset(EventKind(value) for value in self.kinds.data or []),
            organisation_ids=frozenset(self.organisations.data or []),
        )


class SubscribeForm(ChoiceForm):
    email = _EMAIL
