"""The app a page benchmark runs on: a fresh SQLite file in a temporary folder, or the
database in ``KVARN_BENCH_DATABASE_URL``, migrated to head and emptied (every table)."""

from __future__ import annotations

import os
import tempfile


def empty_app():
    """Kvarn's app (CSRF and rate limits off) on a migrated, empty database."""
    from flask_migrate import upgrade

    from app import create_app
    from app.core.database import write_transaction
    from app.core.extensions import db

    url = os.environ.get("KVARN_BENCH_DATABASE_URL")
    tmp = tempfile.mkdtemp(prefix="kvarn-bench-")
    os.environ.setdefault("KVARN_INSTANCE_PATH", tmp)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url or f"sqlite:///{tmp}/bench.sqlite3",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "SECRET_KEY": "bench",
        }
    )
    with app.app_context():
        upgrade()
        write_transaction(
            lambda: [db.session.execute(t.delete()) for t in reversed(db.metadata.sorted_tables)]
        )
    return app
