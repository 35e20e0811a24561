"""Schema creation and upgrades: versioned, automatic, never losing data.

Version 1 is the first released schema. Each later version is one function that moves a
database from the version before it; `upgrade` runs whatever a database still lacks, in one
transaction, so a failed upgrade leaves the database at its old version.

Several processes may open a fresh database at the same moment (the dashboard and a cron'd
`hubsync sync`): the upgrade is serialized in the database itself (SQLite: `BEGIN IMMEDIATE`,
which DDL respects because it runs inside that transaction; PostgreSQL: a transaction-scoped
advisory lock), and the version is re-read once the lock is held, so the second process finds
the work done.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Engine, inspect, text
from sqlmodel import SQLModel

from hubsync_core.store import models  # noqa: F401  (registers every table)
from hubsync_core.store.database import begin_immediate

SCHEMA_VERSION_KEY = "schema_version"

#: Key of the PostgreSQL advisory lock that serializes upgrades (any constant bigint).
_PG_UPGRADE_LOCK = 0x4875_6253_796E_6301  # "HubSync" + 1


class SchemaTooNew(RuntimeError):
    """The database was written by a newer HubSync than this one."""


def _v1(conn: Connection) -> None:
    SQLModel.metadata.create_all(conn)


#: Ordered upgrade steps; index + 1 is the version each produces.
STEPS: list[Callable[[Connection], None]] = [_v1]
CURRENT_VERSION = len(STEPS)


def current_version(conn: Connection) -> int:
    """The schema version recorded in the database (0 for an empty database)."""
    if not inspect(conn).has_table("sync_state"):
        return 0
    value = conn.execute(
        text("SELECT value FROM sync_state WHERE key = :k"), {"k": SCHEMA_VERSION_KEY}
    ).scalar_one_or_none()
    return int(value) if value is not None else 0


def upgrade(engine: Engine) -> int:
    """Bring the schema to `CURRENT_VERSION`; returns the version it was at before.

    Raises `SchemaTooNew` for a database written by a newer release (never downgrades).
    """
    # Cheap check first: an up-to-date database (the common case) takes no write lock, so
    # opening one never waits behind a running sync's page transaction.
    with engine.connect() as conn:
        before = current_version(conn)
    _refuse_newer(before)
    if before == CURRENT_VERSION:
        return before
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            begin_immediate(conn)
        elif conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_UPGRADE_LOCK})
        # Re-read under the lock: another process may have upgraded meanwhile.
        before = current_version(conn)
        _refuse_newer(before)
        for version in range(before + 1, CURRENT_VERSION + 1):
            STEPS[version - 1](conn)
            # Tables added by later versions are created by create_all too; a step only
            # has to move data or add columns to tables that already existed.
            SQLModel.metadata.create_all(conn)
            conn.execute(text("DELETE FROM sync_state WHERE key = :k"), {"k": SCHEMA_VERSION_KEY})
            conn.execute(
                text("INSERT INTO sync_state (key, value) VALUES (:k, :v)"),
                {"k": SCHEMA_VERSION_KEY, "v": str(version)},
            )
        return before


def _refuse_newer(version: int) -> None:
    if version > CURRENT_VERSION:
        raise SchemaTooNew(
            f"This database has schema version {version}, newer than this HubSync understands "
            f"({CURRENT_VERSION}). Upgrade HubSync, or point DATABASE_URL at another database."
        )
