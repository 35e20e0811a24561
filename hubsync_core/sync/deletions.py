"""Contacts that left HubSpot: archived ones (an `archived=true` pass) and vanished ones.

Merged-away and GDPR-deleted contacts vanish without being archived. A full sync finds them
for free (every live contact it stores is stamped with the sync's generation; live rows
left unstamped are gone); an incremental run can ask for the same through an id sweep.
"""

from __future__ import annotations

import logging

from hubsync_core.store import contacts as contact_store
from hubsync_core.sync.context import RunContext
from hubsync_core.sync.records import parse_time

log = logging.getLogger("hubsync.sync")


def archived_pass(ctx: RunContext) -> None:
    """Mark every contact HubSpot lists as archived, resuming at the checkpoint's cursor."""
    after = ctx.checkpoint.get("after")
    while True:
        ctx.check_cancel()
        page = ctx.client.list_contacts(["hs_object_id"], after=after, limit=100, archived=True)
        items = [
            (record.id, parse_time(record.archived_at))
            for record in page.contacts
            if record.id.isdigit()
        ]
        after = page.next_after
        ctx.store_page([], [], archived=items, checkpoint={**ctx.checkpoint, "after": after})
        if after is None:
            return


def id_sweep(ctx: RunContext) -> int:
    """Re-read every live id (ids only, cheap) and mark stored contacts that vanished."""
    generation: int = ctx.checkpoint["generation"]
    after = ctx.checkpoint.get("after")
    while True:
        ctx.check_cancel()
        page = ctx.client.list_contacts(["hs_object_id"], after=after, limit=100)
        ids = [record.id for record in page.contacts if record.id.isdigit()]
        after = page.next_after
        with ctx.db.transaction() as conn:
            contact_store.mark_seen(conn, ids, generation)
        ctx.save_checkpoint({**ctx.checkpoint, "after": after})
        if after is None:
            break
    return mark_vanished(ctx)


def mark_vanished(ctx: RunContext) -> int:
    with ctx.db.transaction() as conn:
        gone = contact_store.mark_vanished(conn, ctx.checkpoint["generation"])
    if gone:
        log.info("Marked %d contacts that vanished from HubSpot (merged or deleted)", gone)
    ctx.archived += gone
    return gone
