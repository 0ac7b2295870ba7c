"""What every audit action is called and how its details read: declared once per action.

The rule this module owns: each action code that ``audit.entries.record`` is given anywhere
in ``app/`` has one declaration here, its label and the sentence its details become
(``tests/test_audit_log.py`` reads the source and fails for a code without one). A code
nobody declared (an old entry, or an action added without a label) still reads: a generic
label and its details as "key: value" pairs, never raw JSON.

Add an action like this, next to its kin::

    @action("event.capacity", _l("Capacity changed"), example={"from": 20, "to": 25, "promoted": [4]})
    def _capacity(d: dict, w: Words) -> str:
        return _("Capacity changed from %(from)d to %(to)d.", **{"from": d["from"], "to": d["to"]})

The sentence function gets the entry's details and ``Words``: the names of statuses, kinds,
roles and organisations, which services above this layer own, handed in by the reading
service (``reporting.audit_log``). ``example`` is a realistic ``details`` the tests render.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from flask_babel import format_date, format_datetime, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..core import clock
from ..core.i18n import current_language


class Words(Protocol):
    """Names owned by services above the audit layer: statuses, kinds, roles, organisations,
    and who a message to participants goes to."""

    def registration_status(self, value: str) -> str: ...

    def event_status(self, value: str) -> str: ...

    def event_kind(self, value: str) -> str: ...

    def role(self, value: str) -> str: ...

    def organisation(self, organisation_id: int) -> str: ...

    def audience(self, value: str) -> str: ...


class PlainWords:
    """``Words`` that give the stored values back as they are (tests, or no names at hand)."""

    def registration_status(self, value: str) -> str:
        return str(value)

    def event_status(self, value: str) -> str:
        return str(value)

    def event_kind(self, value: str) -> str:
        return str(value)

    def role(self, value: str) -> str:
        return str(value)

    def organisation(self, organisation_id: int) -> str:
        return str(organisation_id)

    def audience(self, value: str) -> str:
        return str(value)


Sentence = Callable[[dict, Words], str]


@dataclass(frozen=True)
class Action:
    code: str
    label: Any  # a lazy gettext string
    sentence: Sentence
    example: dict = field(default_factory=dict)
    #: Without a staff user the actor is the person concerned (their personal link), not the system.
    by_person: bool = False


#: Every declared action, by code.
ACTIONS: dict[str, Action] = {}


def action(code: str, label: Any, *, example: dict, by_person: bool = False):
    """Declare an action: its label, and (decorated) the function turning details into a sentence."""

    def register(sentence: Sentence) -> Sentence:
        if code in ACTIONS:
            raise ValueError(f"audit action {code!r} declared twice")
        ACTIONS[code] = Action(code, label, sentence, example, by_person)
        return sentence

    return register


#: What each kind of object is called (``object_type`` is the model's class name, lower case).
OBJECT_TYPES = {
    "event": _l("Event"),
    "registration": _l("Registration"),
    "team": _l("Team sign-up"),
    "user": _l("Staff account"),
    "organisation": _l("Organisation"),
    "outboxmessage": _l("Email message"),
}


def object_type_label(object_type: str) -> str:
    name = OBJECT_TYPES.get(object_type)
    return str(name) if name is not None else _("Other object")


# --- reading an entry ---------------------------------------------------------------


def label(code: str) -> str:
    """The action's name for people; an undeclared code gets a generic one."""
    declared = ACTIONS.get(code)
    return str(declared.label) if declared is not None else _("Other action")


def describe(code: str, details: Any, words: Words | None = None) -> str:
    """The entry's details as sentences. An undeclared code, or details a declared
    sentence cannot read (an entry older than its current shape), give "key: value" pairs."""
    details = details if isinstance(details, dict) else {}
    declared = ACTIONS.get(code)
    if declared is not None:
        try:
            return declared.sentence(details, words or PlainWords())
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            pass
    return pairs(details)


def made_by_person(code: str, details: Any) -> bool:
    """Whether an entry without a staff user was made by the person concerned."""
    declared = ACTIONS.get(code)
    by = details.get("by") if isinstance(details, dict) else None
    return by == "person" or bool(declared and declared.by_person)


def pairs(details: dict) -> str:
    """Details as "key: value; key: value" (nested keys joined with a dot)."""
    return "; ".join(f"{key}: {text}" for key, text in _flatten(details, ""))


def _flatten(value: Any, prefix: str) -> Iterable[tuple[str, str]]:
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            yield from _flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
    elif prefix:
        yield prefix, plain(value)


# --- values in sentences ---------------------------------------------------------------


def stamp(moment: datetime) -> str:
    """A moment with its year, in Stockholm time: "2025-03-14 kl. 18.00" / "2025-03-14 18:00"."""
    pattern = "yyyy-MM-dd 'kl.' HH.mm" if current_language() == "sv" else "yyyy-MM-dd HH:mm"
    return format_datetime(moment, pattern)


def _as_moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and len(value) >= 16 and value[4:5] == "-" and "T" in value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo is not None else None
    return None


def plain(value: Any) -> str:
    """Any stored value as text: moments in Stockholm time, lists joined, never JSON."""
    if value is None or value == "":
        return _("(none)")
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    moment = _as_moment(value)
    if moment is not None:
        return stamp(moment)
    if isinstance(value, date) and not isinstance(value, datetime):
        return format_date(value, "yyyy-MM-dd")
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value) if value else _("(none)")
    if isinstance(value, dict):
        return pairs(value)
    return str(value)


def quoted(text: Any) -> str:
    return _("“%(text)s”", text=text)


def _count(value: Any) -> int:
    """A number of people given as a count or as the list of them."""
    if isinstance(value, list | tuple):
        return len(value)
    return int(value)


def _changed(what: Any, old: str, new: str) -> str:
    return _("%(field)s changed from %(from)s to %(to)s.", field=what, **{"from": old, "to": new})


def _join(*sentences: str) -> str:
    return " ".join(s for s in sentences if s)


# --- registrations -----------------------------------------------------------------------

#: Registration fields a person or staff may correct (``registrations.details``).
REGISTRATION_FIELDS = {
    "name": _l("Name"),
    "email": _l("Email"),
    "organisation_id": _l("Organisation"),
    "work_team": _l("Work team"),
    "needs": _l("Needs"),
}


@action(
    "registration.cancel",
    _l("Registration cancelled by staff"),
    example={"event_id": 7, "previous_status": "confirmed"},
)
def _registration_cancel(d: dict, w: Words) -> str:
    return _(
        "Status changed from %(from)s to %(to)s.",
        **{
            "from": quoted(w.registration_status(d["previous_status"])),
            "to": quoted(w.registration_status("cancelled")),
        },
    )


@action(
    "registration.promote",
    _l("Given a seat by hand"),
    example={"event_id": 7, "capacity": 21},
)
def _registration_promote(d: dict, w: Words) -> str:
    capacity = int(d["capacity"])
    return ngettext(
        "Given a seat ahead of the waiting list; the event now has %(num)d seat.",
        "Given a seat ahead of the waiting list; the event now has %(num)d seats.",
        capacity,
    )


@action(
    "registration.attendance",
    _l("Check-in"),
    example={"attended": True, "session_id": 12, "session": 2, "sessions": 4, "starts_at": "2026-12-03T08:00:00+00:00"},
)
def _registration_attendance(d: dict, w: Words) -> str:
    if "session" not in d:  # an entry from before check-in per session
        if d["attended"]:
            return _("Checked in: marked as attended.")
        return _("Check-in undone: no longer marked as attended.")
    when = plain(d["starts_at"])
    if int(d["sessions"]) == 1:
        if d["attended"]:
            return _("Checked in at the session of %(when)s.", when=when)
        return _("Check-in at the session of %(when)s undone.", when=when)
    if d["attended"]:
        return _(
            "Checked in at session %(number)d of %(count)d (%(when)s).",
            number=int(d["session"]),
            count=int(d["sessions"]),
            when=when,
        )
    return _(
        "Check-in at session %(number)d of %(count)d (%(when)s) undone.",
        number=int(d["session"]),
        count=int(d["sessions"]),
        when=when,
    )


@action(
    "registration.walk_in",
    _l("Walk-in added"),
    example={
        "event_id": 7,
        "session_id": 12,
        "session": 2,
        "sessions": 4,
        "starts_at": "2026-12-03T08:00:00+00:00",
        "capacity": {"from": 20, "to": 21},
    },
)
def _registration_walk_in(d: dict, w: Words) -> str:
    when = plain(d["starts_at"])
    if int(d["sessions"]) == 1:
        added = _("Registered at the door and checked in at the session of %(when)s.", when=when)
    else:
        added = _(
            "Registered at the door and checked in at session %(number)d of %(count)d (%(when)s).",
            number=int(d["session"]),
            count=int(d["sessions"]),
            when=when,
        )
    capacity = d.get("capacity")
    if not capacity:
        return added
    raised = _(
        "The event was full: capacity raised from %(from)d to %(to)d.",
        **{"from": int(capacity["from"]), "to": int(capacity["to"])},
    )
    return _join(added, raised)


@action(
    "registration.edit",
    _l("Registration details changed"),
    example={"fields": ["name", "work_team"], "by": "person"},
    by_person=True,
)
def _registration_edit(d: dict, w: Words) -> str:
    names = [str(REGISTRATION_FIELDS.get(name, name)) for name in d["fields"]]
    changed = _("Changed: %(fields)s.", fields=", ".join(names))
    if d.get("by") == "person":
        return _join(_("The person corrected their own details."), changed)
    return changed


@action(
    "registration.email_requested",
    _l("New email address requested"),
    example={"by": "person"},
    by_person=True,
)
def _registration_email_requested(d: dict, w: Words) -> str:
    return _(
        "A link to confirm the new address was sent to it; the registration keeps its "
        "address until the link is followed."
    )


@action(
    "registration.email_changed",
    _l("Email address changed"),
    example={"by": "person"},
    by_person=True,
)
def _registration_email_changed(d: dict, w: Words) -> str:
    return _("The new address was confirmed through the link sent to it.")


# --- team sign-ups (details: event_id, members (their registration ids), keep_together) -----
# Recorded without a staff user when the team's contact acts through the team's link.


def _team_way(d: dict) -> str:
    if "keep_together" not in d:
        return ""
    if d["keep_together"]:
        return _("They get seats together or wait together.")
    return _("Each member has their own place in the queue.")


@action(
    "team.create",
    _l("Team signed up"),
    example={"event_id": 7, "members": [11, 12, 13, 14], "keep_together": True},
    by_person=True,
)
def _team_create(d: dict, w: Words) -> str:
    return _join(_("A team of %(num)d signed up.", num=_count(d["members"])), _team_way(d))


@action(
    "team.cancel",
    _l("Team registrations cancelled"),
    example={"event_id": 7, "members": [11, 12]},
    by_person=True,
)
def _team_cancel(d: dict, w: Words) -> str:
    return ngettext(
        "%(num)d registration of the team was cancelled.",
        "%(num)d registrations of the team were cancelled.",
        _count(d["members"]),
    )


@action(
    "team.add_member",
    _l("Member added to a team"),
    example={"event_id": 7, "members": [15]},
    by_person=True,
)
def _team_add_member(d: dict, w: Words) -> str:
    return ngettext(
        "%(num)d person was added to the team.",
        "%(num)d people were added to the team.",
        _count(d["members"]),
    )


@action(
    "team.split",
    _l("Team no longer kept together"),
    example={"event_id": 7, "members": [11, 12, 13]},
    by_person=True,
)
def _team_split(d: dict, w: Words) -> str:
    return _(
        "The team's %(num)d members no longer wait together: each has their own place in the queue.",
        num=_count(d["members"]),
    )


@action(
    "team.keep",
    _l("Team kept together"),
    example={"event_id": 7, "members": [11, 12, 13]},
    by_person=True,
)
def _team_keep(d: dict, w: Words) -> str:
    return _(
        "The team's %(num)d members get seats together or wait together.",
        num=_count(d["members"]),
    )


# --- events --------------------------------------------------------------------------

#: The event's own fields as the edit form names them (``events.editing.FIELDS``).
EVENT_FIELDS = {
    "kind": _l("Kind"),
    "title": _l("Title"),
    "description": _l("Description"),
    "what_to_bring": _l("What to bring"),
    "language": _l("Language of the event"),
    "waitlist_enabled": _l("Waiting list"),
    "capacity": _l("Capacity (seats)"),
    "registration_opens_at": _l("Registration opens"),
    "registration_closes_at": _l("Registration closes"),
    "contact_email": _l("Contact email for questions"),
    "interest_threshold": _l("Interest threshold (people)"),
    "interest_deadline": _l("Decide by (interest deadline)"),
    "notify_coordinators_on_threshold": _l("Tell the coordinators when the threshold is reached"),
    "organising_organisation_id": _l("Arranged by"),
    "audience": _l("For whom"),
    "fee_sek": _l("Fee in kronor"),
    "max_team_size": _l("Largest team"),
}

LANGUAGES = {"sv": "Svenska", "en": "English"}


def _event_value(name: str, value: Any, w: Words) -> str:
    if value is None or value == "":
        return _("(none)")
    if name == "kind":
        return w.event_kind(value)
    if name == "organising_organisation_id":
        return w.organisation(int(value))
    if name == "language":
        return LANGUAGES.get(value, str(value))
    if isinstance(value, str) and _as_moment(value) is None:
        return quoted(value)
    return plain(value)


def _span(starts: datetime, ends: datetime) -> str:
    """ "2025-03-14 kl. 09.00–12.00", with the year (an archive is read years later)."""
    if clock.local(starts).date() != clock.local(ends).date():
        return f"{stamp(starts)} – {stamp(ends)}"
    return f"{stamp(starts)}–{format_datetime(ends, 'HH.mm' if current_language() == 'sv' else 'HH:mm')}"


def _session(session: dict) -> str:
    starts, ends = _as_moment(session["starts_at"]), _as_moment(session["ends_at"])
    when = _span(starts, ends) if starts and ends else plain(session["starts_at"])
    place = ", ".join(p for p in (session.get("venue"), session.get("address")) if p)
    return f"{when}, {place}" if place else _("%(when)s, venue to be decided", when=when)


def _sessions(sessions: list) -> str:
    return "; ".join(_session(s) for s in sessions) if sessions else _("(none)")


def _status_change(d: dict, w: Words, to: str) -> str:
    return _(
        "Status changed from %(from)s to %(to)s.",
        **{"from": quoted(w.event_status(d["from"])), "to": quoted(w.event_status(to))},
    )


@action(
    "event.create",
    _l("Event created"),
    example={"title": "Brandskydd i praktiken", "kind": "course", "capacity": 20},
)
def _event_create(d: dict, w: Words) -> str:
    return ngettext(
        "Created as a draft: %(title)s (%(kind)s), %(num)d seat.",
        "Created as a draft: %(title)s (%(kind)s), %(num)d seats.",
        int(d["capacity"]),
        title=quoted(d["title"]),
        kind=w.event_kind(d["kind"]),
    )


@action(
    "event.update",
    _l("Event changed"),
    example={
        "fields": {
            "title": {"from": "Brandskydd", "to": "Brandskydd i praktiken"},
            "registration_closes_at": {"from": None, "to": "2025-03-10T11:00:00+00:00"},
        },
        "sessions": {
            "from": [
                {
                    "starts_at": "2025-03-14T08:00:00+00:00",
                    "ends_at": "2025-03-14T11:00:00+00:00",
                    "venue": "Sal 1",
                    "address": None,
                }
            ],
            "to": [
                {
                    "starts_at": "2025-03-14T09:00:00+00:00",
                    "ends_at": "2025-03-14T12:00:00+00:00",
                    "venue": "Sal 2",
                    "address": None,
                }
            ],
        },
        "ics_sequence": 2,
        "notified": 12,
    },
)
def _event_update(d: dict, w: Words) -> str:
    parts = [
        _changed(
            EVENT_FIELDS.get(name, name),
            _event_value(name, change["from"], w),
            _event_value(name, change["to"], w),
        )
        for name, change in d.get("fields", {}).items()
    ]
    if "sessions" in d:
        parts.append(
            _(
                "The sessions changed from %(from)s to %(to)s.",
                **{"from": _sessions(d["sessions"]["from"]), "to": _sessions(d["sessions"]["to"])},
            )
        )
        if "notified" in d:
            parts.append(
                ngettext(
                    "%(num)d person was told of the change.",
                    "%(num)d people were told of the change.",
                    int(d["notified"]),
                )
            )
    if not parts:
        raise ValueError("no change in the details")
    return _join(*parts)


@action(
    "event.capacity",
    _l("Capacity changed"),
    example={"from": 20, "to": 25, "promoted": [41, 42]},
)
def _event_capacity(d: dict, w: Words) -> str:
    changed = _(
        "Capacity changed from %(from)d to %(to)d.", **{"from": int(d["from"]), "to": int(d["to"])}
    )
    promoted = _count(d.get("promoted") or [])
    if not promoted:
        return changed
    return _join(
        changed,
        ngettext(
            "%(num)d person on the waiting list got a seat.",
            "%(num)d people on the waiting list got seats.",
            promoted,
        ),
    )


@action("event.publish", _l("Event published"), example={"from": "draft"})
def _event_publish(d: dict, w: Words) -> str:
    return _status_change(d, w, "open")


@action(
    "event.gauge",
    _l("Published to gauge interest"),
    example={
        "from": "draft",
        "interest_threshold": 15,
        "interest_deadline": "2025-03-01T11:00:00+00:00",
    },
)
def _event_gauge(d: dict, w: Words) -> str:
    return _join(
        _status_change(d, w, "gauging"),
        _(
            "Interest threshold: %(threshold)d people; decide by %(deadline)s.",
            threshold=int(d["interest_threshold"]),
            deadline=plain(d["interest_deadline"]),
        ),
    )


@action("event.close", _l("Closed for registration"), example={"from": "open"})
def _event_close(d: dict, w: Words) -> str:
    return _status_change(d, w, "closed")


@action("event.reopen", _l("Reopened for registration"), example={"from": "closed"})
def _event_reopen(d: dict, w: Words) -> str:
    return _status_change(d, w, "open")


@action(
    "event.confirm",
    _l("Event confirmed: it takes place"),
    example={"confirmed": 30, "waitlisted": 4},
)
def _event_confirm(d: dict, w: Words) -> str:
    return _(
        "Everyone interested got a seat (%(confirmed)d) or a place on the waiting list (%(waitlisted)d).",
        confirmed=int(d["confirmed"]),
        waitlisted=int(d["waitlisted"]),
    )


@action("event.cancel", _l("Event cancelled"), example={"registrations": 23})
def _event_cancel(d: dict, w: Words) -> str:
    return ngettext(
        "%(num)d registration was cancelled and the person told.",
        "%(num)d registrations were cancelled and everyone told.",
        int(d["registrations"]),
    )


@action(
    "event.reminders",
    _l("Reminders sent"),
    example={"round": 4, "label": "manual-3f2a", "queued": 40, "own_text": True, "repeat": False},
)
def _event_reminders(d: dict, w: Words) -> str:
    return _join(
        ngettext(
            "%(num)d reminder was queued for sending.",
            "%(num)d reminders were queued for sending.",
            int(d["queued"]),
        ),
        _("The scheduled reminder before the event.") if d.get("label") == "scheduled" else "",
        _("With a note from the organiser.") if d.get("own_text") else "",
        _("Another reminder had gone out shortly before.") if d.get("repeat") else "",
    )


@action(
    "event.message",
    _l("Message sent to participants"),
    example={"round": 3, "audience": "seated", "subject": "Ny lokal", "queued": 31},
)
def _event_message(d: dict, w: Words) -> str:
    return ngettext(
        "%(subject)s was sent to %(num)d person (%(audience)s).",
        "%(subject)s was sent to %(num)d people (%(audience)s).",
        _count(d["queued"] if "queued" in d else d["recipients"]),
        subject=quoted(d["subject"]),
        audience=w.audience(d["audience"]),
    )


@action(
    "event.announce",
    _l("Announced to subscribers"),
    example={"queued": 120, "free_seats": 14, "organisation_id": 3},
)
def _event_announce(d: dict, w: Words) -> str:
    told = ngettext(
        "%(num)d subscriber was told of the event.",
        "%(num)d subscribers were told of the event.",
        _count(d["queued"] if "queued" in d else d["recipients"]),
    )
    seats = d.get("free_seats")
    return _join(
        told,
        _(
            "Only subscribers from %(organisation)s.",
            organisation=w.organisation(int(d["organisation_id"])),
        )
        if d.get("organisation_id") is not None
        else "",
        ngettext(
            "%(num)d free seat was announced.", "%(num)d free seats were announced.", int(seats)
        )
        if seats is not None
        else "",
    )


@action(
    "subscriptions.purge",
    _l("Subscriptions cleaned up"),
    example={"unconfirmed": 3, "delivery_records": 40, "older_than_days": 7},
)
def _subscriptions_purge(d: dict, w: Words) -> str:
    return _(
        "Deleted: unconfirmed subscriptions older than %(days)d days (%(unconfirmed)d) and the "
        "delivery records of past events (%(records)d).",
        days=int(d["older_than_days"]),
        unconfirmed=int(d["unconfirmed"]),
        records=int(d["delivery_records"]),
    )


# --- evaluations and certificates --------------------------------------------------------


@action(
    "evaluation.questions",
    _l("Evaluation questions saved"),
    example={"questions": 7, "ratings": 5, "enabled": True},
)
def _evaluation_questions(d: dict, w: Words) -> str:
    saved = ngettext(
        "The evaluation has %(num)d question.",
        "The evaluation has %(num)d questions.",
        int(d["questions"]),
    )
    return _join(
        saved,
        ngettext(
            "%(num)d of them is a rating.", "%(num)d of them are ratings.", int(d["ratings"])
        )
        if "ratings" in d
        else "",
        "" if d.get("enabled", True) else _("It is turned off: no evaluation is sent."),
    )


@action(
    "event.certificate_share",
    _l("Certificate rule changed"),
    example={"from": 0.8, "to": 0.75},
)
def _certificate_share(d: dict, w: Words) -> str:
    def share(value) -> str:
        if value is None:
            return _("no certificates")
        return _("%(percent)d %% of the sessions", percent=round(float(value) * 100))

    return _("A certificate of attendance needed %(from)s; now %(to)s.", **{"from": share(d["from"]), "to": share(d["to"])})


@action(
    "evaluation.sent",
    _l("Thank-you mails and evaluation sent"),
    example={"thanked": 18, "certificates": 15, "reminded": 0},
)
def _evaluation_sent(d: dict, w: Words) -> str:
    return _join(
        ngettext(
            "%(num)d thank-you mail was queued.",
            "%(num)d thank-you mails were queued.",
            int(d["thanked"]),
        )
        if int(d["thanked"])
        else "",
        ngettext(
            "%(num)d with a certificate of attendance.",
            "%(num)d with a certificate of attendance.",
            int(d["certificates"]),
        )
        if int(d.get("certificates") or 0)
        else "",
        ngettext(
            "%(num)d reminder to answer the evaluation was queued.",
            "%(num)d reminders to answer the evaluation were queued.",
            int(d["reminded"]),
        )
        if int(d["reminded"])
        else "",
    )


@action(
    "evaluation.export",
    _l("Evaluation summary downloaded"),
    example={"format": "xlsx", "answers": 14, "scope": "organisation", "organisation_id": 3},
)
def _evaluation_export(d: dict, w: Words) -> str:
    fmt, answers = str(d["format"]).upper(), int(d["answers"])
    if d.get("scope") == "organisation":
        return ngettext(
            "The summary of the evaluation was downloaded as %(format)s: %(num)d answer, from %(organisation)s only.",
            "The summary of the evaluation was downloaded as %(format)s: %(num)d answers, from %(organisation)s only.",
            answers,
            format=fmt,
            organisation=w.organisation(int(d["organisation_id"])),
        )
    return ngettext(
        "The summary of the evaluation was downloaded as %(format)s: %(num)d answer.",
        "The summary of the evaluation was downloaded as %(format)s: %(num)d answers.",
        answers,
        format=fmt,
    )


# --- exports -----------------------------------------------------------------------------

#: What the filters of an audit-log export are called (``reporting.audit_log``).
FILTER_NAMES = {
    "action": _l("Action"),
    "user": _l("Done by"),
    "event": _l("Event"),
    "participant": _l("Participant's email"),
    "object_type": _l("Kind of object"),
    "date_from": _l("From (date)"),
    "date_to": _l("To (date)"),
}


def _filter_value(name: str, value: Any) -> str:
    if name == "action":
        return label(value)
    if name == "object_type":
        return object_type_label(value)
    if name == "user" and value is None:
        return _("no staff user")
    if name == "participant" and value is None:
        return _("(erased)")
    return plain(value)


@action(
    "export",
    _l("List downloaded"),
    example={"format": "csv", "rows": 12, "scope": "organisation", "organisation_id": 3},
)
def _export(d: dict, w: Words) -> str:
    rows, fmt = int(d["rows"]), str(d["format"]).upper()
    if d.get("list") == "audit_log":
        done = ngettext(
            "The audit log was downloaded as %(format)s: %(num)d entry.",
            "The audit log was downloaded as %(format)s: %(num)d entries.",
            rows,
            format=fmt,
        )
        filters = d.get("filters") or {}
        if not filters:
            return _join(done, _("No filters: everything up to then."))
        chosen = "; ".join(
            f"{FILTER_NAMES.get(name, name)}: {_filter_value(name, value)}"
            for name, value in filters.items()
        )
        return _join(done, _("Filters: %(filters)s.", filters=chosen))
    if d.get("scope") == "organisation":
        return ngettext(
            "The registration list was downloaded as %(format)s: %(num)d person, from %(organisation)s only.",
            "The registration list was downloaded as %(format)s: %(num)d people, from %(organisation)s only.",
            rows,
            format=fmt,
            organisation=w.organisation(int(d["organisation_id"])),
        )
    return ngettext(
        "The registration list was downloaded as %(format)s: %(num)d person, from every organisation.",
        "The registration list was downloaded as %(format)s: %(num)d people, from every organisation.",
        rows,
        format=fmt,
    )


# --- email -----------------------------------------------------------------------------------


@action(
    "outbox.retry",
    _l("Failed mail sent again"),
    example={
        "recipient": "anna@alingsas.se",
        "kind": "confirmation",
        "error": "550 mailbox unavailable",
    },
)
def _outbox_retry(d: dict, w: Words) -> str:
    return _(
        "The message to %(recipient)s is queued again; it had failed with: %(error)s",
        recipient=d["recipient"] or _("(erased)"),
        error=d.get("error") or _("(no reason kept)"),
    )


@action("outbox.purge", _l("Old mail emptied"), example={"messages": 120, "older_than_days": 30})
def _outbox_purge(d: dict, w: Words) -> str:
    return ngettext(
        "The text and attachments of %(num)d sent email were deleted (sent more than %(days)d "
        "days ago, or a receipt of an erasure).",
        "The text and attachments of %(num)d sent emails were deleted (sent more than %(days)d "
        "days ago, or receipts of an erasure).",
        _count(d["messages"]),
        days=int(d["older_than_days"]),
    )


# --- retention and a person's own data (privacy) ---------------------------------------------
# Counts, file names and checksums only: never the erased data.


@action(
    "event.archive",
    _l("Archive record written"),
    example={
        "files": {
            "kvarn-event-7-attendance.csv": "9f2c…",
            "kvarn-event-7-figures.csv": "41ab…",
            "kvarn-event-7-archive.pdf": "c0de…",
            "kvarn-event-7-archive.sha256": "77e1…",
        }
    },
)
def _event_archive(d: dict, w: Words) -> str:
    files = d["files"]
    return _(
        "The attendance list and figures were written to the archive folder: %(files)s.",
        files="; ".join(f"{name} (SHA-256 {digest})" for name, digest in files.items()),
    )


@action(
    "event.purge",
    _l("Personal data removed (retention)"),
    example={
        "registrations": 23,
        "teams": 2,
        "messages": 61,
        "audit_entries": 1,
        "archive": "kvarn-event-7-archive.pdf",
        "sha256": "c0de…",
    },
)
def _event_purge(d: dict, w: Words) -> str:
    return _join(
        ngettext(
            "The personal data of %(num)d registration was removed after the retention period.",
            "The personal data of %(num)d registrations was removed after the retention period.",
            _count(d["registrations"]),
        ),
        ngettext(
            "%(num)d team sign-up and its contact, too.",
            "%(num)d team sign-ups and their contacts, too.",
            _count(d["teams"]),
        )
        if _count(d["teams"])
        else "",
        ngettext(
            "%(num)d email emptied or deleted.",
            "%(num)d emails emptied or deleted.",
            _count(d["messages"]),
        ),
        _(
            "Archive record: %(file)s (SHA-256 %(sha256)s).",
            file=d["archive"],
            sha256=d["sha256"],
        ),
    )


@action("person.data_requested", _l("Own data asked for"), example={"by": "person"}, by_person=True)
def _person_data_requested(d: dict, w: Words) -> str:
    return _("A link to download a copy of their data was sent to the registration's address.")


@action(
    "person.data_download",
    _l("Own data downloaded"),
    example={"registrations": 3, "teams": 1, "messages": 9, "subscription": True},
    by_person=True,
)
def _person_data_download(d: dict, w: Words) -> str:
    return ngettext(
        "The person downloaded a copy of their data: %(num)d registration.",
        "The person downloaded a copy of their data: %(num)d registrations.",
        _count(d["registrations"]),
    )


@action(
    "person.erasure_requested", _l("Erasure asked for"), example={"by": "person"}, by_person=True
)
def _person_erasure_requested(d: dict, w: Words) -> str:
    return _("A link to confirm the erasure of all their registrations was sent to the registration's address.")


@action(
    "person.erasure",
    _l("Registrations erased on request"),
    example={
        "registrations": 3,
        "events": 3,
        "cancelled": 1,
        "promoted": 1,
        "teams": 0,
        "messages": 8,
        "audit_entries": 0,
    },
    by_person=True,
)
def _person_erasure(d: dict, w: Words) -> str:
    cancelled, promoted = _count(d["cancelled"]), _count(d["promoted"])
    return _join(
        ngettext(
            "%(num)d registration was erased at the person's own request.",
            "%(num)d registrations were erased at the person's own request.",
            _count(d["registrations"]),
        ),
        ngettext("They concerned %(num)d event.", "They concerned %(num)d events.", _count(d["events"])),
        ngettext(
            "%(num)d of them was cancelled, and its place went to the waiting list.",
            "%(num)d of them were cancelled, and their places went to the waiting list.",
            cancelled,
        )
        if cancelled
        else "",
        ngettext(
            "%(num)d person from the waiting list got a seat.",
            "%(num)d people from the waiting list got a seat.",
            promoted,
        )
        if promoted
        else "",
    )


# --- staff accounts ----------------------------------------------------------------------------


@action(
    "user.create",
    _l("Staff account created"),
    example={"email": "ny@kommun.se", "role": "coordinator", "organisation": "Lerums kommun"},
)
def _user_create(d: dict, w: Words) -> str:
    if d.get("organisation"):
        return _(
            "%(email)s, role: %(role)s (%(organisation)s).",
            email=d["email"],
            role=w.role(d["role"]),
            organisation=d["organisation"],
        )
    return _("%(email)s, role: %(role)s.", email=d["email"], role=w.role(d["role"]))


@action("user.activate", _l("Staff account reactivated"), example={"email": "ny@kommun.se"})
def _user_activate(d: dict, w: Words) -> str:
    return _("%(email)s can log in again.", email=d["email"])


@action("user.deactivate", _l("Staff account deactivated"), example={"email": "ny@kommun.se"})
def _user_deactivate(d: dict, w: Words) -> str:
    return _("%(email)s can no longer log in; every session ended.", email=d["email"])


@action(
    "user.role",
    _l("Role changed"),
    example={
        "email": "ny@kommun.se",
        "from": "organiser",
        "to": "coordinator",
        "organisation": "Lerums kommun",
    },
)
def _user_role(d: dict, w: Words) -> str:
    change = {"email": d["email"], "from": quoted(w.role(d["from"])), "to": quoted(w.role(d["to"]))}
    if d.get("organisation"):
        return _(
            "The role of %(email)s changed from %(from)s to %(to)s (%(organisation)s); every session ended.",
            organisation=d["organisation"],
            **change,
        )
    return _(
        "The role of %(email)s changed from %(from)s to %(to)s; every session ended.", **change
    )


@action("user.password_change", _l("Password changed"), example={"email": "ny@kommun.se"})
def _user_password_change(d: dict, w: Words) -> str:
    return _("%(email)s changed their own password; every session ended.", email=d["email"])


@action("user.reset_link", _l("Password link sent"), example={"email": "ny@kommun.se"})
def _user_reset_link(d: dict, w: Words) -> str:
    return _("A link to choose a new password was sent to %(email)s.", email=d["email"])


# ``accounts.passwords.choose_password`` records "user.password_<purpose>".
@action("user.password_invite", _l("Invitation accepted"), example={"email": "ny@kommun.se"})
def _user_password_invite(d: dict, w: Words) -> str:
    return _("%(email)s chose a password through the invitation link.", email=d["email"])


@action("user.password_reset", _l("Password reset"), example={"email": "ny@kommun.se"})
def _user_password_reset(d: dict, w: Words) -> str:
    return _(
        "%(email)s chose a new password through a reset link; every session ended.",
        email=d["email"],
    )


@action("user.recovery_code", _l("Recovery code used"), example={"left": 7})
def _user_recovery_code(d: dict, w: Words) -> str:
    return ngettext("%(num)d recovery code left.", "%(num)d recovery codes left.", int(d["left"]))


@action("user.two_step_on", _l("Two-step log-in turned on"), example={"email": "ny@kommun.se"})
def _user_two_step_on(d: dict, w: Words) -> str:
    return _("Account: %(email)s.", email=d["email"])


@action("user.two_step_off", _l("Two-step log-in turned off"), example={"email": "ny@kommun.se"})
def _user_two_step_off(d: dict, w: Words) -> str:
    return _("Account: %(email)s.", email=d["email"])


# --- organisations -------------------------------------------------------------------------------

ORGANISATION_FIELDS = {"name": _l("Name"), "sort_order": _l("Position in lists")}


@action(
    "organisation.create",
    _l("Organisation added"),
    example={"name": "Lerums kommun", "sort_order": 2},
)
def _organisation_create(d: dict, w: Words) -> str:
    return _(
        "%(name)s (position in lists: %(position)s).",
        name=quoted(d["name"]),
        position=d["sort_order"],
    )


@action(
    "organisation.update",
    _l("Organisation changed"),
    example={"name": {"from": "Lerum", "to": "Lerums kommun"}, "sort_order": {"from": 0, "to": 2}},
)
def _organisation_update(d: dict, w: Words) -> str:
    parts = []
    for name, change in d.items():
        show = quoted if name == "name" else plain
        parts.append(
            _changed(ORGANISATION_FIELDS.get(name, name), show(change["from"]), show(change["to"]))
        )
    if not parts:
        raise ValueError("no change in the details")
    return _join(*parts)


@action("organisation.activate", _l("Organisation reactivated"), example={"name": "Lerums kommun"})
def _organisation_activate(d: dict, w: Words) -> str:
    return _("%(name)s is in the sign-up list again.", name=quoted(d["name"]))


@action(
    "organisation.deactivate", _l("Organisation deactivated"), example={"name": "Lerums kommun"}
)
def _organisation_deactivate(d: dict, w: Words) -> str:
    return _(
        "%(name)s is no longer in the sign-up list; its history stays.", name=quoted(d["name"])
    )
