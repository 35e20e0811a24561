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

import logging
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

from hubsync_core.store import models, property_options
from hubsync_core.store.database import begin_immediate

log = logging.getLogger(__name__)

SCHEMA_VERSION_KEY = "schema_version"

#: Key of the PostgreSQL advisory lock that serializes upgrades (any constant bigint).
_PG_UPGRADE_LOCK = 0x4875_6253_796E_6301  # "HubSync" + 1


class SchemaTooNew(RuntimeError):
    """The database was written by a newer HubSync than this one."""


def _v1(conn: Connection) -> None:
    SQLModel.metadata.create_all(conn)


#: Version-1 indexes that version 2 replaces with wider ones (see `models`).
_V1_INDEXES = (
    "ix_contacts_email",
    "ix_contacts_company",
    "ix_contacts_lifecyclestage",
    "ix_contacts_live_updated",
    "ix_contacts_live_created",
    "ix_contact_segments_contact",
    "ix_list_memberships_contact",
)


def _v2(conn: Connection) -> None:
    """Explorer indexes (see `models`): wider date, email, company, stage and membership
    indexes, the id-to-facets index, and the search index (SQLite: a B-tree over the search
    document; PostgreSQL: a pg_trgm GIN index when the extension can be had, else none, and
    search scans)."""
    for name in _V1_INDEXES:
        conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
    for table in (models.Contact, models.ContactSegmentRow, models.ListMembership):
        for index in table.__table__.indexes:  # type: ignore[attr-defined]
            # Honours each index's dialect condition (the date indexes differ by dialect).
            index.create(conn, checkfirst=True)
    dialect = conn.dialect.name
    columns = {name: sa.column(name) for name in ("email", "company", "firstname", "lastname")}
    document = models.search_document(columns, dialect).compile(
        dialect=conn.dialect, compile_kwargs={"literal_binds": True}
    )
    if dialect == "sqlite":
        # The scan reads the document, archived and the id from the index alone.
        conn.execute(
            text(
                f"CREATE INDEX IF NOT EXISTS {models.SEARCH_INDEX} "
                f"ON contacts (({document}), archived, hubspot_id)"
            )
        )
    elif dialect == "postgresql" and _pg_trgm(conn):
        conn.execute(
            text(
                f"CREATE INDEX IF NOT EXISTS {models.SEARCH_INDEX} "
                f"ON contacts USING gin (({document}) gin_trgm_ops)"
            )
        )


#: How the trigram extension is made available (a constant so tests can make it fail).
PG_TRGM_SQL = "CREATE EXTENSION IF NOT EXISTS pg_trgm"


def _pg_trgm(conn: Connection) -> bool:
    """Whether pg_trgm is (or could be made) available. It ships with PostgreSQL's contrib
    and is a trusted extension (PostgreSQL 13+: a database owner may create it); where it
    is missing or refused, search works without its index, only slower."""
    try:
        with conn.begin_nested():  # a refusal must not abort the upgrade's transaction
            conn.execute(text(PG_TRGM_SQL))
        return True
    except DBAPIError as exc:
        log.warning("pg_trgm is not available, search will scan: %s", exc.orig)
        return False


def _v3(conn: Connection) -> None:
    """The id-order index: pages sorted by id (the SDK's and the API's default) walk it."""
    conn.execute(
        text(
            f"CREATE INDEX IF NOT EXISTS {models.ID_ORDER_INDEX} "
            "ON contacts (archived, length(hubspot_id), hubspot_id)"
        )
    )


def _v4_freshness(conn: Connection) -> None:
    """The freshness pipeline's tables: event inbox, privacy-deletion audit, job schedule."""
    from hubsync_core.store.freshness_models import FRESHNESS_TABLES

    tables = [model.__table__ for model in FRESHNESS_TABLES]  # type: ignore[attr-defined]
    SQLModel.metadata.create_all(conn, tables=tables)


def _v5(conn: Connection) -> None:
    """Bulk operations: the audit log, per-contact items and batches (`bulk.models`)."""
    from hubsync_core.bulk.models import BULK_TABLES

    SQLModel.metadata.create_all(conn, tables=BULK_TABLES)


#: Ordered upgrade steps; index + 1 is the version each produces.
def _v6_property_options(conn: Connection) -> None:
    """Enumeration options (value -> label), refreshed by each sync (see `property_options`)."""
    property_options.create_table(conn)


STEPS: list[Callable[[Connection], None]] = [
    _v1,
    _v2,
    _v3,
    _v4_freshness,
    _v5,
    _v6_property_options,
]
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
