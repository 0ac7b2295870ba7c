"""The listing's query string read into ``listing.Filters``: one reading for every page
that takes the listing's filters (the listing, its feeds, the calendar subscription, the
embeddable list), so a feed or an embedded list shows exactly what the listing shows for
the same ``q``, ``organisation``, ``kind``, ``date_from`` and ``date_to``.

Other parameters (``page``, ``lang``, anything unknown) are not filters and are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from ..accounts.organisations import active_organisations
from ..events import listing
from ..events.statuses import kind_label
from ..models import EventKind
from .forms import EventFilterForm

#: The query-string names that are filters (the listing form's fields).
FILTER_NAMES = ("q", "organisation", "kind", "date_from", "date_to")


@dataclass(frozen=True)
class Reading:
    """The form (for showing it again, with its errors) and the filters it gave, or None
    when the query string was refused (the page answers 400)."""

    form: EventFilterForm
    filters: listing.Filters | None


def filter_form(args: MultiDict) -> EventFilterForm:
    """The listing's filter form, filled from ``args``, with its choices."""
    form = EventFilterForm(args)
    form.organisation.choices = [("", _("All organisers")), *active_organisations()]
    form.kind.choices = [("", _("All kinds"))] + [(k.value, kind_label(k)) for k in EventKind]
    return form


def read_filters(args: MultiDict, past: bool = False) -> Reading:
    """``args`` (a request's query string) as the listing reads it: no arguments means no
    filter; arguments that do not validate are refused; an unknown kind is no filter."""
    form = filter_form(args)
    if args and not form.validate():
        return Reading(form, None)
    kind = form.kind.data if form.kind.data in {k.value for k in EventKind} else None
    filters = listing.Filters(
        q=form.q.data or "",
        organisation_id=form.organisation.data or None,
        kind=EventKind(kind) if kind else None,
        date_from=form.date_from.data,
        date_to=form.date_to.data,
        past=past,
    )
    return Reading(form, filters)


def filter_args(args: Mapping[str, str]) -> dict[str, str]:
    """The filters of ``args`` that are set (for a link carrying the same filters)."""
    return {name: args[name] for name in FILTER_NAMES if args.get(name)}
