"""What the audit reads and remembers locally: the live ids with their modification times,
the time the copy was last proven complete, and the last audit's report (as JSON state)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select

from hubsync_core.run_status import RunStatus
from hubsync_core.store.database import Database
from hubsync_core.store.models import Contact, SyncRun
from hubsync_core.store.runs import get_state, set_state

CONTACTS = Contact.__table__  # type: ignore[attr-defined]
RUNS = SyncRun.__table__  # type: ignore[attr-defined]
_EPOCH = datetime(1970, 1, 1)

#: Since when the copy is known complete: the last audit without drift, or the first full sync.
PROVEN_SINCE = "audit_proven_since"
#: The last audit's report (JSON, see `hubsync_core.audit.model.AuditReport.as_dict`).
LAST_REPORT = "audit_last_report"


def epoch_ms(value: datetime | None) -> int:
    """Naive UTC -> epoch milliseconds (None -> 0, older than any HubSpot change)."""
    if value is None:
        return 0
    return round((value - _EPOCH).total_seconds() * 1000)


def live_ids_and_modified(db: Database) -> tuple[list[int], list[int]]:
    """Every live contact with a numeric id: (ids ascending, lastmodifieddate in epoch ms).

    Ids are compared as numbers (HubSpot's `hs_object_id` ranges), which the text primary key
    cannot do in SQL, so they are sorted here; 1M rows take a few seconds.
    """
    query = select(CONTACTS.c.hubspot_id, CONTACTS.c.updated_at).where(
        CONTACTS.c.archived.is_(False)
    )
    pairs: list[tuple[int, int]] = []
    with db.connect() as conn:
        for hubspot_id, updated in conn.execute(query):
            if hubspot_id.isdigit():
                pairs.append((int(hubspot_id), epoch_ms(updated)))
    pairs.sort()
    return [p[0] for p in pairs], [p[1] for p in pairs]


def first_full_sync_started(db: Database) -> datetime | None:
    """When the first completed full sync started (its changes are the baseline)."""
    query = (
        select(RUNS.c.started_at)
        .where(RUNS.c.mode == "full", RUNS.c.status == RunStatus.SUCCEEDED)
        .order_by(RUNS.c.started_at)
        .limit(1)
    )
    with db.connect() as conn:
        return conn.execute(query).scalar_one_or_none()


def proven_since(db: Database) -> datetime | None:
    """Since when the copy is proven (see `PROVEN_SINCE`); None before any full sync."""
    stored = get_state(db, PROVEN_SINCE)
    if stored:
        return datetime.fromisoformat(stored)
    return first_full_sync_started(db)


def save_report(db: Database, report: dict[str, Any], proven: datetime | None) -> None:
    """Remember the report, and move the proven-since time when the audit found no drift."""
    with db.transaction() as conn:
        set_state(conn, LAST_REPORT, json.dumps(report, separators=(",", ":")))
        if proven is not None:
            set_state(conn, PROVEN_SINCE, proven.isoformat())


def last_report(db: Database) -> dict[str, Any] | None:
    """The last audit's report as saved, or None when no audit ran yet."""
    stored = get_state(db, LAST_REPORT)
    return json.loads(stored) if stored else None
