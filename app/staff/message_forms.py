"""The organiser's forms for mail to participants: a reminder (with their own text) and a
free-text message to one audience. Each carries a one-time key that names the round it
sends, so a form sent twice sends once (registrations.messages)."""

from __future__ import annotations

import re
import uuid

from flask import current_app
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Optional

from ..core.form_base import KvarnForm, at_most, multi_line, one_line
from ..core.i18n import current_language
from ..registrations import messages

KEY = re.compile(r"[0-9a-f]{32}")
LANGUAGE_NAMES = {"sv": "Svenska", "en": "English"}


def new_key() -> str:
    return uuid.uuid4().hex


def has_valid_key(form) -> bool:
    """Whether the form carries a key our pages made (anything else is not our form)."""
    return bool(KEY.fullmatch(form.key.data or ""))


class _RoundForm(KvarnForm):
    # Set by the page that shows the form (``new_key``); a post without it is not ours.
    key = HiddenField()
    locale = SelectField(_l("Preview in"), validate_choice=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        languages = current_app.config["LANGUAGES"]
        self.locale.choices = [(code, LANGUAGE_NAMES.get(code, code)) for code in languages]
        if self.locale.data not in languages:
            self.locale.data = current_language()


class ReminderForm(_RoundForm):
    note = TextAreaField(
        _l("Your own text (optional)"),
        filters=[multi_line],
        validators=[Optional(), at_most(messages.NOTE_MAX)],
    )
    confirm_repeat = BooleanField(_l("Yes, send another reminder now"))


class MessageForm(_RoundForm):
    audience = RadioField(
        _l("Who gets the message"),
        choices=[(code, label) for code, label in messages.AUDIENCE_LABELS.items()],
        validators=[InputRequired(_l("Choose who gets the message."))],
    )
    subject = StringField(
        _l("Subject"),
        filters=[one_line],
        validators=[DataRequired(_l("Write a subject.")), at_most(messages.SUBJECT_MAX)],
    )
    body = TextAreaField(
        _l("Message"),
        filters=[multi_line],
        validators=[DataRequired(_l("Write the message.")), at_most(messages.BODY_MAX)],
    )

    def draft(self) -> messages.Draft:
        return messages.Draft(self.audience.data or "", self.subject.data or "", self.body.data or "")
