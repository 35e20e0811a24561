"""Initial loads without the contacts table's secondary indexes.

The first full sync writes every contact into an empty table. Maintaining the explorer's
indexes row by row (random inserts into six B-trees and, on PostgreSQL, a trigram GIN index)
costs more than writing the rows: 100,000 contacts took 2.7 s to write on SQLite with them and
0.5 s without, plus 0.7 s to build them afterwards from sorted data (PostgreSQL: 4.4 s
against 2.0 s + 1.2 s). So a full sync that starts on an empty table drops them, loads, and
builds them once at the end of its contacts phase.

Nothing depends on them for correctness (they serve the explorer's speed; keys and
conflicts use the primary key), and the deferral is recorded in `sync_state`, so a load
that ends any way at all (error, cancel, kill) gets its indexes back: at its own end, or at
the start of the next run (`restore_pending_indexes`). While the first load runs, the
dashboard's queries on the partly loaded table scan instead of using an index.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select, text

from hubsync_core.store import runs
from hubsync_core.store.contacts import CONTACTS
from hubsync_core.store.database import Database
from hubsync_core.store.migrations import contact_index_names, create_explorer_indexes

log = logging.getLogger(__name__)

#: `sync_state` key present while the contacts' secondary indexes are deferred.
DEFERRED_KEY = "deferred_contact_indexes"


def defer_indexes(db: Database) -> bool:
    """Drop the contacts' secondary indexes if the table is empty; True when dropped."""
    with db.transaction() as conn:
        if conn.execute(select(CONTACTS.c.hubspot_id).limit(1)).first() is not None:
            return False
        runs.set_state(conn, DEFERRED_KEY, "1")
        for name in contact_index_names(db.dialect):
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
    log.info("Initial load: the contacts' secondary indexes are built after the contacts")
    return True


def restore_pending_indexes(db: Database) -> bool:
    """Build the contacts' secondary indexes if a load deferred them; True when it did."""
    if runs.get_state(db, DEFERRED_KEY) is None:
        return False
    with db.transaction() as conn:
        if runs.get_state(conn, DEFERRED_KEY) is None:  # another process was first
            return False
        create_explorer_indexes(conn, contacts_only=True)
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
