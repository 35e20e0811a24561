"""Initial loads without the contacts table's secondary indexes.

The first full sync writes every contact into an empty table. Maintaining the explorer's
indexes row by row (random inserts into several B-trees and, on PostgreSQL, a trigram GIN
index) costs more than writing the rows: 100,000 contacts took 2.7 s to write on SQLite with
them and 0.5 s without, plus 0.7 s to build them afterwards from sorted data (PostgreSQL:
4.4 s against 2.0 s + 1.2 s). So a full sync that starts on an empty table drops them, loads,
and builds them once at the end of its contacts phase.

The indexes are taken from the database's own catalog (every non-unique secondary index of
`contacts`, whichever migration made it), and their exact definitions are kept in
`sync_state` until they are built again, so a load that ends any way at all (error, cancel,
kill) gets them back: at its own end, or at the start of the next run
(`restore_pending_indexes`). Nothing depends on them for correctness (keys and conflicts use
the primary key); while the first load runs, the dashboard's queries on the partly loaded
table scan instead.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, select, text

from hubsync_core.store import runs
from hubsync_core.store.contacts import CONTACTS
from hubsync_core.store.database import Database

log = logging.getLogger(__name__)

#: `sync_state` key holding the deferred indexes' definitions while they are dropped.
DEFERRED_KEY = "deferred_contact_indexes"


def secondary_indexes(conn: Connection) -> dict[str, str]:
    """{name: CREATE INDEX statement} of the contacts table's non-unique secondary indexes."""
    if conn.dialect.name == "sqlite":
        rows = conn.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = 'contacts' AND sql IS NOT NULL"
            )
        )
    else:
        rows = conn.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = current_schema() AND tablename = 'contacts'"
            )
        )
    found = {str(name): str(sql) for name, sql in rows}
    # Unique indexes (the primary key among them) keep enforcing what they enforce.
    return {name: sql for name, sql in found.items() if not _UNIQUE.match(sql)}


_UNIQUE = re.compile(r"\s*CREATE\s+UNIQUE\b", re.IGNORECASE)
_CREATE = re.compile(r"^\s*CREATE\s+INDEX\s+(IF\s+NOT\s+EXISTS\s+)?", re.IGNORECASE)


def defer_indexes(db: Database) -> bool:
    """Drop the contacts' secondary indexes if the table is empty; True when dropped."""
    with db.transaction() as conn:
        if conn.execute(select(CONTACTS.c.hubspot_id).limit(1)).first() is not None:
            return False
        if runs.get_state(conn, DEFERRED_KEY) is not None:
            return False  # already deferred (and restored by whoever deferred them)
        indexes = secondary_indexes(conn)
        if not indexes:
            return False
        runs.set_state(conn, DEFERRED_KEY, json.dumps(indexes, sort_keys=True))
        for name in indexes:
            conn.execute(text(f'DROP INDEX IF EXISTS "{name}"'))
    log.info("Initial load: %d indexes of the contacts are built after the contacts", len(indexes))
    return True


def restore_pending_indexes(db: Database) -> bool:
    """Build the contacts' secondary indexes if a load deferred them; True when it did."""
    if runs.get_state(db, DEFERRED_KEY) is None:
        return False
    with db.transaction() as conn:
        raw = runs.get_state(conn, DEFERRED_KEY)
        if raw is None:  # another process was first
            return False
        for sql in json.loads(raw).values():
            # Idempotent: an index that exists (built by hand, say) is left as it is.
            conn.execute(text(_CREATE.sub("CREATE INDEX IF NOT EXISTS ", sql, count=1)))
        runs.delete_state(conn, DEFERRED_KEY)
    if db.dialect == "postgresql":
        # Fresh statistics for the planner after a bulk load (autovacuum would come later).
        with db.transaction() as conn:
            conn.execute(text("ANALYZE contacts"))
    log.info("Built the contacts' secondary indexes")
    return True


@contextmanager
def initial_load(db: Database) -> Iterator[bool]:
    """Around a contacts phase: defer the indexes if the table is empty (yields whether it
    did), and build them again however the phase ends."""
    deferred = defer_indexes(db)
    try:
        yield deferred
    except BaseException:
        if deferred:
            try:
                restore_pending_indexes(db)
            except Exception:  # the phase's own error matters more; the next run retries
                log.warning("could not build the deferred indexes yet", exc_info=True)
        raise
    if deferred:
        restore_pending_indexes(db)
