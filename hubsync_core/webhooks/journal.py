"""The journal poller: reads the Webhooks Journal from the stored offset into the inbox.

Each entry's events and the offset after it are committed in ONE transaction, so the offset
only moves past events that are stored (a crash re-reads the entry; the inbox deduplicates).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from hubsync_core.hubspot.journal import JournalClient
from hubsync_core.store import inbox, runs
from hubsync_core.store.database import Database
from hubsync_core.webhooks.events import BadEvents, validate

log = logging.getLogger("hubsync.journal")

#: `sync_state` key of the journal offset already stored.
JOURNAL_OFFSET = "journal_offset"


@dataclass(frozen=True)
class JournalPoll:
    entries: int
    stored: int
    duplicates: int
    skipped: int


def poll_journal(db: Database, client: JournalClient, max_entries: int = 50) -> JournalPoll:
    """Store journal entries after the stored offset (at most `max_entries` this call)."""
    entries = stored = duplicates = skipped = 0
    offset = runs.get_state(db, JOURNAL_OFFSET)
    for _ in range(max_entries):
        entry = client.fetch(offset)
        if entry is None:
            break
        events = []
        for item in entry.events:
            try:
                events.append(validate(item))
            except BadEvents as exc:
                skipped += 1
                log.warning("journal entry %s: an event was skipped: %s", entry.offset, exc)
        with db.transaction() as conn:
            result = inbox.store_events(conn, events, "journal")
            runs.set_state(conn, JOURNAL_OFFSET, entry.offset)
        entries += 1
        stored += result.stored
        duplicates += result.duplicates
        offset = entry.offset
    return JournalPoll(entries, stored, duplicates, skipped)
