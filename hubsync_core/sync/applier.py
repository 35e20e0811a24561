"""The event applier: turns the inbox's change events into stored contacts.

Events are drained in `occurredAt` order and coalesced by contact, then each touched contact
is READ from HubSpot (batch read, 100 ids a call) rather than patched from the event: the
record read is the portal's current truth, so duplicate, reordered and retried deliveries all
converge to the same database, and the write goes through the same upsert as a sync (never
older data over newer).

- creation, propertyChange, restore, deletion: read the id. Returned → upserted (a restore
  revives it); not returned → archived (deleted in the portal).
- merge: read `newObjectId`; the other ids are archived "merged into <new>", as the full sync
  does. A read of a merged-away id answers with the survivor, whose `hs_merged_object_ids`
  names it: the same rule applies.
- privacyDeletion: no read; the contact and every row about it are deleted, the stored event
  payloads emptied, and the erasure audited (id and times only).

Everything a batch of events changes, the segment membership of the touched contacts, and the
events' `applied_at` marks commit in ONE transaction: a crash before it leaves the events
pending, to be applied by the next pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from hubsync_core.clock import naive_utc, utcnow
from hubsync_core.config import Settings
from hubsync_core.hubspot.models import ContactRecord
from hubsync_core.store import contacts as contact_store
from hubsync_core.store import inbox, segment_store
from hubsync_core.store.database import Database
from hubsync_core.sync.records import merged_ids, to_rows
from hubsync_core.webhooks import events as ev

log = logging.getLogger("hubsync.applier")

#: HubSpot's batch read takes at most 100 ids.
READ_BATCH = 100
#: Events one pass applies (one transaction).
PASS_EVENTS = 5000
#: How long the first pending event may wait for others to share its batch reads.
LINGER = timedelta(seconds=1)

#: Reads the live records of up to 100 ids with the given properties (a batch read).
Reader = Callable[[Sequence[str], Sequence[str]], Sequence[ContactRecord]]


@dataclass
class ApplyResult:
    """What applying events did (summed over passes by `drain`)."""

    events: int = 0
    contacts_read: int = 0
    api_calls: int = 0
    upserted: int = 0
    archived: int = 0
    merged: int = 0
    erased: int = 0
    #: Milliseconds from each event's arrival in the inbox to its apply (for the figures).
    latencies_ms: list[float] = field(default_factory=list)

    def add(self, other: ApplyResult) -> None:
        self.events += other.events
        self.contacts_read += other.contacts_read
        self.api_calls += other.api_calls
        self.upserted += other.upserted
        self.archived += other.archived
        self.merged += other.merged
        self.erased += other.erased
        self.latencies_ms += other.latencies_ms


@dataclass
class _Plan:
    """A batch of events coalesced by contact."""

    read: dict[str, None] = field(default_factory=dict)  # ordered set
    deleted_ms: dict[str, int] = field(default_factory=dict)
    merges: list[tuple[str, list[str]]] = field(default_factory=list)
    erase: dict[str, tuple[str, int]] = field(default_factory=dict)


def plan(events: Sequence[inbox.PendingEvent]) -> _Plan:
    """Coalesce events (in `occurredAt` order) into what to read, archive, merge and erase."""
    out = _Plan()
    gone: set[str] = set()
    for event in events:
        kind, object_id = event.subscription_type, event.object_id
        if kind == ev.PRIVACY_DELETION:
            out.erase[object_id] = (event.event_id, event.occurred_at_ms)
        elif kind == ev.MERGE:
            new_id, old_ids = ev.merge_ids(event.payload)
            if new_id is None:
                continue
            out.read[new_id] = None
            if old_ids:
                out.merges.append((new_id, old_ids))
                gone.update(old_ids)
        elif kind in (ev.CREATION, ev.PROPERTY_CHANGE, ev.RESTORE, ev.DELETION):
            out.read[object_id] = None
            if kind == ev.DELETION:
                out.deleted_ms[object_id] = event.occurred_at_ms
    # Ids merged away or erased need no read (the survivor is read; erased ones are gone).
    for object_id in (*gone, *out.erase):
        out.read.pop(object_id, None)
    return out


class EventApplier:
    """Applies pending inbox events for one database.

    `read` is the batch read (see `Reader`); `properties` gives the properties a sync stores
    (asked once per pass, so a settings change is honoured without a restart).
    """

    def __init__(
        self,
        settings: Settings,
        db: Database,
        read: Reader,
        properties: Callable[[], Sequence[str]],
        *,
        clock: Callable[[], datetime] = utcnow,
        pass_events: int = PASS_EVENTS,
    ) -> None:
        self.settings = settings
        self.db = db
        self._read = read
        self._properties = properties
        self._clock = clock
        self._pass_events = pass_events

    def due(self) -> bool:
        """Whether a pass is worth running now: a batch read's worth of events is pending,
        or the oldest pending event has waited `LINGER` (so a trickle of deliveries shares
        batch reads, and nothing waits longer than about a second)."""
        count, oldest = inbox.pending_summary(self.db)
        if count == 0:
            return False
        return count >= READ_BATCH or oldest is None or self._clock() - oldest >= LINGER

    def drain(self, max_passes: int = 100) -> ApplyResult:
        """Apply pending events until none are left (or `max_passes` passes ran)."""
        total = ApplyResult()
        for _ in range(max_passes):
            result = self.apply_once()
            total.add(result)
            if result.events < self._pass_events:
                break
        return total

    def apply_once(self) -> ApplyResult:
        """One pass: read the oldest pending events, apply them in one transaction."""
        pending = inbox.pending(self.db, self._pass_events)
        result = ApplyResult()
        if not pending:
            self._erase_again()
            return result
        todo = plan(pending)
        properties = list(self._properties())
        records: list[ContactRecord] = []
        ids = list(todo.read)
        for start in range(0, len(ids), READ_BATCH):
            records.extend(self._read(ids[start : start + READ_BATCH], properties))
            result.api_calls += 1
        result.contacts_read = len(ids)
        now = self._clock()
        rows, rejections = to_rows(records, now)
        returned = {row["hubspot_id"] for row in rows}
        merges = list(todo.merges)
        absorbed: set[str] = set()
        for record in records:
            losers = [i for i in merged_ids(record.properties) if i != record.id]
            if losers:
                merges.append((record.id, losers))
                absorbed.update(losers)
        missing = [i for i in ids if i not in returned and i not in absorbed]
        archived = [(i, _from_ms(todo.deleted_ms.get(i)) or now) for i in missing]
        touched = set(returned) | set(missing) | {i for _, old in merges for i in old}
        definitions = segment_store.list_definitions(self.db, self.settings)
        with self.db.transaction() as conn:
            if rows:
                result.upserted = contact_store.upsert_contacts(conn, rows)
            for winner, losers in merges:
                result.merged += contact_store.mark_merged(conn, losers, winner)
            if archived:
                result.archived = contact_store.mark_archived(conn, archived, reason="archived")
            if todo.erase:
                erase_ids = list(todo.erase)
                result.erased = contact_store.erase_contacts(conn, erase_ids)
                inbox.forget_payloads(conn, erase_ids)
                inbox.record_privacy_deletions(
                    conn,
                    [(i, e, _from_ms(ms)) for i, (e, ms) in todo.erase.items()],
                    now,
                )
            if rejections:
                contact_store.record_rejections(conn, None, rejections)
            if touched:
                segment_store.recompute_contacts(conn, definitions, now, touched)
            result.events = inbox.mark_applied(conn, [e.event_id for e in pending], now)
            inbox.prune_applied(conn, now)
        result.latencies_ms = [
            max((now - e.received_at).total_seconds() * 1000.0, 0.0) for e in pending
        ]
        log.info(
            "Applied %d events: %d contacts read in %d calls, %d archived, %d merged, %d erased",
            result.events,
            result.contacts_read,
            result.api_calls,
            result.archived,
            result.merged,
            result.erased,
        )
        return result

    def _erase_again(self) -> None:
        """Delete erased contacts a sync running at the time of the erasure wrote back
        (it read them before HubSpot deleted them): cheap, the audit table is small."""
        with self.db.connect() as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    select(contact_store.CONTACTS.c.hubspot_id).where(
                        contact_store.CONTACTS.c.hubspot_id.in_(select(inbox.PRIVACY.c.hubspot_id))
                    )
                ).all()
            ]
        if ids:
            with self.db.transaction() as conn:
                contact_store.erase_contacts(conn, ids)


def _from_ms(ms: int | None) -> datetime | None:
    if ms is None:
        return None
    return naive_utc(datetime.fromtimestamp(ms / 1000, tz=UTC))
