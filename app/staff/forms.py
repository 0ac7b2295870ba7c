"""Organisers' forms: an event with its sessions, cancelling an event."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from ..accounts.organisations import active_organisations
from ..core.clock import STOCKHOLM
from ..core.form_base import KvarnForm, at_most, check_year, multi_line, one_line, to_int_or_none
from ..events.editing import EventData
from ..events.schedule import SessionData
from ..models import Event, EventKind

# The browser's datetime-local value first: that is what the field renders.
LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
MAX_SESSIONS = 30
CAPACITY_MAX = 100_000


class StockholmDateTimeField(DateTimeLocalField):
    """A datetime-local input read and shown as Swedish time; data is an aware datetime."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        check_year(self)
        if self.data is not None:
            self.data = self.data.replace(tzinfo=STOCKHOLM)

    def _value(self):
        if self.raw_data:
            return " ".join(self.raw_data)
        if not self.data:
            return ""
        value = self.data
        if value.tzinfo is not None:
            value = value.astimezone(STOCKHOLM)
        return value.strftime(self.format[0])


def local_datetime(label, *validators) -> StockholmDateTimeField:
    return StockholmDateTimeField(
        label,
        validators=list(validators),
        format=LOCAL_FORMATS,
        invalid_value_message=_l("Enter a date and time, like 2025-03-14 18:00."),
    )


class SessionForm(Form):
    starts_at = local_datetime(_l("Starts"), InputRequired(_l("Enter when the session starts.")))
    ends_at = local_datetime(_l("Ends"), InputRequired(_l("Enter when the session ends.")))
    venue = StringField(
        _l("Venue"),
        filters=[one_line],
        validators=[at_most(300)],
    )
    address = StringField(
        _l("Street address (optional)"),
        filters=[one_line],
        validators=[at_most(300)],
    )
    venue_tbd = BooleanField(_l("Venue to be decided"))
    remove = BooleanField(_l("Remove this session"))

    def validate_ends_at(self, field) -> None:
        if self.starts_at.data and field.data and field.data <= self.starts_at.data:
            raise ValidationError(_l("The session must end after it starts."))

    def validate_venue(self, field) -> None:
        if not field.data and not self.venue_tbd.data:
            raise ValidationError(_l("Enter the venue, or tick “Venue to be decided”."))


def kind_choices() -> list[tuple[str, str]]:
    return [
        (EventKind.COURSE.value, _l("Course")),
        (EventKind.LECTURE.value, _l("Lecture")),
        (EventKind.MEETING.value, _l("Meeting")),
        (EventKind.CONFERENCE.value, _l("Conference")),
    ]


class EventForm(KvarnForm):
    kind = SelectField(_l("Kind"), choices=kind_choices(), default=EventKind.COURSE.value)
    title = StringField(
        _l("Title"),
        filters=[one_line],
        validators=[
            InputRequired(_l("Give the event a title.")),
            at_most(200),
        ],
    )
    description = TextAreaField(
        _l("Description"),
        filters=[multi_line],
        validators=[at_most(10_000)],
    )
    what_to_bring = TextAreaField(
        _l("What to bring (optional)"),
        filters=[multi_line],
        validators=[at_most(2000)],
    )
    language = SelectField(
        _l("Language of the event"), choices=[("sv", "Svenska"), ("en", "English")], default="sv"
    )
    sessions = FieldList(FormField(SessionForm), min_entries=1, max_entries=MAX_SESSIONS)
    capacity = IntegerField(
        _l("Capacity (seats)"),
        validators=[
            InputRequired(_l("Enter the number of seats.")),
            NumberRange(min=0, max=CAPACITY_MAX, message=_l("Enter a number from 0 to %(max)d.", max=CAPACITY_MAX)),
        ],
    )
    waitlist_enabled = BooleanField(_l("Keep a waiting list when the event is full"), default=True)
    registration_opens_at = local_datetime(_l("Registration opens (optional)"), Optional())
    registration_closes_at = local_datetime(_l("Registration closes (optional)"), Optional())
    organising_organisation = SelectField(
        _l("Arranged by"), coerce=to_int_or_none, validate_choice=False
    )
    audience = StringField(
        _l("For whom (optional)"),
        filters=[one_line],
        validators=[at_most(300)],
    )
    fee_sek = IntegerField(
        _l("Fee in kronor (0 or empty: free of charge)"),
        validators=[Optional(), NumberRange(min=0, max=1_000_000, message=_l("Enter a number from 0 to %(max)d.", max=1_000_000))],
    )
    contact_email = EmailField(
        _l("Contact email for questions"),
        filters=[one_line],
        validators=[
            Optional(),
            Length(max=254),
            Email(_l("Enter a valid email address, like name@kommun.se."), check_deliverability=False),
        ],
    )
    interest_threshold = IntegerField(
        _l("Interest threshold (people)"),
        validators=[Optional(), NumberRange(min=1, max=CAPACITY_MAX, message=_l("Enter a number from 1 to %(max)d.", max=CAPACITY_MAX))],
    )
    interest_deadline = local_datetime(_l("Decide by (interest deadline)"), Optional())
    notify_coordinators_on_threshold = BooleanField(
        _l("Tell the coordinators when the threshold is reached"), default=True
    )
    # "1" once the organiser has seen who a change of time or venue will be told to.
    confirm_notice = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.organising_organisation.choices = [("", _l("– not named –")), *active_organisations()]

    def drop_removed_sessions(self) -> None:
        kept = [entry for entry in self.sessions.entries if not entry.form.remove.data]
        self.sessions.entries = kept

    def validate_sessions(self, field) -> None:
        if not field.entries:
            raise ValidationError(_l("An event needs at least one session."))

    def validate_registration_closes_at(self, field) -> None:
        opens = self.registration_opens_at.data
        if opens and field.data and field.data <= opens:
            raise ValidationError(_l("Registration must close after it opens."))

    def to_data(self) -> EventData:
        return EventData(
            kind=EventKind(self.kind.data),
            title=self.title.data,
            description=self.description.data or "",
            what_to_bring=self.what_to_bring.data or "",
            language=self.language.data,
            sessions=tuple(
                SessionData(
                    starts_at=entry.form.starts_at.data,
                    ends_at=entry.form.ends_at.data,
                    venue=None if entry.form.venue_tbd.data else (entry.form.venue.data or None),
                    address=None if entry.form.venue_tbd.data else (entry.form.address.data or None),
                )
                for entry in self.sessions.entries
            ),
            capacity=self.capacity.data,
            waitlist_enabled=self.waitlist_enabled.data,
            registration_opens_at=self.registration_opens_at.data,
            registration_closes_at=self.registration_closes_at.data,
            contact_email=self.contact_email.data or None,
            interest_threshold=self.interest_threshold.data,
            interest_deadline=self.interest_deadline.data,
            notify_coordinators_on_threshold=self.notify_coordinators_on_threshold.data,
            organising_organisation_id=self.organising_organisation.data or None,
            audience=self.audience.data or "",
            fee_sek=self.fee_sek.data or None,
        )

    def validate_organising_organisation(self, field) -> None:
        allowed = {value for value, _label in field.choices if value}
        if field.data and field.data not in allowed:
            raise ValidationError(_l("Choose an organisation from the list."))


def form_data_for(event: Event) -> dict:
    """The edit form's initial values from an event."""
    return {
        "kind": event.kind.value,
        "title": event.title,
        "description": event.description,
        "what_to_bring": event.what_to_bring,
        "language": event.language,
        "sessions": [
            {
                "starts_at": s.starts_at,
                "ends_at": s.ends_at,
                "venue": s.venue or "",
                "address": s.address or "",
                "venue_tbd": s.venue is None,
            }
            for s in event.sessions
        ],
        "capacity": event.capacity,
        "waitlist_enabled": event.waitlist_enabled,
        "registration_opens_at": event.registration_opens_at,
        "registration_closes_at": event.registration_closes_at,
        "contact_email": event.contact_email or "",
        "interest_threshold": event.interest_threshold,
        "interest_deadline": event.interest_deadline,
        "notify_coordinators_on_threshold": event.notify_coordinators_on_threshold,
        "organising_organisation": event.organising_organisation_id,
        "audience": event.audience,
        "fee_sek": event.fee_sek,
    }


class CancelEventForm(KvarnForm):
    message = TextAreaField(
        _l("Message to everyone registered"),
        filters=[multi_line],
        validators=[at_most(2000)],
    )
