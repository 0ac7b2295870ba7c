"""The base class of every form, shared field helpers, and ``refuse_onto``: the one way a
service's refusal (``core.errors.Refused``) is shown on a form."""

from __future__ import annotations

import functools

from babel import support
from flask import has_request_context
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.i18n import messages_path
from wtforms.validators import DataRequired, Length

from . import text
from .errors import Refused
from .i18n import current_language
from .params import MAX_ID


@functools.lru_cache(maxsize=8)
def _wtforms_catalogue(language: str) -> support.Translations:
    return support.Translations.load(messages_path(), [language], domain="wtforms")


class _WTFormsTranslations:
    """WTForms' own messages in the user's language, each catalogue read once per process.

    (Flask-WTF reads the catalogue from disk again for every request, a noticeable
    share of a sign-up's time.)
    """

    def gettext(self, string: str) -> str:
        if not has_request_context():
            return string
        return _wtforms_catalogue(current_language()).ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        if not has_request_context():
            return singular if n == 1 else plural
        return _wtforms_catalogue(current_language()).ungettext(singular, plural, n)


_TRANSLATIONS = _WTFormsTranslations()


class KvarnForm(FlaskForm):
    """Flask-WTF's form (CSRF, request data) with WTForms' messages translated cheaply."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            return _TRANSLATIONS


# Field filters: single-line fields lose breaks and control characters, free text keeps
# its line breaks only (core.text).
one_line = text.one_line
multi_line = text.multi_line


def to_int_or_none(value):
    """Coerce a submitted choice; junk becomes None so a validator can say so politely."""
    if value is None or value == "":
        return value
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else None


def at_most(limit: int) -> Length:
    """A length limit with the one message every form uses, in the user's language."""
    return Length(max=limit, message=_l("Use at most %(max)d characters.", max=limit))


def refuse_onto(form: FlaskForm, refusal: Refused) -> None:
    """Show a service's refusal next to the field it concerns, or above the form."""
    field = form._fields.get(refusal.field) if refusal.field else None
    if field is not None and isinstance(field.errors, list | tuple):
        field.errors = [*field.errors, refusal.message]
    else:
        form.form_errors.append(refusal.message)


#: Dates Kvarn accepts in forms and filters: a year outside makes date arithmetic overflow
#: (year 1, 9999) and is never meant.
FIRST_YEAR, LAST_YEAR = 2000, 2100


def check_year(field) -> None:
    """For a date field's ``process_formdata``: a year out of range empties the field and
    raises ``ValueError``, which WTForms shows at the field."""
    value = field.data
    if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
        field.data = None
        raise ValueError(
            _l("Enter a date between the years %(first)d and %(last)d.", first=FIRST_YEAR, last=LAST_YEAR)
        )


def error_list(form) -> list[tuple[str | None, str, str]]:
    """Every problem of a submitted form for the error summary at its top:
    (id of the field to jump to, or None for the form itself; the field's label; the
    message), in the order of the fields. Fields inside lists (sessions) are included."""
    problems: list[tuple[str | None, str, str]] = [
        (None, "", str(message)) for message in getattr(form, "form_errors", [])
    ]

    def walk(fields) -> None:
        for field in fields:
            if hasattr(field, "entries"):  # FieldList
                walk(field.entries)
                for message in field.errors:
                    if not isinstance(message, dict | list | tuple):  # not an entry's errors
                        problems.append((field.id, str(field.label.text), str(message)))
            elif hasattr(field, "form"):  # FormField
                walk(field.form)
            else:
                for message in field.errors:
                    problems.append((field.id, str(field.label.text), str(message)))

    walk(form)
    return problems


def new_password_field(label, minimum: int, maximum: int) -> PasswordField:
    """A field for a new password, with the one length message every form uses."""
    return PasswordField(
        label,
        validators=[
            DataRequired(_l("Enter a password.")),
            Length(
                min=minimum,
                max=maximum,
                message=_l(
                    "The password must be %(min)d to %(max)d characters long.",
                    min=minimum,
                    max=maximum,
                ),
            ),
        ],
        render_kw={"autocomplete": "new-password"},
    )
