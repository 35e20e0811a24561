"""Incremental sync: the contacts modified inside a fixed window, through search.

The window is `lastmodifieddate` between (mark − overlap) and (now − lag), fixed when the
run starts and kept in the checkpoint. Pages are sorted by `hs_object_id` and walked with a
`hs_object_id GT <last id>` filter instead of search's `after`, so neither the 10,000-result
cap nor thousands of contacts sharing one timestamp can stall or loop the run.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from hubsync_core.config import Settings
from hubsync_core.sync.context import RunContext
from hubsync_core.sync.records import merged_ids, to_rows

log = logging.getLogger("hubsync.sync")

SEARCH_PAGE = 200


def epoch_ms(moment: datetime) -> int:
    """Naive UTC datetime → epoch milliseconds (HubSpot search's date format)."""
    return int((moment - datetime(1970, 1, 1)).total_seconds() * 1000)


def from_epoch_ms(value: int) -> datetime:
    return datetime(1970, 1, 1) + timedelta(milliseconds=value)


def plan_window(settings: Settings, mark: datetime, now: datetime) -> dict[str, int]:
    """The run's fixed window: [mark − overlap, now − lag] in epoch milliseconds."""
    start = mark - timedelta(minutes=settings.incremental_overlap_minutes)
    end = now - timedelta(minutes=settings.incremental_lag_minutes)
    return {"start": epoch_ms(start), "end": max(epoch_ms(end), epoch_ms(start))}


def window_filters(window: dict[str, Any], last_id: str) -> list[dict[str, Any]]:
    return [
        {
            "filters": [
                {
                    "propertyName": "lastmodifieddate",
                    "operator": "GTE",
                    "value": str(window["start"]),
                },
                {
                    "propertyName": "lastmodifieddate",
                    "operator": "LTE",
                    "value": str(window["end"]),
                },
                {"propertyName": "hs_object_id", "operator": "GT", "value": last_id},
            ]
        }
    ]


def sync_window(ctx: RunContext) -> None:
    """Store every contact modified inside the checkpoint's window, resuming at `last_id`."""
    window = ctx.checkpoint["window"]
    last_id = str(ctx.checkpoint.get("last_id", "0"))
    sorts = [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
    while True:
        ctx.check_cancel()
        cap = ctx.remaining_cap()
        limit = min(SEARCH_PAGE, cap) if cap is not None else SEARCH_PAGE
        if limit == 0:
            return
        page = ctx.client.search_contacts(
            window_filters(window, last_id), ctx.properties, sorts=sorts, limit=limit
        )
        if ctx.expected_total is None:
            ctx.expected_total = page.total
        records = page.contacts
        rows, rejections = to_rows(records, ctx.clock())
        if records:
            # Ids come back ascending; the largest is where the next page starts.
            last_id = max((r.id for r in records if r.id.isdigit()), key=int, default=last_id)
        merges = [(r["hubspot_id"], merged_ids(r["properties"])) for r in rows]
        ctx.store_page(
            rows,
            rejections,
            merges=[m for m in merges if m[1]],
            checkpoint={**ctx.checkpoint, "last_id": last_id},
        )
        log.info(
            "Page %d: Synced %d changed contacts (total: %d)", ctx.pages, len(rows), ctx.contacts
        )
        if not records or page.next_after is None:
            return
