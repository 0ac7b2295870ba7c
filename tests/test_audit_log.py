"""The audit log page: filters by action, user, object type and Stockholm dates; pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from app.core.database import write_transaction
from app.core.extensions import db
from app.models import AuditEntry, Role
from tests.staff_clients import logged_in
from tests.staff_helpers import make_user


def entry(action: str, when: datetime, user_id: int | None = None, object_type: str = "event", object_id: int = 1, **details):
    def work():
        db.session.add(
            AuditEntry(
                action=action,
                created_at=when,
                user_id=user_id,
                object_type=object_type,
                object_id=object_id,
                details=details,
            )
        )

    write_transaction(work)


def shown(html: str) -> list[str]:
    """The action codes listed, newest first."""
    return re.findall(r"<td><code>([^<]+)</code></td>", html)


@pytest.fixture
def log():
    organiser = make_user(Role.ORGANISER)
    admin = make_user(Role.ADMIN)
    utc = lambda *a: datetime(*a, tzinfo=UTC)  # noqa: E731
    entry("event.publish", utc(2025, 3, 1, 10), organiser.id, object_id=7)
    entry("export", utc(2025, 3, 1, 23, 30), admin.id, format="csv", rows=12)  # 00.30 on 2 March in Stockholm
    entry("organisation.create", utc(2025, 3, 5, 9), admin.id, object_type="organisation", name="<b>Ny</b>")
    entry("reminders.sent", utc(2025, 3, 6, 5), None, sent=40)
    return organiser, admin


def test_filters(app, log):
    organiser, admin = log
    client = logged_in(app, organiser)
    everything = client.get("/staff/audit")
    assert everything.status_code == 200
    html = everything.get_data(as_text=True)
    assert shown(html) == ["reminders.sent", "organisation.create", "export", "event.publish"]
    assert "&lt;b&gt;Ny&lt;/b&gt;" in html and "<b>Ny</b>" not in html  # details are escaped

    def actions(**args):
        response = client.get("/staff/audit", query_string=args)
        assert response.status_code == 200, response.get_data(as_text=True)
        return shown(response.get_data(as_text=True))

    assert actions(action="export") == ["export"]
    assert actions(user=str(admin.id)) == ["organisation.create", "export"]
    assert actions(user="system") == ["reminders.sent"]
    assert actions(object_type="organisation") == ["organisation.create"]
    # Days are Stockholm days (UTC+1 in winter): the export at 23.30 UTC was on 2 March.
    assert actions(date_from="2025-03-01", date_to="2025-03-01") == ["event.publish"]
    assert actions(date_from="2025-03-02") == ["reminders.sent", "organisation.create", "export"]
    assert actions(date_to="2025-03-05", user=str(admin.id)) == ["organisation.create", "export"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"date_from": "igår"}, "Enter a date like 2025-03-31."),
        ({"date_from": "2025-03-05", "date_to": "2025-03-01"}, "The end date is before the start date."),
        ({"action": "no.such.action"}, "Choose a value from the list."),
        ({"user": "12345678"}, "Choose a value from the list."),
    ],
)
def test_bad_filters_are_explained(app, log, args, message):
    client = logged_in(app, log[0])
    client.get("/lang/en")
    response = client.get("/staff/audit", query_string=args)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_pages_of_fifty(app):
    organiser = make_user(Role.ORGANISER)
    start = datetime(2025, 1, 1, tzinfo=UTC)

    def work():
        for n in range(120):
            db.session.add(AuditEntry(action=f"test.{n:03d}", created_at=start + timedelta(hours=n), object_type="event"))

    write_transaction(work)
    client = logged_in(app, organiser)
    first = shown(client.get("/staff/audit").get_data(as_text=True))
    assert first == [f"test.{n:03d}" for n in range(119, 69, -1)]
    third = client.get("/staff/audit?page=3").get_data(as_text=True)
    assert shown(third) == [f"test.{n:03d}" for n in range(19, -1, -1)]
    assert 'rel="prev"' in third and 'rel="next"' not in third
    # The filter is kept in the page links.
    filtered = client.get("/staff/audit?object_type=event").get_data(as_text=True)
    assert "/staff/audit?page=2&amp;object_type=event" in filtered
    assert shown(client.get("/staff/audit?page=99").get_data(as_text=True)) == []


def test_only_organisers_and_admins(app, log):
    organiser, admin = log
    assert logged_in(app, admin).get("/staff/audit").status_code == 200
    coordinator = make_user(Role.COORDINATOR, organisation="Lerums kommun")
    assert logged_in(app, coordinator).get("/staff/audit").status_code == 403
    anonymous = logged_in(app, None).get("/staff/audit")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
