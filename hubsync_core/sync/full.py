"""Full sync: every live contact through the list endpoint's cursor, page by page.

Each page and the cursor that follows it commit together, so a run cut anywhere resumes at
the first page it had not stored. HubSpot's cursor cannot skip a page that fails: a page
that outlasts every retry ends the run `partial`, and the next run resumes at that page.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from hubsync_core.hubspot.models import ContactPage, ContactRecord
from hubsync_core.store.contacts import PreparedContacts, prepare_contacts
from hubsync_core.sync.context import RunContext
from hubsync_core.sync.prefetch import Prefetcher
from hubsync_core.sync.records import Rejection, merged_ids, to_rows

log = logging.getLogger("hubsync.sync")

#: One page as the store takes it: rows, rejections, and (winner, losers) merges.
_Converted = tuple[PreparedContacts, list[Rejection], list[tuple[str, list[str]]]]


def _convert(records: Sequence[ContactRecord], ctx: RunContext, generation: int) -> _Converted:
    rows, rejections = to_rows(records, ctx.clock())
    merges = [(row["hubspot_id"], merged_ids(row["properties"])) for row in rows]
    prepared = prepare_contacts(ctx.db.dialect, rows, generation=generation)
    return prepared, rejections, [m for m in merges if m[1]]


def scan_contacts(ctx: RunContext) -> bool:
    """Store every live contact from the checkpoint's cursor on; False if capped early."""
    after: str | None = ctx.checkpoint.get("after")
    generation: int = ctx.checkpoint["generation"]
    cap = ctx.remaining_cap()
    batch = min(ctx.options.batch_size, cap) if cap else ctx.options.batch_size

    def pages() -> Iterator[tuple[str | None, ContactPage, _Converted | None]]:
        cursor, fetched = after, 0
        while True:
            page = ctx.client.list_contacts(ctx.properties, after=cursor, limit=batch)
            # Uncapped, every record of the page is stored: convert it here, in the fetch
            # thread, while the writer's database work runs without the GIL.
            converted = None if cap is not None else _convert(page.contacts, ctx, generation)
            yield cursor, page, converted
            fetched += len(page.contacts)
            # Past the cap, fetching ahead would only spend API calls on pages never stored.
            if page.next_after is None or (cap is not None and fetched >= cap):
                return
            cursor = page.next_after

    with Prefetcher(pages) as stream:
        for cursor, page, converted in stream:
            ctx.check_cancel()
            log.info("Fetching page %d (after=%s)...", ctx.pages + 1, cursor)
            records = page.contacts
            left = ctx.remaining_cap()
            capped = left is not None and left <= len(records)
            if capped:
                records = records[:left]
            rows, rejections, merges = converted or _convert(records, ctx, generation)
            next_checkpoint = {**ctx.checkpoint, "after": page.next_after}
            ctx.store_page(
                rows,
                rejections,
                generation=generation,
                merges=merges,
                checkpoint=next_checkpoint,
            )
            log.info("Page %d: Synced %d contacts (total: %d)", ctx.pages, len(rows), ctx.contacts)
            if capped:
                return page.next_after is None and left == len(page.contacts)
    return True
