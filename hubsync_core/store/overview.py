"""The Overview page's numbers: contact totals, members per segment, lists, the last runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from hubsync_core.run_status import RunStatus
from hubsync_core.store import runs
from hubsync_core.store.database import Database
from hubsync_core.store.explorer import ContactFilter
from hubsync_core.store.explorer.facets import facet_values, segment_labels
from hubsync_core.store.explorer.planner import Plan
from hubsync_core.store.explorer.sql import CONTACTS, LISTS, exploring
from hubsync_core.store.models import SyncRun


@dataclass(frozen=True)
class Overview:
    """The Overview page's numbers. `by_segment` counts live contacts per segment key, defined
    segments first; `segment_names` gives each key's display name."""

    total: int
    archived: int
    without_email: int
    by_segment: dict[str, int]
    segment_names: dict[str, str]
    lists: int
    last_synced_at: datetime | None
    last_run: SyncRun | None
    last_success: SyncRun | None

    @property
    def is_empty(self) -> bool:
        """No contact stored at all (no sync yet, or cleared)."""
        return self.total == 0 and self.archived == 0


def overview(db: Database) -> Overview:
    """Totals for the Overview page in a handful of queries."""
    c = CONTACTS.c
    live = c.archived == sa.false()
    no_email = sa.or_(c.email.is_(None), c.email == "")
    labels = segment_labels(db)
    with exploring(db) as conn:
        total, archived, without_email, last_synced = conn.execute(
            sa.select(
                sa.func.count().filter(live),
                sa.func.count().filter(c.archived == sa.true()),
                sa.func.count().filter(sa.and_(live, no_email)),
                sa.func.max(c.synced_at),
            )
        ).one()
        plan = Plan(conn, db.dialect, ContactFilter())
        segments = facet_values(plan, "segment", labels)
        lists = int(conn.execute(sa.select(sa.func.count()).select_from(LISTS)).scalar_one())
    latest = runs.latest_run(db)
    success = runs.latest_run(db, statuses=(RunStatus.SUCCEEDED,))
    return Overview(
        total=int(total or 0),
        archived=int(archived or 0),
        without_email=int(without_email or 0),
        by_segment={f.value: f.count for f in segments},
        segment_names={f.value: f.label for f in segments},
        lists=lists,
        last_synced_at=last_synced,
        last_run=latest,
        last_success=success,
    )
