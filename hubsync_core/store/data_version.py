"""One cheap key that changes whenever the stored data a face shows may have changed.

Faces cache what they read (the dashboard's `st.cache_data`) under this key, so it must be
cheap (two indexed single-row reads, whatever the number of contacts) and must change with
every write:

- writes of a sync run: the newest run's id, status, contacts and pages change with every
  page it commits (its progress is saved in the page's transaction) and when it ends;
- writes outside a run (clearing contacts, saving, deleting, resetting or importing segments,
  recomputing membership): each calls `bump` in its own transaction, which stores a fresh
  token under `EDITS` in `sync_state`. A new writer outside a run must call `bump` too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, select

from hubsync_core.store import runs
from hubsync_core.store.database import Database
from hubsync_core.store.models import SyncRun

RUNS = SyncRun.__table__  # type: ignore[attr-defined]
#: The `sync_state` key of the token that changes with every write outside a sync run.
EDITS = "data_edits"


@dataclass(frozen=True)
class DataVersion:
    """Hashable: equal versions mean the data read under them is still current."""

    #: The newest run's (id, status, contacts, pages), None before the first sync.
    run: tuple[int, str, int, int] | None
    #: The token of the last write outside a run, None before the first.
    edits: str | None


def bump(conn: Connection) -> None:
    """Record a write outside a sync run (inside the writer's transaction)."""
    runs.set_state(conn, EDITS, uuid.uuid4().hex)


def data_version(db: Database) -> DataVersion:
    """The current key (two single-row reads by primary key)."""
    newest = (
        select(RUNS.c.id, RUNS.c.status, RUNS.c.contacts, RUNS.c.pages)
        .order_by(RUNS.c.id.desc())
        .limit(1)
    )
    with db.connect() as conn:
        row = conn.execute(newest).first()
        edits = runs.get_state(conn, EDITS)
    run = (int(row.id), str(row.status), int(row.contacts), int(row.pages)) if row else None
    return DataVersion(run=run, edits=edits)
