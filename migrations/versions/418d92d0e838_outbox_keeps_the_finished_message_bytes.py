"""outbox keeps the finished message bytes

Messages are built to their RFC 5322 bytes when queued (app.mime), so every
delivery attempt sends the same bytes. Rows queued before this revision have
none and are built by the worker, as before.

Revision ID: 418d92d0e838
Revises: 1cc2ec4b5926
Create Date: 2026-11-25 17:46:45.252417

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '418d92d0e838'
down_revision = '1cc2ec4b5926'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('wire', sa.LargeBinary(length=16777215), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_column('wire')
