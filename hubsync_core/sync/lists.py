"""List memberships (Lists v3): each list's members read once per sync, not per contact.

A full sync reads every list's members. An incremental sync reads only the lists whose
entry in the lists search changed since their members were stored (`updatedAt`,
`listVersion`, size, last record added: `ListInfo.change_signature`); the signatures are
kept in `sync_state`, each written in the transaction that stores that list's members.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hubsync_core.hubspot.errors import MissingScopesError
from hubsync_core.hubspot.models import ListInfo
from hubsync_core.hubspot.paging import walk_list_members, walk_lists
from hubsync_core.store import contacts as contact_store
from hubsync_core.store import runs
from hubsync_core.sync.context import RunContext

log = logging.getLogger("hubsync.sync")

#: `sync_state` key: {list id: change signature} of the lists whose stored members are current.
LIST_SIGNATURES = "list_signatures"

LISTS_SCOPE_WARNING = (
    "List memberships were not synced: the access token lacks the crm.lists.read scope. "
    "Add it to sync lists (and the CHAINge list)."
)


def all_lists(ctx: RunContext) -> list[ListInfo]:
    """Every list of the portal (at most `max_contacts` of them in a trial run)."""
    return [info for page in walk_lists(ctx.client, max_records=ctx.trial_cap()) for info in page]


def list_member_ids(ctx: RunContext, list_id: str, limit: int | None = None) -> Iterator[str]:
    """The record ids of one list's members (at most `limit`)."""
    for page in walk_list_members(ctx.client, list_id, max_records=limit):
        ctx.check_cancel()
        yield from page.items[: None if limit is None else max(limit, 0)]


def sync_lists(ctx: RunContext) -> None:
    """Replace the stored lists and memberships with HubSpot's; a missing scope only warns.

    Lists are read concurrently (all threads share the client's pacing budget), because at
    real-world latency a portal's lists cost as much wall time as thousands of contacts;
    each list is then written in its own transaction, so readers never see one half replaced.
    An incremental run reads only the lists that changed (see the module docstring).
    A trial run (`max_contacts`) reads lists one by one until it read that many members.
    """
    try:
        lists = all_lists(ctx)
        known = stored_signatures(ctx) if ctx.mode == "incremental" else {}
        current = {info.list_id: info.change_signature() for info in lists}
        stale = [
            i
            for i in lists
            if current[i.list_id] is None or known.get(i.list_id) != current[i.list_id]
        ]
        # Unchanged lists keep their members and signatures; lists that are gone lose both.
        signatures = {k: v for k, v in known.items() if k in current and v == current[k]}
        with ctx.db.transaction() as conn:
            contact_store.replace_lists(conn, lists)
            _save_signatures(conn, signatures)
        if ctx.trial_cap() is not None:
            _trial_memberships(ctx, stale, ctx.trial_cap() or 0)
            return
        workers = max(1, min(ctx.settings.parallel_fetches, len(stale)))
        pool = ThreadPoolExecutor(workers, thread_name_prefix="hubsync-lists")
        try:
            pending = [pool.submit(_member_ids, ctx, info.list_id) for info in stale]
            for info, members in zip(stale, pending, strict=True):
                ids = members.result()
                signature = current[info.list_id]
                with ctx.db.transaction() as conn:
                    contact_store.replace_list_members(conn, info.list_id, ids)
                    if signature is not None:
                        signatures[info.list_id] = signature
                        _save_signatures(conn, signatures)
        finally:
            pool.shutdown(cancel_futures=True)
        log.info(
            "Synced memberships of %d lists (%d unchanged since the last sync)",
            len(stale),
            len(lists) - len(stale),
        )
    except MissingScopesError:
        log.warning(LISTS_SCOPE_WARNING)
        ctx.warnings.append(LISTS_SCOPE_WARNING)


def stored_signatures(ctx: RunContext) -> dict[str, str]:
    """{list id: change signature} of the lists whose stored members are current."""
    raw = runs.get_state(ctx.db, LIST_SIGNATURES)
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _save_signatures(conn: Any, signatures: dict[str, str]) -> None:
    runs.set_state(conn, LIST_SIGNATURES, json.dumps(signatures, sort_keys=True))


def _trial_memberships(ctx: RunContext, lists: list[ListInfo], budget: int) -> None:
    """Read lists' members in order until `budget` members were read (a trial run)."""
    done = 0
    for info in lists:
        if budget <= 0:
            log.info(
                "Stopped list memberships at max_contacts=%s after %d of %d lists",
                ctx.trial_cap(),
                done,
                len(lists),
            )
            return
        ids = list(list_member_ids(ctx, info.list_id, budget))
        budget -= len(ids)
        with ctx.db.transaction() as conn:
            contact_store.replace_list_members(conn, info.list_id, ids)
        done += 1
    log.info("Synced memberships of %d lists", done)


def _member_ids(ctx: RunContext, list_id: str) -> list[str]:
    return list(list_member_ids(ctx, list_id))
