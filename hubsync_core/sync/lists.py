"""List memberships (Lists v3): each list's members read once per sync, not per contact."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from hubsync_core.hubspot.errors import MissingScopesError
from hubsync_core.hubspot.models import ListInfo
from hubsync_core.store import contacts as contact_store
from hubsync_core.sync.context import RunContext

log = logging.getLogger("hubsync.sync")

LISTS_SCOPE_WARNING = (
    "List memberships were not synced: the access token lacks the crm.lists.read scope. "
    "Add it to sync lists (and the CHAINge list)."
)


def all_lists(ctx: RunContext) -> list[ListInfo]:
    found: list[ListInfo] = []
    offset = 0
    while True:
        page = ctx.client.search_lists(count=500, offset=offset)
        found.extend(page.lists)
        if not page.has_more or not page.lists:
            return found
        offset = page.offset


def list_member_ids(ctx: RunContext, list_id: str) -> Iterator[str]:
    after: str | None = None
    while True:
        ctx.check_cancel()
        page = ctx.client.list_memberships(list_id, after=after)
        yield from page.record_ids
        if page.next_after is None:
            return
        after = page.next_after


def sync_lists(ctx: RunContext) -> None:
    """Replace the stored lists and memberships with HubSpot's; a missing scope only warns.

    Lists are read concurrently (all threads share the client's pacing budget), because at
    real-world latency a portal's lists cost as much wall time as thousands of contacts;
    each list is then written in its own transaction, so readers never see one half replaced.
    """
    try:
        lists = all_lists(ctx)
        with ctx.db.transaction() as conn:
            contact_store.replace_lists(conn, lists)
        workers = max(1, min(ctx.settings.parallel_fetches, len(lists)))
        pool = ThreadPoolExecutor(workers, thread_name_prefix="hubsync-lists")
        try:
            pending = [pool.submit(_member_ids, ctx, info.list_id) for info in lists]
            for info, members in zip(lists, pending, strict=True):
                ids = members.result()
                with ctx.db.transaction() as conn:
                    contact_store.replace_list_members(conn, info.list_id, ids)
        finally:
            pool.shutdown(cancel_futures=True)
        log.info("Synced memberships of %d lists", len(lists))
    except MissingScopesError:
        log.warning(LISTS_SCOPE_WARNING)
        ctx.warnings.append(LISTS_SCOPE_WARNING)


def _member_ids(ctx: RunContext, list_id: str) -> list[str]:
    return list(list_member_ids(ctx, list_id))
