"""retention and erasure: when an event's registrations were anonymised (event.purged_at)

Revision ID: 3f6a7b8c9d0e
Revises: 2e5f6a7b8c9d
Create Date: 2026-12-01 12:40:00

"""
import sqlalchemy as sa
from alembic import op

import app.models

revision = "3f6a7b8c9d0e"
down_revision = "2e5f6a7b8c9d"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purged_at", app.models.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_column("purged_at")
