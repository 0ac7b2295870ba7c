"""indexes for pages at scale: the dashboard's counts index also covers work teams

ix_registration_event_org_status (event_id, organisation_id, status) becomes
ix_registration_event_org_status_team (event_id, organisation_id, status, team_id): the
same index, one column longer, so the dashboard's team counts (registrations.reads.
team_counts_for) read the index only, like its counts per organisation, instead of one
table row per registration of the events shown. No extra index for a sign-up to write.

Revision ID: 4a7b8c9d0e1f
Revises: 3f6a7b8c9d0e
Create Date: 2026-12-01 14:00:00

"""
from alembic import op

revision = "4a7b8c9d0e1f"
down_revision = "3f6a7b8c9d0e"
branch_labels = None
depends_on = None


def upgrade():
    # The new index first: MariaDB's foreign key on event_id always has an index.
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.create_index(
            "ix_registration_event_org_status_team",
            ["event_id", "organisation_id", "status", "team_id"],
            unique=False,
        )
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_index("ix_registration_event_org_status")


def downgrade():
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.create_index(
            "ix_registration_event_org_status", ["event_id", "organisation_id", "status"], unique=False
        )
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_index("ix_registration_event_org_status_team")
