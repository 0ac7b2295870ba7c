"""The write-transaction helper: SQLite writers queue for their turn on an OS file lock."""

from __future__ import annotations

import subprocess
import sys

from app.core.database import write_transaction, writer_turn
from app.core.extensions import db
from app.models import Organisation

PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    sys.exit(3)
"""


def turn_is_free(path: str) -> bool:
    """Can another process take the writers' lock right now?"""
    result = subprocess.run([sys.executable, "-c", PROBE, path], timeout=30)
    assert result.returncode in (0, 3), result
    return result.returncode == 0


def test_a_write_transaction_holds_the_writers_turn_until_it_commits(app):
    lock_file = f"{db.engine.url.database}.writers"
    seen_inside = []

    def work():
        db.session.add(Organisation(name="Turn kommun"))
        seen_inside.append(turn_is_free(lock_file))

    write_transaction(work)
    assert seen_inside == [False]  # another process would have waited for its turn
    assert turn_is_free(lock_file)  # and gets it once the transaction has committed


def test_a_failed_write_transaction_gives_the_turn_back(app):
    lock_file = f"{db.engine.url.database}.writers"

    def work():
        db.session.add(Organisation(name="Ångrad kommun"))
        raise ValueError("changed my mind")

    try:
        write_transaction(work)
    except ValueError:
        pass
    assert turn_is_free(lock_file)
    assert db.session.query(Organisation).filter_by(name="Ångrad kommun").count() == 0


def test_a_turn_taken_twice_by_one_thread_does_not_wait_for_itself(app):
    lock_file = f"{db.engine.url.database}.writers"
    with writer_turn():
        with writer_turn():
            assert not turn_is_free(lock_file)
        assert not turn_is_free(lock_file)  # the inner turn did not give the outer one away
    assert turn_is_free(lock_file)


def test_the_migrations_build_exactly_the_schema_the_models_describe(db_app):
    """Alembic's own comparison, types included: a model change without its migration (or
    a migration that drifts, such as a lost collation on MariaDB) fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []
