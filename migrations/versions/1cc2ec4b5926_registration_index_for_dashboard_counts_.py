"""registration index for dashboard counts per organisation

A covering index for app.reports.counts_by_organisation (GROUP BY event_id,
organisation_id, counting statuses): the dashboard reads the index only.

Revision ID: 1cc2ec4b5926
Revises: edbab9b37ed7
Create Date: 2026-11-25 15:40:42.976356

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '1cc2ec4b5926'
down_revision = 'edbab9b37ed7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.create_index(
            'ix_registration_event_org_status', ['event_id', 'organisation_id', 'status'], unique=False
        )


def downgrade():
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.drop_index('ix_registration_event_org_status')
