"""CHAINge-only sync: just the contacts of the CHAINge list, or of CHAINge companies.

With `CHAINGE_LIST_ID` set, the list's members are read and fetched through search by id;
without it, search finds contacts whose company contains "chainge" in any case.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from hubsync_core.hubspot import search_filters as sf
from hubsync_core.hubspot.paging import walk_search_by_id
from hubsync_core.sync.context import RunContext
from hubsync_core.sync.lists import list_member_ids

#: Ids per search (HubSpot's IN filter takes at most 100 values).
ID_CHUNK = 100


def _chunks(ids: Iterator[str], size: int) -> Iterator[list[str]]:
    while chunk := list(islice(ids, size)):
        yield chunk


def sync_chainge(ctx: RunContext) -> None:
    """Store the CHAINge contacts (the list's members, or contacts of CHAINge companies)."""
    list_id = ctx.settings.chainge_list_id
    if list_id:
        member_ids = sorted(
            {i for i in list_member_ids(ctx, list_id, ctx.trial_cap()) if i.isdigit()}, key=int
        )
        ctx.expected_total = len(member_ids)
        for chunk in _chunks(iter(member_ids), ID_CHUNK):
            ctx.check_cancel()
            page = ctx.client.search_contacts(
                sf.group(sf.id_in(chunk)), ctx.properties, sorts=sf.by_id(), limit=ID_CHUNK
            )
            ctx.store_records(page.contacts)
        return
    walk = walk_search_by_id(
        ctx.client,
        ctx.properties,
        filters=[sf.contains_token("company", "*chainge*")],
        last_id="0",
        max_records=ctx.trial_cap(),
        what="the CHAINge contacts search",
    )
    for page in walk:
        ctx.check_cancel()
        if ctx.expected_total is None:
            ctx.expected_total = page.total
        ctx.store_records(page.contacts)
