"""Work teams (issue #12): colleagues signed up together, kept together or placed one by
one, on every database. The rules checker (tests/rules.py) runs after every scenario."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.core.errors import Refused
from app.core.extensions import db
from app.models import EventStatus, OutboxMessage, Registration, RegistrationStatus, Team
from app.registrations import reads, seats
from tests import factories as f
from tests.rules import assert_rules

S = RegistrationStatus


def statuses(event_id: int) -> dict[str, str]:
    rows = db.session.execute(
        sa.select(Registration.email, Registration.status)
        .where(Registration.event_id == event_id)
        .order_by(Registration.created_at, Registration.id)
    )
    return {email.split("@")[0]: status.value for email, status in rows}


def registration(local: str) -> Registration:
    return db.session.scalar(sa.select(Registration).where(Registration.email == f"{local}@example.org"))


def mails_to(local: str) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(OutboxMessage.kind)
            .where(OutboxMessage.recipient == f"{local}@example.org")
            .order_by(OutboxMessage.id)
        )
    )


def test_partial_fit_without_keep_together_places_members_in_order(db_app):
    org = f.organisation()
    ev = f.event(capacity=3)
    f.sign_up(ev.id, org.id, "a")
    result = f.team(ev.id, org.id, ["lead", "b", "c", "d"], keep=False)
    assert statuses(ev.id) == {
        "persona": "confirmed", "lead": "confirmed", "b": "confirmed", "c": "waitlisted", "d": "waitlisted"
    }
    assert [reads.waitlist_position(registration(x)) for x in ("c", "d")] == [1, 2]
    assert not result.refused
    assert_rules(ev.id)


def test_partial_fit_with_keep_together_makes_the_whole_team_wait(db_app):
    org = f.organisation()
    ev = f.event(capacity=4)
    f.sign_up(ev.id, org.id, "a")
    f.sign_up(ev.id, org.id, "b")
    f.team(ev.id, org.id, ["lead", "m1", "m2"], keep=True)
    assert statuses(ev.id) == {
        "persona": "confirmed", "personb": "confirmed", "lead": "waitlisted", "m1": "waitlisted", "m2": "waitlisted"
    }
    # The team holds one place in line: all three members are number 1.
    assert {reads.waitlist_position(registration(x)) for x in ("lead", "m1", "m2")} == {1}
    assert_rules(ev.id)


def test_first_fit_seats_people_behind_a_waiting_team_and_keeps_its_place(db_app):
    org = f.organisation()
    ev = f.event(capacity=4)
    f.sign_up(ev.id, org.id, "a")
    f.sign_up(ev.id, org.id, "b")
    f.team(ev.id, org.id, ["lead", "m1", "m2"], keep=True)
    # Two seats free, a team of three waits: newcomers alone fit and get the seats.
    assert f.sign_up(ev.id, org.id, "c").outcome == "confirmed"
    assert f.sign_up(ev.id, org.id, "d").outcome == "confirmed"
    assert f.sign_up(ev.id, org.id, "e").outcome == "waitlisted"
    # The team is still number 1 and the newcomer waits behind it, as number 2.
    assert reads.waitlist_position(registration("lead")) == 1
    assert reads.waitlist_position(registration("persone")) == 2
    assert reads.waitlist_positions(ev.id)[registration("persone").id] == 2
    assert_rules(ev.id)
    # One seat frees: not enough for the team; e is the next who fits.
    seats.cancel(registration("persona").manage_token)
    assert statuses(ev.id)["persone"] == "confirmed"
    assert statuses(ev.id)["lead"] == "waitlisted"
    assert_rules(ev.id)
    # Three more free up: the team gets its seats, all at once.
    for local in ("personb", "personc", "persond"):
        seats.cancel(registration(local).manage_token)
    assert [statuses(ev.id)[x] for x in ("lead", "m1", "m2")] == ["confirmed"] * 3
    assert_rules(ev.id)


def test_a_team_is_promoted_as_a_whole_when_capacity_is_raised(db_app):
    org = f.organisation()
    ev = f.event(capacity=3)
    f.sign_up(ev.id, org.id, "a")
    f.sign_up(ev.id, org.id, "b")
    f.team(ev.id, org.id, ["lead", "m1", "m2"], keep=True)  # one seat free: the team waits
    assert f.sign_up(ev.id, org.id, "c").outcome == "confirmed"  # fits behind it
    assert f.sign_up(ev.id, org.id, "d").outcome == "waitlisted"
    seats.set_capacity(ev.id, 4, None)  # one new seat: d fits, the team does not
    assert [statuses(ev.id)[x] for x in ("lead", "m1", "m2", "persond")] == ["waitlisted"] * 3 + ["confirmed"]
    assert_rules(ev.id)
    seats.set_capacity(ev.id, 7, None)  # three more: the team together
    assert [statuses(ev.id)[x] for x in ("lead", "m1", "m2")] == ["confirmed"] * 3
    for member in ("lead", "m1", "m2"):
        assert mails_to(member)[-1] == "promoted"  # each member is told
    assert_rules(ev.id)


def test_a_members_cancellation_shrinks_the_team_and_may_let_it_fit(db_app):
    org = f.organisation()
    ev = f.event(capacity=3)
    f.sign_up(ev.id, org.id, "a")
    team = f.team(ev.id, org.id, ["lead", "m1", "m2"], keep=True)
    assert statuses(ev.id)["lead"] == "waitlisted"  # two free seats, a team of three
    seats.cancel(registration("m2").manage_token)  # m2 cancels on their own link
    assert [statuses(ev.id)[x] for x in ("lead", "m1", "m2")] == ["confirmed", "confirmed", "cancelled"]
    assert reads.team_facts(team.team.id).size == 2
    assert_rules(ev.id)


def test_a_team_that_showed_interest_is_confirmed_by_the_team_rule(db_app):
    org = f.organisation()
    ev = f.event(capacity=4, status=EventStatus.GAUGING)
    f.sign_up(ev.id, org.id, "a")
    f.sign_up(ev.id, org.id, "b")
    f.team(ev.id, org.id, ["lead", "m1", "m2"], keep=True)
    f.sign_up(ev.id, org.id, "c")
    f.team(ev.id, org.id, ["x1", "x2"], keep=False)
    assert set(statuses(ev.id).values()) == {"interested"}
    seats.open_gauged_event(ev.id, None)
    assert statuses(ev.id) == {
        "persona": "confirmed", "personb": "confirmed",
        "lead": "waitlisted", "m1": "waitlisted", "m2": "waitlisted",  # did not fit together
        "personc": "confirmed", "x1": "confirmed",  # fitted behind it (first fit)
        "x2": "waitlisted",
    }
    assert_rules(ev.id)


def test_contact_gets_one_summary_and_every_member_their_own_mail(db_app):
    org = f.organisation()
    ev = f.event(capacity=2)
    result = f.team(ev.id, org.id, ["lead", "m1", "m2"], keep=False)
    assert mails_to("lead") == ["confirmation", "team_created"]
    assert mails_to("m1") == ["confirmation"]
    assert mails_to("m2") == ["waitlisted"]
    summary = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == "team_created"))
    assert f"/t/{result.manage_token}" in summary.body_text
    for local in ("m1@example.org", "m2@example.org"):
        assert local in summary.body_text
    tokens = {registration(x).manage_token for x in ("lead", "m1", "m2")}
    assert len(tokens) == 3


def test_an_already_registered_member_refuses_a_team_kept_together_and_nothing_is_written(db_app):
    org = f.organisation()
    ev = f.event(capacity=10)
    f.sign_up(ev.id, org.id, "m1", email="m1@example.org")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
    with pytest.raises(seats.RowsRefused) as refused:
        f.team(ev.id, org.id, ["lead", "m1", "m2"], keep=True)
    assert list(refused.value.rows) == [1]
    assert refused.value.rows[1][0] == "email"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Team)) == 0
    assert set(statuses(ev.id)) == {"m1"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == before


def test_an_already_registered_member_is_left_out_of_a_team_not_kept_together(db_app):
    org = f.organisation()
    ev = f.event(capacity=10)
    f.sign_up(ev.id, org.id, "m1", email="m1@example.org")
    result = f.team(ev.id, org.id, ["lead", "m1", "m2"], keep=False)
    assert list(result.refused) == [1]
    assert [i for i, _ in result.placed] == [0, 2]
    assert mails_to("m1")[-1] == "already_registered"  # the owner gets their own link
    summary = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == "team_created"))
    assert "m1@example.org" in summary.body_text  # the summary says who was not signed up
    assert_rules(ev.id)


def test_too_many_members_and_duplicate_emails_are_refused_before_anything_is_written(db_app):
    org = f.organisation()
    ev = f.event(capacity=20, max_team_size=3)
    with pytest.raises(Refused) as too_many:
        f.team(ev.id, org.id, ["a", "b", "c", "d"])
    assert too_many.value.field == "colleagues"
    with pytest.raises(seats.RowsRefused) as duplicate:
        f.team(ev.id, org.id, ["a", "b", "a"])
    assert list(duplicate.value.rows) == [2] and duplicate.value.rows[2][0] == "email"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0


def test_a_team_kept_together_larger_than_the_event_is_refused(db_app):
    org = f.organisation()
    ev = f.event(capacity=2)
    with pytest.raises(Refused) as refused:
        f.team(ev.id, org.id, ["a", "b", "c"], keep=True)
    assert refused.value.field == "keep_together"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 0


def test_without_a_waiting_list_members_without_a_seat_are_refused(db_app):
    org = f.organisation()
    ev = f.event(capacity=2, waitlist_enabled=False)
    result = f.team(ev.id, org.id, ["a", "b", "c"], keep=False)
    assert [i for i, _ in result.placed] == [0, 1] and list(result.refused) == [2]
    ev2 = f.event(capacity=3, waitlist_enabled=False)
    f.sign_up(ev2.id, org.id, "x")
    with pytest.raises(Refused) as kept:
        f.team(ev2.id, org.id, ["p", "q", "r"], keep=True)
    assert kept.value.code == "full"
    assert_rules(ev.id)
    assert_rules(ev2.id)


def test_a_resubmitted_team_form_makes_nothing_new(db_app):
    org = f.organisation()
    ev = f.event(capacity=10)
    first = f.team(ev.id, org.id, ["lead", "b"], submission_key="k" * 32)
    again = f.team(ev.id, org.id, ["lead", "b"], submission_key="k" * 32)
    assert again.resubmitted and again.team.id == first.team.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 2


def test_contact_cancels_one_member_or_everyone(db_app):
    org = f.organisation()
    ev = f.event(capacity=3)
    result = f.team(ev.id, org.id, ["lead", "b", "c"], keep=True)
    f.sign_up(ev.id, org.id, "w")  # waits
    seats.cancel_team_member(result.manage_token, registration("c").id)
    assert statuses(ev.id)["c"] == "cancelled" and statuses(ev.id)["personw"] == "confirmed"
    cancelled = seats.cancel_team(result.manage_token)
    assert {r.email for r in cancelled} == {"lead@example.org", "b@example.org"}
    assert_rules(ev.id)
    with pytest.raises(Refused):
        seats.cancel_team(result.manage_token)


def test_adding_a_member_to_a_team_kept_together_needs_a_free_seat(db_app):
    org = f.organisation()
    ev = f.event(capacity=3)
    result = f.team(ev.id, org.id, ["lead", "b"], keep=True)
    added = seats.add_team_member(result.manage_token, seats.Member("C", "c@example.org", org.id))
    assert added.status == S.CONFIRMED and added.team_id == result.team.id
    with pytest.raises(Refused):  # the event is full now
        seats.add_team_member(result.manage_token, seats.Member("D", "d@example.org", org.id))
    assert_rules(ev.id)


def test_a_waiting_team_kept_together_takes_no_newcomer_but_a_split_one_does(db_app):
    org = f.organisation()
    ev = f.event(capacity=3)
    f.sign_up(ev.id, org.id, "a")
    f.sign_up(ev.id, org.id, "b")
    result = f.team(ev.id, org.id, ["lead", "m1"], keep=True)  # one seat free, team of two waits
    with pytest.raises(Refused):
        seats.add_team_member(result.manage_token, seats.Member("C", "c@example.org", org.id))
    seats.set_keep_together(result.manage_token, False)  # split: the lead takes the free seat
    assert [statuses(ev.id)[x] for x in ("lead", "m1")] == ["confirmed", "waitlisted"]
    added = seats.add_team_member(result.manage_token, seats.Member("C", "c@example.org", org.id))
    assert added.status == S.WAITLISTED and reads.waitlist_position(added) == 2
    with pytest.raises(Refused):  # mixed statuses cannot be kept together
        seats.set_keep_together(result.manage_token, True)
    assert_rules(ev.id)


def test_promoting_a_member_by_hand_promotes_the_team_kept_together(db_app):
    from app.models import Role
    from tests.staff_helpers import make_user

    user = make_user(Role.ORGANISER)
    org = f.organisation()
    ev = f.event(capacity=2)
    f.sign_up(ev.id, org.id, "a")
    f.team(ev.id, org.id, ["lead", "m1", "m2"], keep=False)
    kept = f.team(ev.id, org.id, ["k1", "k2"], keep=True)
    seats.promote_by_hand(registration("k2").id, user.id)
    assert [statuses(ev.id)[x] for x in ("k1", "k2")] == ["confirmed", "confirmed"]
    assert db.session.get(type(ev), ev.id).capacity == 4
    assert reads.team_facts(kept.team.id).seated == 2
    assert_rules(ev.id)
