"""Engine set-up per database and the one way to run a write transaction.

SQLite: pysqlite's own transaction handling is switched off and we emit BEGIN
ourselves (SQLAlchemy's documented "Serializable isolation / Savepoints /
Transactional DDL" recipe for pysqlite). Write transactions begin with
``BEGIN IMMEDIATE`` so two writers never read-then-write past each other;
read-only requests use a plain deferred BEGIN and, thanks to WAL, never block.

PostgreSQL and MariaDB run at READ COMMITTED; the seats module serialises
decisions with ``SELECT ... FOR UPDATE`` on the event row.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from .extensions import db
from .search import install_sqlite_functions

try:
    import fcntl
except ImportError:  # not on Windows: writers then simply wait in SQLite's busy handler
    fcntl = None

log = logging.getLogger(__name__)
T = TypeVar("T")

IMMEDIATE_OPTION = "kvarn_write"
#: On SQLite: every statement on this connection is its own transaction (no BEGIN is
#: sent, so SQLite commits each one as it completes). For a connection that only sends
#: single-row writes each meant to be committed at once (the outbox's outcomes).
SINGLE_STATEMENT_OPTION = "kvarn_single_statement"


class BusyError(RuntimeError):
    """The database stayed locked after every retry; ask the user to try again."""


class NotInWriteTransaction(RuntimeError):
    """A lock was asked for outside ``write_transaction``: a programming error."""


_WRITING = "kvarn_writing"


def in_write_transaction() -> bool:
    """True while ``write_transaction`` runs its work (in this session)."""
    return bool(db.session.info.get(_WRITING))


def require_write_transaction() -> None:
    """Refuse to go on outside a write transaction (locks taken there would be lost)."""
    if not in_write_transaction():
        raise NotInWriteTransaction(
            "this needs a write transaction: call it from inside write_transaction()"
        )


def engine_options_for(uri: str, busy_timeout: int) -> dict:
    backend = make_url(uri).get_backend_name()
    if backend == "sqlite":
        return {"connect_args": {"timeout": busy_timeout}}
    options: dict = {"pool_pre_ping": True, "isolation_level": "READ COMMITTED"}
    if backend in ("mysql", "mariadb"):
        options["pool_recycle"] = 3600
    return options


def install_sqlite_listeners(engine: Engine, busy_timeout: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - exercised on connect
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        install_sqlite_functions(dbapi_connection)  # a Unicode lower() for searches

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        options = conn.get_execution_options()
        if options.get(SINGLE_STATEMENT_OPTION):
            return  # SQLite's own autocommit: the statement is the transaction
        if options.get(IMMEDIATE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def init_database(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            install_sqlite_listeners(engine, app.config["SQLITE_BUSY_TIMEOUT"])


_RETRYABLE_PG = {"40001", "40P01", "55P03"}
_RETRYABLE_MYSQL = {1205, 1213}


def is_retryable(exc: DBAPIError) -> bool:
    orig = getattr(exc, "orig", None)
    if orig is None:
        return False
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in _RETRYABLE_PG:
        return True
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _RETRYABLE_MYSQL:
        return True
    if isinstance(exc, OperationalError):
        text = str(orig).lower()
        return "database is locked" in text or "database is busy" in text
    return False


class _WriterTurns:
    """Writers to one SQLite file wait their turn on an OS file lock, not by polling.

    SQLite itself lets one writer in at a time and makes the others retry with
    growing sleeps (its busy handler): under a rush a waiting writer sleeps on
    long after the lock is free, which costs throughput and makes the slowest
    answers slow. Taking a ``flock`` on ``<database>.writers`` first queues the
    writers in the kernel, which wakes the next one the moment the lock is
    released. It only orders writers: SQLite's own lock still guarantees that
    one writes at a time (a writer that does not take the turn is still safe).
    One file descriptor per process (opened after any fork); a thread lock
    orders the threads of one process, since they share it.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._files: dict[tuple[int, str], tuple[threading.Lock, int]] = {}
        self._depth = threading.local()

    def _for(self, path: str) -> tuple[threading.Lock, int]:
        key = (os.getpid(), path)
        with self._guard:
            if key not in self._files:
                fd = os.open(f"{path}.writers", os.O_RDWR | os.O_CREAT, 0o600)
                self._files[key] = (threading.Lock(), fd)
            return self._files[key]

    @contextmanager
    def turn(self, path: str) -> Iterator[None]:
        depth = getattr(self._depth, "value", 0)
        if depth:  # a write inside a write: this thread has the turn already
            self._depth.value = depth + 1
            try:
                yield
            finally:
                self._depth.value = depth
            return
        thread_lock, fd = self._for(path)
        with thread_lock:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._depth.value = 1
            try:
                yield
            finally:
                self._depth.value = 0
                fcntl.flock(fd, fcntl.LOCK_UN)


_writer_turns = _WriterTurns()


@contextmanager
def writer_turn() -> Iterator[None]:
    """Wait for this process's turn to write (SQLite files only; elsewhere a no-op)."""
    engine = db.engine
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if fcntl is None or not path or path == ":memory:" or path.startswith("file:"):
        yield
        return
    with _writer_turns.turn(os.path.abspath(path)):
        yield


def begin_write() -> None:
    """Start a fresh write transaction on the session (immediate on SQLite)."""
    session = db.session()
    if session.in_transaction():
        session.rollback()  # end any read transaction the request had open
    session.connection(execution_options={IMMEDIATE_OPTION: True})


def write_transaction(work: Callable[[], T]) -> T:
    """Run ``work`` in one write transaction and commit it, retrying on lock errors.

    ``work`` must do all its reading and writing through ``db.session`` and may be
    called more than once; everything it does is committed together or not at all.
    A write transaction inside another is refused: each user action is one transaction.
    """
    if in_write_transaction():
        raise NotInWriteTransaction("write_transaction() inside another: one action, one transaction")
    attempts = current_app.config["WRITE_RETRIES"]
    session = db.session()  # this request's session, looked up once
    for attempt in range(1, attempts + 1):
        try:
            with writer_turn():
                try:
                    begin_write()
                    session.info[_WRITING] = True
                    result = work()
                    session.info.pop(_WRITING, None)
                    session.commit()
                    return result
                except BaseException:
                    session.info.pop(_WRITING, None)
                    session.rollback()  # before the next writer's turn
                    raise
        except DBAPIError as exc:
            if not is_retryable(exc):
                raise
            if attempt == attempts:
                raise BusyError(str(exc)) from exc
            log.info("write transaction retry %s after %s", attempt, exc.orig)
            time.sleep(random.uniform(0.01, 0.05) * 2**attempt)
    raise AssertionError("unreachable")
