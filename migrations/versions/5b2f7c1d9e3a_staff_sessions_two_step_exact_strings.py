"""staff sessions, two-step log-in, exact comparison of tokens and emails

- user.session_secret: part of every session's identity; a new value ends them all
  (log-out, password change or reset, role change, deactivation).
- user.totp_secret, totp_last_step, recovery_code_hashes: optional two-step log-in.
- MariaDB/MySQL only: email addresses, manage tokens, form keys and dedupe keys move to
  the binary utf8mb4 collation. The default collation ignores case and accents, so
  "jörgen@" collided with "jorgen@" and a token with swapped letter case matched.
  (PostgreSQL and SQLite already compare these exactly.)

Revision ID: 5b2f7c1d9e3a
Revises: 418d92d0e838
Create Date: 2026-12-01 09:30:00

"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = "5b2f7c1d9e3a"
down_revision = "418d92d0e838"
branch_labels = None
depends_on = None

# (table, column, length, nullable)
EXACT = [
    ("user", "email", 254, False),
    ("registration", "email", 254, False),
    ("registration", "active_email", 254, True),
    ("registration", "manage_token", 64, False),
    ("registration", "submission_key", 64, True),
    ("outbox_message", "dedupe_key", 200, False),
]


def _collate(collation: str) -> None:
    if op.get_bind().dialect.name not in ("mysql", "mariadb"):
        return
    for table, column, length, nullable in EXACT:
        null = "NULL" if nullable else "NOT NULL"
        op.execute(
            f"ALTER TABLE `{table}` MODIFY `{column}` VARCHAR({length}) "
            f"CHARACTER SET utf8mb4 COLLATE {collation} {null}"
        )


def upgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("recovery_code_hashes", sa.JSON(), nullable=True))
    user = sa.table("user", sa.column("id", sa.Integer), sa.column("session_secret", sa.String))
    bind = op.get_bind()
    for (user_id,) in bind.execute(sa.select(user.c.id)).all():
        bind.execute(
            user.update().where(user.c.id == user_id).values(session_secret=secrets.token_urlsafe(32))
        )
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.alter_column("session_secret", existing_type=sa.String(length=64), nullable=False)
    _collate("utf8mb4_bin")


def downgrade():
    _collate("utf8mb4_unicode_ci")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("recovery_code_hashes")
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_secret")
        batch_op.drop_column("session_secret")
