"""Schema creation and upgrades: versioned, automatic, never losing data.

Version 1 is the first released schema. Each later version is one function that moves a
database from the version before it; `upgrade` runs whatever a database still lacks.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Engine, inspect, text
from sqlmodel import SQLModel

from hubsync_core.store import models  # noqa: F401  (registers every table)

SCHEMA_VERSION_KEY = "schema_version"


def _v1(conn: Connection) -> None:
    SQLModel.metadata.create_all(conn)


#: Ordered upgrade steps; index + 1 is the version each produces.
STEPS: list[Callable[[Connection], None]] = [_v1]
CURRENT_VERSION = len(STEPS)


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table("sync_state"):
        return 0
    value = conn.execute(
        text("SELECT value FROM sync_state WHERE key = :k"), {"k": SCHEMA_VERSION_KEY}
    ).scalar_one_or_none()
    return int(value) if value is not None else 0


def upgrade(engine: Engine) -> int:
    """Bring the schema to `CURRENT_VERSION`; returns the version it was at before."""
    with engine.begin() as conn:
        before = current_version(conn)
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
