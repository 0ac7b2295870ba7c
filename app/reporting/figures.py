"""Dashboard figures, aggregated in the database: the one place for staff reports.

Every function here runs one query with GROUP BY (never loads registrations to
count them), so a dashboard costs a fixed number of statements however many
people have signed up.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from ..core import clock
from ..core.errors import NotFound
from ..core.extensions import db
from ..models import Event, EventKind, EventStatus, Organisation, Registration
from ..models import RegistrationStatus as S
from ..registrations.reads import Counts, counts_by_status, team_counts_for

#: Events a dashboard shows: the public ones that still lie ahead.
DASHBOARD_STATUSES = (EventStatus.GAUGING, EventStatus.OPEN, EventStatus.CLOSED)


@dataclass(frozen=True)
class OrgRef:
    id: int
    name: str
    sort_order: int
    active: bool


@dataclass(frozen=True)
class DayPoint:
    day: date
    new: int
    total: int


@dataclass
class EventReport:
    """One event's figures; plain data, so templates never touch the ORM."""

    id: int
    title: str
    kind: EventKind
    status: EventStatus
    capacity: int
    starts_at: datetime | None
    ends_at: datetime | None
    registration_closes_at: datetime | None
    interest_threshold: int | None
    interest_deadline: datetime | None
    threshold_reached_at: datetime | None
    totals: Counts = field(default_factory=Counts)
    #: (organisation, counts) for every organisation with someone registered, in list order.
    by_organisation: list[tuple[OrgRef, Counts]] = field(default_factory=list)
    #: Cumulative interest per Stockholm day (gauging events only).
    interest_days: list[DayPoint] = field(default_factory=list)
    #: Work teams with someone still registered, and the people in them.
    teams: int = 0
    people_in_teams: int = 0

    @property
    def gauging(self) -> bool:
        return self.status == EventStatus.GAUGING

    @property
    def phase(self) -> EventStatus:
        """Open events read as closed once registration has closed (as the public sees it)."""
        if (
            self.status == EventStatus.OPEN
            and self.registration_closes_at
            and self.registration_closes_at <= clock.now()
        ):
            return EventStatus.CLOSED
        return self.status

    def interest_steps(self, left: float, right: float, top_y: float, bottom_y: float, top: int) -> str:
        """SVG polyline points of the cumulative interest, one flat step per day."""
        points = self.interest_days
        if not points:
            return ""
        step = (right - left) / len(points)
        scale = (bottom_y - top_y) / max(top, 1)
        coords = [f"{left:.1f},{bottom_y:.1f}"]
        for i, point in enumerate(points):
            y = bottom_y - point.total * scale
            coords.append(f"{left + i * step:.1f},{y:.1f}")
            coords.append(f"{left + (i + 1) * step:.1f},{y:.1f}")
        return " ".join(coords)

    @property
    def largest(self) -> int:
        """The largest per-organisation figure, to scale the bars."""
        values = [c.confirmed + c.waitlisted + c.interested for _, c in self.by_organisation]
        return max(values, default=0)


# --- the queries ---------------------------------------------------------------


def organisations() -> dict[int, OrgRef]:
    rows = db.session.execute(
        sa.select(Organisation.id, Organisation.name, Organisation.sort_order, Organisation.active)
    )
    return {row.id: OrgRef(row.id, row.name, row.sort_order, row.active) for row in rows}


def _event_rows(
    where: sa.ColumnElement[bool], limit: int | None = None, offset: int = 0
) -> list[EventReport]:
    """Events with their first start and last end (their stored span, ``events.spans``),
    a page of ``limit`` from ``offset`` when given."""
    query = (
        sa.select(
            Event.id,
            Event.title,
            Event.kind,
            Event.status,
            Event.capacity,
            Event.span_start.label("starts_at"),
            Event.span_end.label("ends_at"),
            Event.registration_closes_at,
            Event.interest_threshold,
            Event.interest_deadline,
            Event.threshold_reached_at,
        )
        .where(where)
        .order_by(Event.span_start.is_(None), Event.span_start, Event.id)
        .limit(limit)
        .offset(offset)
    )
    return [EventReport(**row._asdict()) for row in db.session.execute(query)]


def _event_count(where: sa.ColumnElement[bool]) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Event).where(where))


def _upcoming(now: datetime) -> sa.ColumnElement[bool]:
    """Gauging, open and closed events whose last session has not ended; a gauging event
    without sessions too (it still waits for a decision)."""
    ends = Event.span_end
    return sa.and_(
        Event.status.in_(DASHBOARD_STATUSES),
        sa.or_(ends > now, sa.and_(ends.is_(None), Event.status == EventStatus.GAUGING)),
    )


def upcoming_events(now: datetime | None = None) -> list[EventReport]:
    """Every upcoming event (``_upcoming``), soonest first."""
    return _event_rows(_upcoming(now or clock.now()))


def event_report_rows(event_id: int) -> list[EventReport]:
    return _event_rows(Event.id == event_id)


def counts_by_organisation(event_ids: Iterable[int]) -> dict[int, dict[int, Counts]]:
    """{event_id: {organisation_id: Counts}} for many events in one GROUP BY query."""
    event_ids = list(event_ids)
    if not event_ids:
        return {}
    rows = db.session.execute(
        sa.select(
            Registration.event_id, Registration.organisation_id, Registration.status, sa.func.count()
        )
        .where(Registration.event_id.in_(event_ids), Registration.status != S.CANCELLED)
        .group_by(Registration.event_id, Registration.organisation_id, Registration.status)
    )
    result: dict[int, dict[int, Counts]] = {event_id: {} for event_id in event_ids}
    by_pair = counts_by_status(((event_id, org_id), status, n) for event_id, org_id, status, n in rows)
    for (event_id, org_id), counts in by_pair.items():
        result[event_id][org_id] = counts
    return result


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# Stockholm is UTC+1 or UTC+2, and clocks change at 01:00 UTC. So a UTC hour 0-21 lies
# on the same Stockholm date, hour 23 on the next one, and hour 22 on one or the other
# depending on daylight saving time that evening. Grouping by (UTC date, that bucket) in
# the database gives exact Stockholm days on every backend without time-zone tables.
_LATE_EVENING = 22


def _stockholm_day(utc_day: date, bucket: int) -> date:
    if bucket == 0:
        return utc_day
    if bucket == 2:
        return utc_day + timedelta(days=1)
    moment = datetime.combine(utc_day, time(_LATE_EVENING), tzinfo=UTC)
    return clock.local(moment).date()


def interest_new_per_day(event_ids: Iterable[int]) -> dict[int, dict[date, int]]:
    """{event_id: {Stockholm day: interests registered that day}} for current interest.

    Counts registrations whose status is still ``interested`` (so the last point of the
    cumulative curve equals the total shown against the threshold; a withdrawn interest
    leaves the curve).
    """
    event_ids = list(event_ids)
    if not event_ids:
        return {}
    # Literal constants, not bind parameters: PostgreSQL must see the GROUP BY
    # expression exactly as in the select list.
    hour = sa.extract("hour", Registration.created_at)
    late = sa.literal_column(str(_LATE_EVENING))
    utc_day = sa.func.date(Registration.created_at).label("utc_day")
    bucket = sa.case(
        (hour < late, sa.literal_column("0")),
        (hour == late, sa.literal_column("1")),
        else_=sa.literal_column("2"),
    ).label("late_bucket")
    rows = db.session.execute(
        sa.select(Registration.event_id, utc_day, bucket, sa.func.count())
        .where(Registration.event_id.in_(event_ids), Registration.status == S.INTERESTED)
        .group_by(Registration.event_id, utc_day, bucket)
    )
    result: dict[int, dict[date, int]] = {event_id: defaultdict(int) for event_id in event_ids}
    for event_id, day, late, n in rows:
        result[event_id][_stockholm_day(_as_date(day), int(late))] += int(n)
    return result


def cumulative(per_day: dict[date, int], until: date) -> list[DayPoint]:
    """Every day from the first interest to ``until`` (or the last interest, if later)."""
    if not per_day:
        return []
    first, last = min(per_day), max(max(per_day), until)
    points, total, day = [], 0, first
    while day <= last:
        new = per_day.get(day, 0)
        total += new
        points.append(DayPoint(day, new, total))
        day += timedelta(days=1)
    return points


# --- putting it together ---------------------------------------------------------


def _ordered(orgs: dict[int, OrgRef], counts: dict[int, Counts], always: int | None):
    ids = set(counts) | ({always} if always in orgs else set())
    chosen = sorted((orgs[i] for i in ids if i in orgs), key=lambda o: (o.sort_order, o.name))
    return [(org, counts.get(org.id, Counts())) for org in chosen]


def _fill(reports: list[EventReport], always_show_org: int | None) -> list[EventReport]:
    if not reports:
        return reports
    ids = [r.id for r in reports]
    orgs = organisations()
    by_org = counts_by_organisation(ids)
    gauging = [r.id for r in reports if r.gauging]
    per_day = interest_new_per_day(gauging)
    teams = team_counts_for(ids)
    today = clock.local(clock.now()).date()
    for report in reports:
        report.teams, report.people_in_teams = teams.get(report.id, (0, 0))
        counts = by_org.get(report.id, {})
        report.totals = Counts(
            sum(c.confirmed for c in counts.values()),
            sum(c.waitlisted for c in counts.values()),
            sum(c.interested for c in counts.values()),
        )
        report.by_organisation = _ordered(orgs, counts, always_show_org)
        if report.gauging:
            until = today
            if report.interest_deadline:
                until = min(today, clock.local(report.interest_deadline).date())
            report.interest_days = cumulative(per_day.get(report.id, {}), until)
    return reports


def dashboard(always_show_org: int | None = None) -> list[EventReport]:
    """Every upcoming event with its figures: five queries whatever the numbers.

    ``always_show_org`` (a coordinator's organisation) gets a row even at zero.
    """
    return _fill(upcoming_events(), always_show_org)


#: Events per page of the dashboard.
PER_PAGE = 20


@dataclass(frozen=True)
class DashboardPage:
    reports: list[EventReport]
    number: int
    pages: int
    #: Upcoming events on every page.
    total: int


def dashboard_page(number: int = 1, always_show_org: int | None = None) -> DashboardPage:
    """One page of ``PER_PAGE`` upcoming events (soonest first) with their figures: six
    queries whatever the numbers, and a page's worth of work however many events lie
    ahead. A page past the last is ``NotFound``."""
    where = _upcoming(clock.now())
    total = _event_count(where)
    pages = max(1, -(-total // PER_PAGE))
    if number > pages:
        raise NotFound()
    shown = _event_rows(where, limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    return DashboardPage(_fill(shown, always_show_org), number, pages, total)


def event_report(event_id: int, always_show_org: int | None = None) -> EventReport | None:
    reports = _fill(event_report_rows(event_id), always_show_org)
    return reports[0] if reports else None
