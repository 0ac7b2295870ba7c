"""what a person needs to know about an event: who arranges it, for whom, the fee, the
venue's address, and the organiser's message when it was cancelled

Revision ID: 7c4e2a9f1b6d
Revises: 5b2f7c1d9e3a
Create Date: 2026-12-01 10:05:00

"""
import sqlalchemy as sa
from alembic import op

revision = "7c4e2a9f1b6d"
down_revision = "5b2f7c1d9e3a"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organising_organisation_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("audience", sa.String(length=300), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("fee_sek", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("cancel_message", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_event_organising_organisation_id_organisation"),
            "organisation", ["organising_organisation_id"], ["id"],
        )
    op.execute("UPDATE event SET cancel_message = '' WHERE cancel_message IS NULL")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.alter_column("cancel_message", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("audience", existing_type=sa.String(length=300), server_default=None)
    with op.batch_alter_table("event_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=300), nullable=True))


def downgrade():
    with op.batch_alter_table("event_session", schema=None) as batch_op:
        batch_op.drop_column("address")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_event_organising_organisation_id_organisation"), type_="foreignkey")
        batch_op.drop_column("cancel_message")
        batch_op.drop_column("fee_sek")
        batch_op.drop_column("audience")
        batch_op.drop_column("organising_organisation_id")
