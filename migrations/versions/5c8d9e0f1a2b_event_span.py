"""an event's stored span: the first start and last end of its sessions, indexed

event.span_start and event.span_end hold min(starts_at) and max(ends_at) of the event's
sessions (NULL without sessions), kept by app/events/spans.py on every flush. The
listing, the feeds, the staff list and the dashboard find the upcoming events as one
range of ix_event_span instead of aggregating every session of every event, past ones
included. Filled in here from the sessions.

Revision ID: 5c8d9e0f1a2b
Revises: 4a7b8c9d0e1f
Create Date: 2026-12-01 17:00:00

"""
import sqlalchemy as sa
from alembic import op

import app.models

revision = "5c8d9e0f1a2b"
down_revision = "4a7b8c9d0e1f"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("span_start", app.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("span_end", app.models.UTCDateTime(), nullable=True))
    op.execute(
        "UPDATE event SET "
        "span_start = (SELECT min(s.starts_at) FROM event_session s WHERE s.event_id = event.id), "
        "span_end = (SELECT max(s.ends_at) FROM event_session s WHERE s.event_id = event.id)"
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index("ix_event_span", ["span_end", "span_start", "status"], unique=False)


def downgrade():
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index("ix_event_span")
        batch_op.drop_column("span_end")
        batch_op.drop_column("span_start")
