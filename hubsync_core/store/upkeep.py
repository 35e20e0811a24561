"""Table upkeep after a full sync: PostgreSQL's VACUUM, run when the rows are new.

A full sync writes every contact (a first load inserts them, a later one updates each row,
leaving one dead version behind per contact) and rebuilds the memberships the explorer
counts. Until PostgreSQL's visibility map covers those pages, every index-only scan the
explorer relies on (counts, facets, membership probes) visits the table as well:
measured at 200,000 contacts, a filter change's p95 was 377 ms right after a load and
155 ms once vacuumed (`benchmarks/RESULTS.md`). Autovacuum gets there on its own, a minute
or more later; HubSync vacuums at the end of the full sync so the dashboard is fast from
the first look. SQLite has no visibility map, and nothing to do here.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import text

from hubsync_core.store.database import Database

log = logging.getLogger(__name__)

#: What the explorer reads through index-only scans, in the order they are vacuumed.
EXPLORER_TABLES: tuple[str, ...] = ("contacts", "contact_segments", "list_memberships")


def vacuum_explorer_tables(db: Database) -> bool:
    """PostgreSQL: `VACUUM (ANALYZE)` the explorer's tables; True when it ran.

    VACUUM (not FULL) neither blocks readers nor writers, and cannot run inside a
    transaction, so it runs on an autocommit connection of its own.
    """
    if db.dialect != "postgresql":
        return False
    started = time.monotonic()
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text(f"VACUUM (ANALYZE) {', '.join(EXPLORER_TABLES)}"))
    log.info("Vacuumed the explorer's tables in %.1f s", time.monotonic() - started)
    return True
