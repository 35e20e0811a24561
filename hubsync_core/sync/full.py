"""Full sync: every live contact through the list endpoint's cursor, page by page.

Each page and the cursor that follows it commit together, so a run cut anywhere resumes at
the first page it had not stored. HubSpot's cursor cannot skip a page that fails: a page
that outlasts every retry ends the run `partial`, and the next run resumes at that page.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from hubsync_core.hubspot.models import ContactPage
from hubsync_core.sync.context import RunContext
from hubsync_core.sync.prefetch import Prefetcher
from hubsync_core.sync.records import merged_ids, to_rows

log = logging.getLogger("hubsync.sync")


def scan_contacts(ctx: RunContext) -> bool:
    """Store every live contact from the checkpoint's cursor on; False if capped early."""
    after: str | None = ctx.checkpoint.get("after")
    generation: int = ctx.checkpoint["generation"]
    cap = ctx.remaining_cap()
    batch = min(ctx.options.batch_size, cap) if cap else ctx.options.batch_size

    def pages() -> Iterator[tuple[str | None, ContactPage]]:
        cursor, fetched = after, 0
        while True:
            page = ctx.client.list_contacts(ctx.properties, after=cursor, limit=batch)
            yield cursor, page
            fetched += len(page.contacts)
            # Past the cap, fetching ahead would only spend API calls on pages never stored.
            if page.next_after is None or (cap is not None and fetched >= cap):
                return
            cursor = page.next_after

    with Prefetcher(pages) as stream:
        for cursor, page in stream:
            ctx.check_cancel()
            log.info("Fetching page %d (after=%s)...", ctx.pages + 1, cursor)
            records = page.contacts
            left = ctx.remaining_cap()
            capped = left is not None and left <= len(records)
            if capped:
                records = records[:left]
            rows, rejections = to_rows(records, ctx.clock())
            merges = [(r["hubspot_id"], merged_ids(r["properties"])) for r in rows]
            next_checkpoint = {**ctx.checkpoint, "after": page.next_after}
            ctx.store_page(
                rows,
                rejections,
                generation=generation,
                merges=[m for m in merges if m[1]],
                checkpoint=next_checkpoint,
            )
            log.info("Page %d: Synced %d contacts (total: %d)", ctx.pages, len(rows), ctx.contacts)
            if capped:
                return page.next_after is None and left == len(page.contacts)
    return True
