"""attendance per session: who was checked in at which session of a course

Existing check-ins (one per registration, before sessions were told apart) become one row
each, for the session held on the day of the check-in (Stockholm time), else the event's
first session.

Revision ID: 1d4e5f6a7b8c
Revises: 0c3d4e5f6a7b
Create Date: 2026-12-01 12:40:00

"""
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

import app.models

revision = "1d4e5f6a7b8c"
down_revision = "0c3d4e5f6a7b"
branch_labels = None
depends_on = None

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def upgrade():
    op.create_table(
        "session_attendance",
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("checked_in_at", app.models.UTCDateTime(), nullable=False),
        sa.Column("checked_in_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registration.id"],
            name=op.f("fk_session_attendance_registration_id_registration"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["event_session.id"],
            name=op.f("fk_session_attendance_session_id_event_session"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["checked_in_by"],
            ["user.id"],
            name=op.f("fk_session_attendance_checked_in_by_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("registration_id", "session_id", name=op.f("pk_session_attendance")),
    )
    with op.batch_alter_table("session_attendance", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_attendance_session_id"), ["session_id"], unique=False)
    _carry_over_check_ins()


def _local_day(value):
    return value.astimezone(STOCKHOLM).date()


def _carry_over_check_ins():
    """One row per registration already checked in, for the session of that day."""
    bind = op.get_bind()
    when = app.models.UTCDateTime()
    checked_in = bind.execute(
        sa.text(
            "SELECT id, event_id, checked_in_at FROM registration "
            "WHERE status = 'attended' AND checked_in_at IS NOT NULL"
        ).columns(sa.column("id", sa.Integer()), sa.column("event_id", sa.Integer()), sa.column("checked_in_at", when))
    ).all()
    if not checked_in:
        return
    sessions: dict[int, list] = {}
    for session_id, event_id, starts_at in bind.execute(
        sa.text("SELECT id, event_id, starts_at FROM event_session ORDER BY starts_at, id").columns(
            sa.column("id", sa.Integer()), sa.column("event_id", sa.Integer()), sa.column("starts_at", when)
        )
    ):
        sessions.setdefault(event_id, []).append((session_id, _local_day(starts_at)))
    table = sa.table(
        "session_attendance",
        sa.column("registration_id", sa.Integer()),
        sa.column("session_id", sa.Integer()),
        sa.column("checked_in_at", when),
        sa.column("checked_in_by", sa.Integer()),
    )
    rows = []
    for registration_id, event_id, checked_in_at in checked_in:
        held = sessions.get(event_id)
        if not held:
            continue
        day = _local_day(checked_in_at)
        session_id = next((s for s, starts in held if starts == day), held[0][0])
        rows.append(
            {
                "registration_id": registration_id,
                "session_id": session_id,
                "checked_in_at": checked_in_at,
                "checked_in_by": None,
            }
        )
    if rows:
        op.bulk_insert(table, rows)


def downgrade():
    with op.batch_alter_table("session_attendance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_attendance_session_id"))
    op.drop_table("session_attendance")
