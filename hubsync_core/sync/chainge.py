"""CHAINge-only sync: just the contacts of the CHAINge list, or of CHAINge companies.

With `CHAINGE_LIST_ID` set, the list's members are read and fetched through search by id;
without it, search finds contacts whose company contains "chainge" in any case.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from hubsync_core.sync.context import RunContext
from hubsync_core.sync.lists import list_member_ids
from hubsync_core.sync.records import merged_ids, to_rows

ID_CHUNK = 100
SORTS = [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]


def _chunks(ids: Iterator[str], size: int) -> Iterator[list[str]]:
    while chunk := list(islice(ids, size)):
        yield chunk


def _store(ctx: RunContext, records: list) -> None:  # type: ignore[type-arg]
    rows, rejections = to_rows(records, ctx.clock())
    merges = [(r["hubspot_id"], merged_ids(r["properties"])) for r in rows]
    ctx.store_page(rows, rejections, merges=[m for m in merges if m[1]])


def sync_chainge(ctx: RunContext) -> None:
    list_id = ctx.settings.chainge_list_id
    if list_id:
        member_ids = sorted(set(list_member_ids(ctx, list_id)), key=int)
        ctx.expected_total = len(member_ids)
        for chunk in _chunks(iter(member_ids), ID_CHUNK):
            ctx.check_cancel()
            page = ctx.client.search_contacts(
                [
                    {
                        "filters": [
                            {"propertyName": "hs_object_id", "operator": "IN", "values": chunk}
                        ]
                    }
                ],
                ctx.properties,
                sorts=SORTS,
                limit=ID_CHUNK,
            )
            _store(ctx, page.contacts)
        return
    last_id = "0"
    while True:
        ctx.check_cancel()
        groups = [
            {
                "filters": [
                    {"propertyName": "company", "operator": "CONTAINS_TOKEN", "value": "*chainge*"},
                    {"propertyName": "hs_object_id", "operator": "GT", "value": last_id},
                ]
            }
        ]
        page = ctx.client.search_contacts(groups, ctx.properties, sorts=SORTS, limit=200)
        if ctx.expected_total is None:
            ctx.expected_total = page.total
        if not page.contacts:
            return
        _store(ctx, page.contacts)
        last_id = max((r.id for r in page.contacts if r.id.isdigit()), key=int, default=last_id)
        if page.next_after is None:
            return
