"""Incremental sync: the contacts modified inside a fixed window, through search.

The window is `lastmodifieddate` between (mark − look-back) and (now − lag), fixed when the
run starts and kept in the checkpoint; the look-back is the overlap, and at least the index
lag. Pages are sorted by `hs_object_id` and walked with a `hs_object_id GT <last id>` filter
instead of search's `after`, so neither the 10,000-result cap nor thousands of contacts
sharing one timestamp can stall or loop the run.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from hubsync_core.config import Settings
from hubsync_core.hubspot import search_filters as sf
from hubsync_core.hubspot.paging import walk_search_by_id
from hubsync_core.sync.context import RunContext

log = logging.getLogger("hubsync.sync")


def epoch_ms(moment: datetime) -> int:
    """Naive UTC datetime → epoch milliseconds (HubSpot search's date format)."""
    return int((moment - datetime(1970, 1, 1)).total_seconds() * 1000)


def from_epoch_ms(value: int) -> datetime:
    return datetime(1970, 1, 1) + timedelta(milliseconds=value)


def look_back(settings: Settings) -> timedelta:
    """How far before the mark a window starts: the overlap, and never less than the index
    lag, since a contact edited just before the last run may not have been searchable yet
    (and would otherwise fall between two windows for good)."""
    return max(
        timedelta(minutes=settings.incremental_overlap_minutes),
        timedelta(seconds=settings.index_lag_seconds),
    )


def plan_window(settings: Settings, mark: datetime, now: datetime) -> dict[str, int]:
    """The run's fixed window: [mark − look-back, now − lag] in epoch milliseconds."""
    start = mark - look_back(settings)
    end = now - timedelta(minutes=settings.incremental_lag_minutes)
    return {"start": epoch_ms(start), "end": max(epoch_ms(end), epoch_ms(start))}


def sync_window(ctx: RunContext) -> bool:
    """Store every contact modified inside the checkpoint's window, resuming at `last_id`.

    True when the whole window was read (False when a trial run's cap stopped it first).
    """
    window = ctx.checkpoint["window"]
    walk = walk_search_by_id(
        ctx.client,
        ctx.properties,
        filters=sf.modified_between(window["start"], window["end"]),
        last_id=str(ctx.checkpoint.get("last_id", "0")),
        max_records=ctx.remaining_cap(),
        what="the changed contacts search",
    )
    for page in walk:
        ctx.check_cancel()
        if ctx.expected_total is None:
            ctx.expected_total = page.total
        stored = ctx.store_records(
            page.contacts, {**ctx.checkpoint, "last_id": page.last_id or "0"}
        )
        log.info("Page %d: Synced %d changed contacts (total: %d)", ctx.pages, stored, ctx.contacts)
        if page.done:
            return True
    return False
