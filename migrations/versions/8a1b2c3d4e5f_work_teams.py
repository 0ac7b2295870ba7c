"""work teams: colleagues signed up together, kept together or not; the event's largest team

Revision ID: 8a1b2c3d4e5f
Revises: 7c4e2a9f1b6d
Create Date: 2026-12-01 11:45:00

"""
import sqlalchemy as sa

import app.models
from alembic import op
from sqlalchemy.dialects import mysql


def exact(length):
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


revision = "8a1b2c3d4e5f"
down_revision = "7c4e2a9f1b6d"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "team",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("keep_together", sa.Boolean(), nullable=False),
        sa.Column("contact_name", sa.String(length=120), nullable=False),
        sa.Column("contact_email", exact(254), nullable=False),
        sa.Column("locale", sa.String(length=5), nullable=False),
        sa.Column("manage_token", exact(64), nullable=False),
        sa.Column("submission_key", exact(64), nullable=True),
        sa.Column("created_at", app.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], name=op.f("fk_team_event_id_event"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team")),
        sa.UniqueConstraint("manage_token", name=op.f("uq_team_manage_token")),
        sa.UniqueConstraint("submission_key", name=op.f("uq_team_submission_key")),
    )
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_team_event_id"), ["event_id"], unique=False)
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_team_size", sa.Integer(), nullable=False, server_default="8"))
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.alter_column("max_team_size", existing_type=sa.Integer(), server_default=None)
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registration_team_id"), ["team_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_registration_team_id_team"), "team", ["team_id"], ["id"], ondelete="SET NULL"
        )


def downgrade():
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_registration_team_id_team"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_registration_team_id"))
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_column("max_team_size")
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_event_id"))
    op.drop_table("team")
