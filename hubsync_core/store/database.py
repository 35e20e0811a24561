"""The database handle: one engine per URL, tuned for SQLite or PostgreSQL, schema kept current."""

from __future__ import annotations

import os
import sqlite3
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

#: Every engine made here, so a forked child can drop the connections it inherited.
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def _forget_inherited_connections() -> None:
    # A connection (SQLite handle or PostgreSQL socket) must never be used by two processes:
    # the child starts with empty pools and leaves the parent's connections to the parent.
    for engine in list(_ENGINES):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_connections)


class Database:
    """A SQLite or PostgreSQL database holding HubSync's tables.

    Opening one creates or upgrades the schema (see `migrations`), so a fresh file and a
    file written by an older release are both ready to use.
    """

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()  # "sqlite" | "postgresql"
        if self.dialect == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:":
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            in_memory = database in ("", ":memory:")
            self.engine: Engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 30},
                # A pool, not a connection per checkout: closing the last connection to a
                # WAL database checkpoints and deletes the WAL, which cost ~1 ms per sync
                # page. A checked-out connection still belongs to one thread at a time.
                **({} if in_memory else {"poolclass": QueuePool, "max_overflow": 20}),
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
        _ENGINES.add(self.engine)
        if migrate:
            from hubsync_core.store.migrations import upgrade

            upgrade(self.engine)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection inside one transaction: committed on success, rolled back on error.

        On SQLite the transaction starts with `BEGIN IMMEDIATE`: it takes the write lock up
        front (waiting up to the busy timeout for another writer), so every statement in it,
        reads included, sees one consistent state. Without it the driver would run reads before
        the first write outside any transaction, and a read-then-write could act on stale data.
        """
        with self.engine.begin() as conn:
            if self.is_sqlite:
                begin_immediate(conn)
            yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A read connection (autocommit-free; nothing is committed)."""
        with self.engine.connect() as conn:
            yield conn

    def location(self) -> str:
        """Where the data lives, for people: a file path, or the URL without its password."""
        parsed = make_url(self.url)
        if self.is_sqlite:
            return str(Path(parsed.database or ":memory:").expanduser().resolve())
        return parsed.render_as_string(hide_password=True)

    def size_bytes(self) -> int | None:
        """The database's size on disk, where it can be known."""
        if self.is_sqlite:
            path = make_url(self.url).database
            if not path or path == ":memory:":
                return None
            total = 0
            for suffix in ("", "-wal"):
                with suppress(OSError):
                    total += os.path.getsize(str(Path(path).expanduser()) + suffix)
            return total
        with self.engine.connect() as conn:
            from sqlalchemy import text

            return int(
                conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            )

    def dispose(self) -> None:
        self.engine.dispose()


def begin_immediate(conn: Connection) -> None:
    """Start the driver-level SQLite transaction as IMMEDIATE (takes the write lock now).

    Must be the first statement of the SQLAlchemy transaction: the pysqlite driver only opens
    its own (deferred) transaction before the first INSERT/UPDATE/DELETE, and does not open a
    second one when one is already in progress; commit/rollback end this one as usual.
    """
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    # WAL lets the dashboard read while a sync writes; NORMAL is durable across app crashes.
    _enable_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute("PRAGMA cache_size=-65536")
    # Checkpoint every ~32 MB of WAL instead of SQLite's 4 MB: a sync's random index pages are
    # then written back to the database file once per many pages of contacts, not once per
    # page (-20 % write time); the WAL file is cut back to 64 MB after each checkpoint.
    cursor.execute("PRAGMA wal_autocheckpoint=8000")
    cursor.execute("PRAGMA journal_size_limit=67108864")
    cursor.close()


def _enable_wal(cursor) -> None:  # type: ignore[no-untyped-def]
    """Switch a database file to WAL once. The switch needs the file to itself and SQLite
    answers "database is locked" at once (no busy wait) while another process opens the
    same fresh file, so it is retried briefly; afterwards the mode is persistent."""
    for attempt in range(50):
        if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if attempt == 49:
                raise
            time.sleep(0.02 * (attempt + 1))
