"""The audit log: saving a confirmed plan as an operation (items and batches), reading
operations back for `hubsync bulk log`, the Changes page and the API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from hubsync_core.clock import utcnow
from hubsync_core.hubspot.writes import BATCH_LIMIT
from hubsync_core.store.database import Database

from .models import BulkBatch, BulkItem, BulkOperation
from .plan import Preview
from .status import RESUMABLE, BatchStatus, BulkStatus, ItemStatus

OPS = BulkOperation.__table__  # type: ignore[attr-defined]
ITEMS = BulkItem.__table__  # type: ignore[attr-defined]
BATCHES = BulkBatch.__table__  # type: ignore[attr-defined]
#: Operation kinds whose property changes can be undone by writing the previous values back.
UNDOABLE = ("set", "update", "list_add", "list_remove")


def save_plan(db: Database, preview: Preview, actor: str) -> int:
    """Store a confirmed preview as a `planned` operation; returns its id.

    Batches are fixed here, once: clear batches (lifecyclestage moving back) each just before
    the write batch carrying the same contacts, so a resumed run sends exactly these batches.
    """
    if preview.refused:
        raise ValueError("a refused plan cannot be saved: " + "; ".join(preview.refusals))
    now = utcnow()
    with db.transaction() as conn:
        op_id = int(
            conn.execute(
                sa.insert(OPS).values(
                    kind=preview.kind,
                    status=BulkStatus.PLANNED,
                    actor=actor,
                    source=preview.source,
                    params=preview.params,
                    created_at=now,
                    total=len(preview.items),
                    skipped=len(preview.skipped),
                    undo_of=preview.undo_of,
                    retry_of=preview.retry_of,
                )
            ).inserted_primary_key[0]
        )
        batches: list[dict[str, Any]] = []
        items: list[dict[str, Any]] = []
        seq = 0
        for start in range(0, len(preview.items), BATCH_LIMIT):
            chunk = preview.items[start : start + BATCH_LIMIT]
            clear = [i.hubspot_id for i in chunk if i.needs_clear]
            if clear:
                seq += 1
                batches.append(_batch(op_id, seq, "clear", clear))
            seq += 1
            batches.append(_batch(op_id, seq, "write", [i.hubspot_id for i in chunk]))
            items += [
                {
                    "operation_id": op_id,
                    "hubspot_id": i.hubspot_id,
                    "batch": seq,
                    "before": i.before,
                    "after": i.after,
                    "needs_clear": i.needs_clear,
                    "status": ItemStatus.PENDING,
                }
                for i in chunk
            ]
        seen = {i["hubspot_id"] for i in items}
        for hubspot_id, reason in preview.skipped:
            if hubspot_id in seen:
                continue
            seen.add(hubspot_id)
            items.append(
                {
                    "operation_id": op_id,
                    "hubspot_id": hubspot_id,
                    "batch": None,
                    "before": {},
                    "after": {},
                    "needs_clear": False,
                    "status": ItemStatus.SKIPPED,
                    "reason": reason,
                }
            )
        _insert_many(conn, ITEMS, items)
        _insert_many(conn, BATCHES, batches)
    return op_id


def _batch(op_id: int, seq: int, phase: str, ids: list[str]) -> dict[str, Any]:
    return {
        "operation_id": op_id,
        "seq": seq,
        "phase": phase,
        "ids": ids,
        "status": BatchStatus.PENDING,
    }


def _insert_many(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 500):
        conn.execute(sa.insert(table), rows[start : start + 500])


@dataclass(frozen=True)
class OperationSummary:
    """One audit-log line."""

    id: int
    kind: str
    status: str
    actor: str
    source: str
    params: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    total: int
    written: int
    failed: int
    skipped: int
    calls: int
    undo_of: int | None
    retry_of: int | None
    message: str | None

    @property
    def undoable(self) -> bool:
        return self.kind in UNDOABLE and self.written > 0 and self.status != BulkStatus.RUNNING

    def describe(self) -> str:
        """What the operation did, in words ("set lifecyclestage=lead")."""
        p = self.params
        if self.kind == "set":
            return "set " + ", ".join(
                f"{k}={v or '(clear)'}" for k, v in p.get("properties", {}).items()
            )
        if self.kind == "update":
            return (
                f"update from {p.get('file') or 'a CSV file'} ({', '.join(p.get('columns', []))})"
            )
        if self.kind in ("list_add", "list_remove"):
            verb = "add to" if self.kind == "list_add" else "remove from"
            return f"{verb} list {p.get('list_name') or ''} ({p.get('list_id')})".replace("  ", " ")
        return "archive in HubSpot"

    def as_dict(self) -> dict[str, Any]:
        data = dict(vars(self))
        for key in ("created_at", "started_at", "finished_at"):
            value = data[key]
            data[key] = value.isoformat() + "Z" if value else None
        data["description"] = self.describe()
        data["undoable"] = self.undoable
        return data


def _summary(row: Any) -> OperationSummary:
    m = row._mapping
    return OperationSummary(**{f: m[f] for f in OperationSummary.__dataclass_fields__})


def get_operation(db: Database | Connection, op_id: int) -> OperationSummary | None:
    query = sa.select(OPS).where(OPS.c.id == int(op_id))
    if isinstance(db, Connection):
        row = db.execute(query).first()
    else:
        with db.connect() as conn:
            row = conn.execute(query).first()
    return _summary(row) if row is not None else None


def list_operations(db: Database, limit: int = 100) -> list[OperationSummary]:
    """The newest operations first."""
    with db.connect() as conn:
        rows = conn.execute(sa.select(OPS).order_by(OPS.c.id.desc()).limit(limit)).all()
    return [_summary(r) for r in rows]


def resumable_operations(db: Database) -> list[OperationSummary]:
    """Operations that did not finish (oldest first)."""
    with db.connect() as conn:
        rows = conn.execute(
            sa.select(OPS).where(OPS.c.status.in_(RESUMABLE)).order_by(OPS.c.id)
        ).all()
    return [_summary(r) for r in rows]


@dataclass(frozen=True)
class ItemRecord:
    hubspot_id: str
    status: str
    before: dict[str, Any]
    after: dict[str, Any]
    reason: str | None
    written_at: datetime | None


def items(
    db: Database, op_id: int, statuses: Sequence[str] | None = None, limit: int | None = None
) -> list[ItemRecord]:
    """An operation's contacts (optionally only some statuses), in id order."""
    query = sa.select(
        ITEMS.c.hubspot_id,
        ITEMS.c.status,
        ITEMS.c.before,
        ITEMS.c.after,
        ITEMS.c.reason,
        ITEMS.c.written_at,
    ).where(ITEMS.c.operation_id == int(op_id))
    if statuses:
        query = query.where(ITEMS.c.status.in_(list(statuses)))
    query = query.order_by(sa.func.length(ITEMS.c.hubspot_id), ITEMS.c.hubspot_id)
    if limit is not None:
        query = query.limit(limit)
    with db.connect() as conn:
        return [ItemRecord(*row) for row in conn.execute(query).all()]


def batches(db: Database, op_id: int) -> list[dict[str, Any]]:
    """An operation's batches in order, as dicts (resume checks and tests)."""
    with db.connect() as conn:
        rows = conn.execute(
            sa.select(BATCHES).where(BATCHES.c.operation_id == int(op_id)).order_by(BATCHES.c.seq)
        ).all()
    return [dict(r._mapping) for r in rows]
