"""Full sync: every live contact through the list endpoint's cursor, page by page.

Each page and the cursor that follows it commit together, so a run cut anywhere resumes at
the first page it had not stored. HubSpot's cursor cannot skip a page that fails: a page
that outlasts every retry ends the run `partial`, and the next run resumes at that page.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from hubsync_core.hubspot.models import ContactRecord
from hubsync_core.hubspot.paging import CursorPage, walk_contacts
from hubsync_core.store.contacts import PreparedContacts
from hubsync_core.sync.context import RunContext
from hubsync_core.sync.prefetch import Prefetcher
from hubsync_core.sync.records import Merge, Rejection, prepare_page

log = logging.getLogger("hubsync.sync")

#: One page as the store takes it: rows, rejections, and (winner, losers) merges.
Converted = tuple[PreparedContacts, list[Rejection], list[Merge]]


def convert(records: Sequence[ContactRecord], ctx: RunContext, generation: int) -> Converted:
    """A page converted and prepared for the upsert, stamped with the sync's `generation`."""
    return prepare_page(records, ctx.clock(), ctx.db.dialect, generation)


def scan_contacts(ctx: RunContext) -> bool:
    """Store every live contact from the checkpoint's cursor on; False if capped early."""
    after: str | None = ctx.checkpoint.get("after")
    generation: int = ctx.checkpoint["generation"]
    cap = ctx.remaining_cap()

    def pages() -> Iterator[tuple[CursorPage[ContactRecord], Converted | None]]:
        # Past the cap, fetching ahead would only spend API calls on pages never stored.
        walk = walk_contacts(
            ctx.client,
            ctx.properties,
            after=after,
            page_size=ctx.options.batch_size,
            max_records=cap,
        )
        for page in walk:
            # Uncapped, every record of the page is stored: convert it here, in the fetch
            # thread, while the writer's database work runs without the GIL.
            yield page, None if cap is not None else convert(page.items, ctx, generation)

    with Prefetcher(pages) as stream:
        for page, converted in stream:
            ctx.check_cancel()
            log.info("Fetching page %d (after=%s)...", ctx.pages + 1, page.after)
            records = page.items
            left = ctx.remaining_cap()
            capped = left is not None and left <= len(records)
            if capped:
                records = records[:left]
            rows, rejections, merges = converted or convert(records, ctx, generation)
            ctx.store_page(
                rows,
                rejections,
                generation=generation,
                merges=merges,
                checkpoint={**ctx.checkpoint, "after": page.next_after},
            )
            log.info("Page %d: Synced %d contacts (total: %d)", ctx.pages, len(rows), ctx.contacts)
            if capped:
                return page.next_after is None and left == len(page.items)
    # The walk ended on HubSpot's last page, or at the cap (records read, refused ones too).
    return ctx.checkpoint.get("after") is None
