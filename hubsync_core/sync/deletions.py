"""Contacts that left HubSpot: archived ones (an `archived=true` pass) and vanished ones.

Merged-away and GDPR-deleted contacts vanish without being archived. A full sync finds them
for free (every live contact it stores is stamped with the sync's generation; live rows
left unstamped are gone); an incremental run can ask for the same through an id sweep.

An incremental run first asks whether anything left at all (`nothing_left`): after its
window is stored, every contact HubSpot has that was last modified by the window's end is
stored live here too, so HubSpot's count of them (one search `total`) equals the local
count unless stored contacts were archived, merged away or deleted. Only on a mismatch do
the archived pass (hundreds of calls on a large portal) and the sweep run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

from hubsync_core.hubspot import search_filters as sf
from hubsync_core.hubspot.paging import contact_problem, walk_contacts
from hubsync_core.store import contacts as contact_store
from hubsync_core.sync.context import RunContext
from hubsync_core.sync.records import parse_time
from hubsync_core.sync.tasks import Task

log = logging.getLogger("hubsync.sync")


#: One page of the archived listing: (id, archivedAt) of each record, the cursor after it.
ArchivedPage = tuple[list[tuple[str, datetime | None]], str | None]


def _archived_pages(ctx: RunContext, after: str | None) -> Iterator[ArchivedPage]:
    walk = walk_contacts(
        ctx.client, ["hs_object_id"], after=after, archived=True, max_records=ctx.trial_cap()
    )
    for page in walk:
        ctx.check_cancel()
        items = [
            (record.id, parse_time(record.archived_at))
            for record in page.items
            if not contact_problem(record)
        ]
        yield items, page.next_after


class ArchivedReader:
    """The archived listing read from its start by a task alongside the end of a full sync's
    contacts phase (its index build), kept in memory for the archived phase to store.

    Start it only once every live contact was read: a contact archived during the walk, after
    its page was read, is only in a listing read later than that.
    """

    def __init__(self) -> None:
        self.pages: list[ArchivedPage] = []

    def read(self, ctx: RunContext) -> None:
        for page in _archived_pages(ctx, None):
            self.pages.append(page)


def archived_pass(ctx: RunContext, read: tuple[Task[None], ArchivedReader] | None = None) -> None:
    """Mark every contact HubSpot lists as archived, resuming at the checkpoint's cursor.

    With `read`, the pages a task read ahead are stored first (also those read before it
    failed: the next run then resumes after them), then its failure is raised as this
    phase's own.
    """
    if read is not None:
        task, reader = read
        try:
            task.join(ctx)
        finally:
            if reader.pages:
                ctx.store_page(
                    [],
                    [],
                    archived=[item for items, _ in reader.pages for item in items],
                    checkpoint={**ctx.checkpoint, "after": reader.pages[-1][1]},
                    pages=len(reader.pages),
                )
        return
    for items, after in _archived_pages(ctx, ctx.checkpoint.get("after")):
        ctx.store_page([], [], archived=items, checkpoint={**ctx.checkpoint, "after": after})


def nothing_left(ctx: RunContext) -> bool:
    """True when one search proves no stored live contact left HubSpot (see the module
    docstring): HubSpot's live contacts last modified by the window's end, as many as the
    live contacts stored with `updated_at` by then."""
    end = int(ctx.checkpoint["window"]["end"])
    page = ctx.client.search_contacts(
        sf.group(sf.condition(sf.MODIFIED_PROPERTY, "LTE", end)), [sf.ID_PROPERTY], limit=1
    )
    local = contact_store.count_live(ctx.db, modified_by=_from_epoch_ms(end))
    if page.total == local:
        log.info(
            "No stored contact left HubSpot since the last sync (%d live on both sides)", local
        )
        return True
    log.info(
        "HubSpot has %d live contacts modified by the window's end, %d are stored live: "
        "looking for the contacts that left",
        page.total,
        local,
    )
    return False


def _from_epoch_ms(value: int) -> datetime:
    return datetime(1970, 1, 1) + timedelta(milliseconds=value)


def id_sweep(ctx: RunContext) -> int:
    """Re-read every live id (ids only, cheap) and mark stored contacts that vanished.

    A sweep stopped by a trial run's cap marks nothing: unseen ids were only not read yet.
    """
    generation: int = ctx.checkpoint["generation"]
    walk = walk_contacts(
        ctx.client,
        ["hs_object_id"],
        after=ctx.checkpoint.get("after"),
        max_records=ctx.trial_cap(),
        what="the id sweep",
    )
    for page in walk:
        ctx.check_cancel()
        ids = [record.id for record in page.items if not contact_problem(record)]
        with ctx.db.transaction() as conn:
            contact_store.mark_seen(conn, ids, generation)
        ctx.save_checkpoint({**ctx.checkpoint, "after": page.next_after})
    if ctx.checkpoint.get("after") is not None:
        log.info("Id sweep stopped at max_contacts=%s; nothing marked as vanished", ctx.trial_cap())
        return 0
    return mark_vanished(ctx)


def mark_vanished(ctx: RunContext) -> int:
    with ctx.db.transaction() as conn:
        gone = contact_store.mark_vanished(conn, ctx.checkpoint["generation"])
    if gone:
        log.info("Marked %d contacts that vanished from HubSpot (merged or deleted)", gone)
    ctx.archived += gone
    return gone
