"""subscriptions ("bevakning") and announcements: subscribers, their filters, what each got; when an event first became public

Revision ID: 9b2c3d4e5f6a
Revises: 8a1b2c3d4e5f
Create Date: 2026-12-01 11:50:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import app.models

revision = "9b2c3d4e5f6a"
down_revision = "8a1b2c3d4e5f"
branch_labels = None
depends_on = None


def exact(length):
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


KINDS = ("course", "lecture", "meeting", "conference")


def upgrade():
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("published_at", app.models.UTCDateTime(), nullable=True))

    op.create_table(
        "subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", exact(254), nullable=False),
        sa.Column("locale", sa.String(length=5), nullable=False),
        sa.Column(
            "frequency",
            sa.Enum("daily", "weekly", name="subscriptionfrequency", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("confirm_token", exact(64), nullable=False),
        sa.Column("manage_token", exact(64), nullable=False),
        sa.Column("created_at", app.models.UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", app.models.UTCDateTime(), nullable=True),
        sa.Column("digest_period", sa.String(length=10), nullable=True),
        sa.Column("last_digest_at", app.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription")),
        sa.UniqueConstraint("email", name=op.f("uq_subscription_email")),
        sa.UniqueConstraint("confirm_token", name=op.f("uq_subscription_confirm_token")),
        sa.UniqueConstraint("manage_token", name=op.f("uq_subscription_manage_token")),
    )
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscription_created_at"), ["created_at"], unique=False)

    op.create_table(
        "subscription_kind",
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind", sa.Enum(*KINDS, name="eventkind", native_enum=False, length=20), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["subscription.id"],
            name=op.f("fk_subscription_kind_subscription_id_subscription"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscription_id", "kind", name=op.f("pk_subscription_kind")),
    )

    op.create_table(
        "subscription_organisation",
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["subscription.id"],
            name=op.f("fk_subscription_organisation_subscription_id_subscription"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisation.id"],
            name=op.f("fk_subscription_organisation_organisation_id_organisation"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "subscription_id", "organisation_id", name=op.f("pk_subscription_organisation")
        ),
    )
    with op.batch_alter_table("subscription_organisation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscription_organisation_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "subscription_delivery",
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("digest", "announcement", name="deliverykind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("created_at", app.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["subscription.id"],
            name=op.f("fk_subscription_delivery_subscription_id_subscription"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"],
            name=op.f("fk_subscription_delivery_event_id_event"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "subscription_id", "event_id", "kind", name=op.f("pk_subscription_delivery")
        ),
    )
    with op.batch_alter_table("subscription_delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscription_delivery_event_id"), ["event_id"], unique=False)


def downgrade():
    with op.batch_alter_table("subscription_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_delivery_event_id"))
    op.drop_table("subscription_delivery")
    with op.batch_alter_table("subscription_organisation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_organisation_organisation_id"))
    op.drop_table("subscription_organisation")
    op.drop_table("subscription_kind")
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_created_at"))
    op.drop_table("subscription")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_column("published_at")
