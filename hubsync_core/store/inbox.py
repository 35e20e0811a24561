"""The event inbox: HubSpot change events stored durably before they are acknowledged.

Receivers (the webhook route, the journal poller) call `store_events`; the applier reads
`pending` events and marks them `applied` inside the transaction that applies them. Applied
rows stay a while (for deduplication of late retries and for the "live updates" counts) and
are pruned after `KEEP_APPLIED`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from hubsync_core.clock import utcnow
from hubsync_core.store.contacts import CHUNK, dialect_insert
from hubsync_core.store.database import Database
from hubsync_core.store.freshness_models import InboxEvent, PrivacyDeletion

INBOX = InboxEvent.__table__  # type: ignore[attr-defined]
PRIVACY = PrivacyDeletion.__table__  # type: ignore[attr-defined]

#: How long applied events are kept: HubSpot retries a delivery for up to 24 hours, and the
#: journal holds 3 days, so a late duplicate within that time is still recognised.
KEEP_APPLIED = timedelta(days=4)


@dataclass(frozen=True)
class StoredEvents:
    """What `store_events` did: new events stored, and duplicates of stored ones."""

    stored: int
    duplicates: int


@dataclass(frozen=True)
class PendingEvent:
    """One unapplied event, as the applier reads it."""

    event_id: str
    occurred_at_ms: int
    subscription_type: str
    object_id: str
    payload: dict[str, Any]
    received_at: datetime


@dataclass(frozen=True)
class InboxStats:
    """Counts for the Sync page and `hubsync stats`."""

    pending: int
    received_last_hour: int
    applied_last_hour: int
    last_received_at: datetime | None
    last_applied_at: datetime | None
    privacy_deletions: int


def event_row(event: dict[str, Any], source: str, now: datetime) -> dict[str, Any]:
    """An inbox row for one validated event (see `webhooks.events.validate`)."""
    return {
        "event_id": str(event["eventId"]),
        "occurred_at_ms": int(event["occurredAt"]),
        "subscription_type": str(event["subscriptionType"]),
        "object_id": str(event["objectId"]),
        "source": source,
        "payload": event,
        "received_at": now,
        "applied_at": None,
    }


def store_events(
    conn: Connection, events: Sequence[dict[str, Any]], source: str, now: datetime | None = None
) -> StoredEvents:
    """Insert events not stored yet (by `eventId`) inside the caller's transaction."""
    if not events:
        return StoredEvents(0, 0)
    at = now or utcnow()
    rows = {str(e["eventId"]): event_row(e, source, at) for e in events}
    statement = (
        dialect_insert(conn)(INBOX)
        .on_conflict_do_nothing(index_elements=[INBOX.c.event_id])
        .execution_options(preserve_rowcount=True)
    )
    written = conn.execute(statement, list(rows.values())).rowcount
    stored = written if written >= 0 else len(rows)
    return StoredEvents(stored=stored, duplicates=len(events) - stored)


def pending(db_or_conn: Database | Connection, limit: int) -> list[PendingEvent]:
    """The oldest unapplied events (by `occurredAt`), at most `limit`."""
    query = (
        select(
            INBOX.c.event_id,
            INBOX.c.occurred_at_ms,
            INBOX.c.subscription_type,
            INBOX.c.object_id,
            INBOX.c.payload,
            INBOX.c.received_at,
        )
        .where(INBOX.c.applied_at.is_(None))
        .order_by(INBOX.c.occurred_at_ms, INBOX.c.event_id)
        .limit(limit)
    )
    if isinstance(db_or_conn, Connection):
        rows = db_or_conn.execute(query).all()
    else:
        with db_or_conn.connect() as conn:
            rows = conn.execute(query).all()
    return [
        PendingEvent(r[0], int(r[1]), r[2], r[3], dict(r[4] or {}), _as_datetime(r[5]) or utcnow())
        for r in rows
    ]


def pending_summary(db: Database) -> tuple[int, datetime | None]:
    """(how many events are pending, when the oldest of them arrived)."""
    with db.connect() as conn:
        count, oldest = conn.execute(
            select(func.count(), func.min(INBOX.c.received_at)).where(INBOX.c.applied_at.is_(None))
        ).one()
    return int(count), _as_datetime(oldest)


def mark_applied(conn: Connection, event_ids: Iterable[str], now: datetime) -> int:
    """Mark events applied (inside the transaction that applied them); returns how many."""
    total = 0
    ids = list(event_ids)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        total += conn.execute(
            update(INBOX)
            .where(INBOX.c.event_id.in_(chunk), INBOX.c.applied_at.is_(None))
            .values(applied_at=now)
        ).rowcount
    return total


def forget_payloads(conn: Connection, object_ids: Iterable[str]) -> int:
    """Empty the stored payloads of every event about these contacts (property values are
    personal data): what an erasure leaves is the event id, its type and its times."""
    total = 0
    ids = list(object_ids)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        total += conn.execute(
            update(INBOX).where(INBOX.c.object_id.in_(chunk)).values(payload={})
        ).rowcount
    return total


def record_privacy_deletions(
    conn: Connection, items: Sequence[tuple[str, str | None, datetime | None]], now: datetime
) -> int:
    """Audit erasures: `(hubspot_id, event_id, occurred_at)` each, no personal data."""
    if not items:
        return 0
    conn.execute(
        PRIVACY.insert(),
        [
            {"hubspot_id": i, "event_id": e, "occurred_at": at, "erased_at": now}
            for i, e, at in items
        ],
    )
    return len(items)


def prune_applied(conn: Connection, now: datetime) -> int:
    """Delete applied events older than `KEEP_APPLIED`; returns how many."""
    return int(
        conn.execute(
            delete(INBOX).where(
                INBOX.c.applied_at.is_not(None), INBOX.c.applied_at < now - KEEP_APPLIED
            )
        ).rowcount
    )


def stats(db: Database, now: datetime | None = None) -> InboxStats:
    """Pending events, events received and applied in the last hour, and the latest times."""
    at = now or utcnow()
    hour_ago = at - timedelta(hours=1)
    with db.connect() as conn:
        pending_count = conn.execute(
            select(func.count()).where(INBOX.c.applied_at.is_(None))
        ).scalar_one()
        received = conn.execute(
            select(func.count()).where(INBOX.c.received_at >= hour_ago)
        ).scalar_one()
        applied = conn.execute(
            select(func.count()).where(INBOX.c.applied_at >= hour_ago)
        ).scalar_one()
        last_received = conn.execute(select(func.max(INBOX.c.received_at))).scalar_one()
        last_applied = conn.execute(select(func.max(INBOX.c.applied_at))).scalar_one()
        erased = conn.execute(select(func.count()).select_from(PRIVACY)).scalar_one()
    return InboxStats(
        pending=int(pending_count),
        received_last_hour=int(received),
        applied_last_hour=int(applied),
        last_received_at=_as_datetime(last_received),
        last_applied_at=_as_datetime(last_applied),
        privacy_deletions=int(erased),
    )


def _as_datetime(value: Any) -> datetime | None:
    """`max()` over a DATETIME column comes back as text on SQLite."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
