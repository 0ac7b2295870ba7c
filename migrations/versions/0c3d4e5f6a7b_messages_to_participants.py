"""messages to participants: the rounds of reminders and messages an organiser sent

Revision ID: 0c3d4e5f6a7b
Revises: 9b2c3d4e5f6a
Create Date: 2026-12-01 11:50:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import app.models


def exact(length):
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


revision = "0c3d4e5f6a7b"
down_revision = "9b2c3d4e5f6a"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "message_round",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("audience", sa.String(length=20), nullable=False),
        sa.Column("label", exact(60), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.models.UTCDateTime(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_message_round_event_id_event"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_message_round_created_by_id_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_round")),
        sa.UniqueConstraint("event_id", "kind", "label", name="uq_message_round_event_kind_label"),
    )


def downgrade():
    op.drop_table("message_round")
