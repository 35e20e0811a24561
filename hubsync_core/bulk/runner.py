"""Executing a saved operation: one batch at a time, each intent and result committed.

The protocol, per batch (`BulkBatch`):
1. **intent**: status `sending`, attempts + 1, committed *before* the request leaves;
2. **send**: one paced call (the client retries transient failures of that call itself);
3. **result**: every contact's outcome, HubSpot's returned objects upserted into `contacts`
   (the sync's upsert path), and status `done`, committed in one transaction *before* the
   next batch is sent.

A `done` batch is never sent again. The one window this cannot close is between 2 and 3: a
process killed after HubSpot applied a batch but before its result was committed leaves
exactly one batch in `sending` (at most one, since batches go one at a time). On resume that
batch is reconciled before anything is resent: its contacts are read back from HubSpot
(batch read, no write), those already holding the intended values (or already archived) are
recorded as written from what HubSpot answered, and only the others are sent again. List
membership changes are resent as they are: adding a member twice or removing a non-member is
a no-op in HubSpot. The reconciliation is recorded in the batch's `note`. What stays
ambiguous: a contact someone else changed in HubSpot between the lost answer and the resume
no longer holds the intended value, so it is sent again (the operation's intent wins, as it
would have had the run not been cut), and a value HubSpot stores normalised (a number written
as "5.0") reads back different and is resent (a no-op). Retries of one call by the client
(a 5xx, a reset, unreadable JSON) happen before the result is committed, so they are not
resends of a committed batch either.

The runner holds the database's single-flight lock (`store.lock`), so a bulk job and a sync
never run at once on one database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from hubsync_core.hubspot import writes
from hubsync_core.hubspot.client import HubSpotClient
from hubsync_core.hubspot.errors import (
    AuthenticationError,
    BadRequestError,
    HubSpotError,
    MissingScopesError,
)
from hubsync_core.hubspot.models import ContactRecord
from hubsync_core.store import contacts as contact_store
from hubsync_core.store import lock
from hubsync_core.store.database import Database
from hubsync_core.store.models import Contact, ListMembership
from hubsync_core.sync.records import to_rows

from .audit import BATCHES, ITEMS, OPS, OperationSummary, get_operation, utcnow
from .plan import SKIP_NOT_IN_HUBSPOT
from .status import DONE, BatchStatus, BulkStatus, ItemStatus

log = logging.getLogger("hubsync.bulk")
CONTACTS = Contact.__table__  # type: ignore[attr-defined]
MEMBERS = ListMembership.__table__  # type: ignore[attr-defined]
#: Seconds between lock heartbeats (a holder counts as dead after 60 s without one).
HEARTBEAT_SECONDS = 5.0
#: Seconds between progress reports (each reads the operation's rows).
REPORT_SECONDS = 0.5


@dataclass(frozen=True)
class BulkProgress:
    """Live numbers of a running operation (also readable from its row by other processes)."""

    operation_id: int
    kind: str
    status: str
    total: int
    written: int
    failed: int
    skipped: int
    batches_done: int
    batches_total: int
    calls: int
    message: str | None = None

    @property
    def fraction(self) -> float:
        return self.batches_done / self.batches_total if self.batches_total else 1.0


@dataclass
class _Outcome:
    """One batch's result: per id, HubSpot's record (written) or a reason (failed)."""

    records: dict[str, ContactRecord]
    written: list[str]
    failed: dict[str, str]


class BulkRunner:
    """Runs one operation to its end (or a stop) under the single-flight lock."""

    def __init__(
        self,
        db: Database,
        client: HubSpotClient,
        operation_id: int,
        *,
        owner: str,
        after_write: Callable[[Connection], None] | None = None,
        on_progress: Callable[[BulkProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.db = db
        self.client = client
        self.op_id = int(operation_id)
        self.owner = owner
        self._after_write = after_write
        self._on_progress = on_progress
        self._cancel = cancel or threading.Event()
        # Per-batch bookkeeping kept off the hot path: one commit per batch is the result's.
        self._beat = self._reported = time.monotonic()

    # ------------------------------------------------------------------ driving

    def run(self) -> OperationSummary:
        """Send every batch not yet done; raises `SyncAlreadyRunning` if the database is held."""
        lock.acquire(self.db, self.owner)
        try:
            op = get_operation(self.db, self.op_id)
            if op is None:
                raise KeyError(f"no bulk operation {self.op_id}")
            if op.status in DONE:
                return op
            self._set(status=BulkStatus.RUNNING, started_at=op.started_at or utcnow(), message=None)
            status, message = self._send_all(op)
            self._finish(status, message)
        except BaseException as exc:
            self._set(
                status=BulkStatus.INTERRUPTED, message=f"stopped: {type(exc).__name__}: {exc}"
            )
            raise
        finally:
            lock.release(self.db, self.owner)
        done = get_operation(self.db, self.op_id)
        assert done is not None
        return done

    def _send_all(self, op: OperationSummary) -> tuple[str | None, str | None]:
        """Send the pending batches; (a stopping status and why) or (None, None) when done."""
        for batch in self._batches():
            if batch["status"] == BatchStatus.DONE:
                continue
            if self._cancel.is_set():
                return (
                    BulkStatus.CANCELLED,
                    "Cancelled; `hubsync bulk resume` continues where it stopped.",
                )
            try:
                self._one_batch(op, batch)
            except (AuthenticationError, MissingScopesError) as exc:
                # HubSpot refused before doing anything: the batch was not applied.
                self._reset_batch(batch["seq"])
                return BulkStatus.FAILED, writes.describe_error(exc)
            except HubSpotError as exc:
                # Maybe applied, maybe not: the batch stays `sending`; resume reconciles it.
                return BulkStatus.INTERRUPTED, writes.describe_error(exc) + (
                    "; `hubsync bulk resume` reconciles the last batch and continues."
                )
            now = time.monotonic()
            if now - self._beat >= HEARTBEAT_SECONDS:
                self._beat = now
                if not lock.heartbeat(self.db, self.owner):
                    return BulkStatus.INTERRUPTED, "Another process took over the database lock."
            if now - self._reported >= REPORT_SECONDS:
                self._reported = now
                self._report()
        return None, None

    def _one_batch(self, op: OperationSummary, batch: dict[str, Any]) -> None:
        seq, phase = int(batch["seq"]), str(batch["phase"])
        pending = self._pending_items(batch["ids"])
        note = None
        if batch["status"] == BatchStatus.SENDING and pending:
            applied = self._reconcile(op, phase, pending)
            if applied.written or applied.failed:
                self._commit_result(op, seq, phase, applied, done=False)
            pending = {k: v for k, v in pending.items() if k not in applied.written}
            pending = {k: v for k, v in pending.items() if k not in applied.failed}
            note = (
                f"resumed: {len(applied.written)} found already applied in HubSpot, "
                f"{len(pending)} resent"
            )
        if not pending:
            self._commit_result(op, seq, phase, _Outcome({}, [], {}), note=note)
            return
        with self.db.transaction() as conn:  # 1. intent
            conn.execute(
                sa.update(BATCHES)
                .where(BATCHES.c.operation_id == self.op_id, BATCHES.c.seq == seq)
                .values(
                    status=BatchStatus.SENDING, attempts=BATCHES.c.attempts + 1, sent_at=utcnow()
                )
            )
            conn.execute(sa.update(OPS).where(OPS.c.id == self.op_id).values(calls=OPS.c.calls + 1))
        try:
            outcome = self._send(op, phase, pending)  # 2. send
        except BadRequestError as exc:
            # HubSpot refused the whole batch (e.g. VALIDATION_ERROR): nothing was applied.
            reason = writes.describe_error(exc)
            outcome = _Outcome({}, [], dict.fromkeys(pending, reason))
        self._commit_result(op, seq, phase, outcome, note=note)  # 3. result

    # ------------------------------------------------------------------ HubSpot

    def _send(
        self, op: OperationSummary, phase: str, pending: dict[str, dict[str, Any]]
    ) -> _Outcome:
        ids = list(pending)
        if op.kind in ("set", "update"):
            if phase == "clear":
                inputs = [(i, {"lifecyclestage": ""}) for i in ids]
            else:
                inputs = [(i, {k: v or "" for k, v in pending[i].items()}) for i in ids]
            answer = self.client.batch_update(inputs)
            records = {r.id: r for r in answer.records}
            failed = {
                i: answer.errors.get(i, "HubSpot returned no result")
                for i in ids
                if i not in records
            }
            return _Outcome(records, [i for i in ids if i in records], failed)
        if op.kind == "archive":
            self.client.batch_archive(ids)
            return _Outcome({}, ids, {})
        list_id = str(op.params["list_id"])
        call = self.client.list_add if op.kind == "list_add" else self.client.list_remove
        result = call(list_id, ids)
        missing = set(result.missing)
        failed = {i: SKIP_NOT_IN_HUBSPOT for i in ids if i in missing}
        return _Outcome({}, [i for i in ids if i not in missing], failed)

    def _reconcile(
        self, op: OperationSummary, phase: str, pending: dict[str, dict[str, Any]]
    ) -> _Outcome:
        """Which contacts of a batch left in `sending` HubSpot already holds as intended."""
        ids = list(pending)
        if op.kind in ("list_add", "list_remove"):
            return _Outcome({}, [], {})  # resending is a no-op for those already changed
        names = (
            ["lifecyclestage"]
            if phase == "clear" or op.kind == "archive"
            else sorted({n for values in pending.values() for n in values})
        )
        records: dict[str, ContactRecord] = {}
        for start in range(0, len(ids), writes.BATCH_LIMIT):
            chunk = ids[start : start + writes.BATCH_LIMIT]
            records.update((r.id, r) for r in self.client.batch_read_contacts(chunk, names))
        if op.kind == "archive":
            return _Outcome({}, [i for i in ids if i not in records], {})
        written: list[str] = []
        failed: dict[str, str] = {}
        for cid in ids:
            record = records.get(cid)
            if record is None:
                failed[cid] = SKIP_NOT_IN_HUBSPOT
                continue
            wanted = {"lifecyclestage": ""} if phase == "clear" else pending[cid]
            if all((record.properties.get(n) or "") == (v or "") for n, v in wanted.items()):
                written.append(cid)
        return _Outcome({cid: records[cid] for cid in written}, written, failed)

    # ------------------------------------------------------------------ database

    def _batches(self) -> list[dict[str, Any]]:
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(BATCHES.c.seq, BATCHES.c.phase, BATCHES.c.ids, BATCHES.c.status)
                .where(BATCHES.c.operation_id == self.op_id)
                .order_by(BATCHES.c.seq)
            ).all()
        return [dict(r._mapping) for r in rows]

    def _pending_items(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The batch's contacts still pending, with the values to write."""
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(ITEMS.c.hubspot_id, ITEMS.c.after).where(
                    ITEMS.c.operation_id == self.op_id,
                    ITEMS.c.hubspot_id.in_(list(ids)),
                    ITEMS.c.status == ItemStatus.PENDING,
                )
            ).all()
        found = {r.hubspot_id: dict(r.after or {}) for r in rows}
        return {i: found[i] for i in ids if i in found}

    def _commit_result(
        self,
        op: OperationSummary,
        seq: int,
        phase: str,
        outcome: _Outcome,
        *,
        done: bool = True,
        note: str | None = None,
    ) -> None:
        now = utcnow()
        final = phase == "write"  # a clear only prepares the write: its contacts stay pending
        with self.db.transaction() as conn:
            if outcome.records:
                _store_records(conn, outcome.records.values())
            if final and outcome.written:
                _apply_locally(conn, op, outcome.written, now)
                _set_items(conn, self.op_id, outcome.written, ItemStatus.WRITTEN, None, now)
            for reason, ids in _group(outcome.failed).items():
                _set_items(conn, self.op_id, ids, ItemStatus.FAILED, reason, None)
            conn.execute(
                sa.update(OPS)
                .where(OPS.c.id == self.op_id)
                .values(
                    written=OPS.c.written + (len(outcome.written) if final else 0),
                    failed=OPS.c.failed + len(outcome.failed),
                )
            )
            if done:
                values: dict[str, Any] = {"status": BatchStatus.DONE, "done_at": now}
                if note:
                    values["note"] = note
                conn.execute(
                    sa.update(BATCHES)
                    .where(BATCHES.c.operation_id == self.op_id, BATCHES.c.seq == seq)
                    .values(**values)
                )

    def _reset_batch(self, seq: int) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                sa.update(BATCHES)
                .where(BATCHES.c.operation_id == self.op_id, BATCHES.c.seq == seq)
                .values(status=BatchStatus.PENDING)
            )

    def _set(self, **values: Any) -> None:
        with self.db.transaction() as conn:
            conn.execute(sa.update(OPS).where(OPS.c.id == self.op_id).values(**values))

    def _finish(self, status: str | None, message: str | None) -> None:
        op = get_operation(self.db, self.op_id)
        assert op is not None
        if status is None:
            status = BulkStatus.PARTIAL if op.failed else BulkStatus.SUCCEEDED
            if op.failed:
                message = f"{op.failed:,} contact(s) failed; see `hubsync bulk log` or retry them."
        if self._after_write is not None and op.written:
            with self.db.transaction() as conn:
                self._after_write(conn)
        self._set(status=status, message=message, finished_at=utcnow())
        self._report()

    def progress(self) -> BulkProgress:
        """The operation's numbers as stored now."""
        return read_progress(self.db, self.op_id)

    def _report(self) -> None:
        if self._on_progress is not None:
            self._on_progress(self.progress())


def read_progress(db: Database, op_id: int) -> BulkProgress:
    """An operation's progress from its rows (any process can poll this)."""
    op = get_operation(db, op_id)
    if op is None:
        raise KeyError(f"no bulk operation {op_id}")
    with db.connect() as conn:
        total, done = conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(
                    sa.func.sum(sa.case((BATCHES.c.status == BatchStatus.DONE, 1), else_=0)), 0
                ),
            ).where(BATCHES.c.operation_id == int(op_id))
        ).one()
    return BulkProgress(
        op.id,
        op.kind,
        op.status,
        op.total,
        op.written,
        op.failed,
        op.skipped,
        int(done),
        int(total),
        op.calls,
        op.message,
    )


# ---------------------------------------------------------------------- local writes


def _group(failed: dict[str, str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for cid, reason in failed.items():
        grouped.setdefault(reason, []).append(cid)
    return grouped


def _set_items(
    conn: Connection, op_id: int, ids: Sequence[str], status: str, reason: str | None, at: Any
) -> None:
    for start in range(0, len(ids), 500):
        conn.execute(
            sa.update(ITEMS)
            .where(
                ITEMS.c.operation_id == op_id,
                ITEMS.c.hubspot_id.in_(list(ids[start : start + 500])),
            )
            .values(status=status, reason=reason, written_at=at)
        )


def _store_records(conn: Connection, records: Iterable[ContactRecord]) -> None:
    """HubSpot's returned objects into `contacts` through the sync's upsert path. A batch
    answer carries only the written properties (and the dates), so each is laid over the
    stored properties rather than replacing them."""
    records = list(records)
    ids = [r.id for r in records]
    stored: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        rows = conn.execute(
            sa.select(CONTACTS.c.hubspot_id, CONTACTS.c.properties).where(
                CONTACTS.c.hubspot_id.in_(ids[start : start + 500])
            )
        ).all()
        stored.update((r.hubspot_id, dict(r.properties or {})) for r in rows)
    merged = [
        ContactRecord(
            id=r.id,
            properties={**stored.get(r.id, {}), **r.properties},
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
        for r in records
    ]
    rows, _rejections = to_rows(merged, utcnow())
    contact_store.upsert_contacts(conn, rows)


def _apply_locally(conn: Connection, op: OperationSummary, ids: list[str], now: Any) -> None:
    """What HubSpot confirmed without returning objects (archive 204, list changes)."""
    if op.kind == "archive":
        contact_store.mark_archived(conn, [(i, now) for i in ids], "archived by bulk operation")
    elif op.kind in ("list_add", "list_remove"):
        list_id = str(op.params["list_id"])
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            conn.execute(
                sa.delete(MEMBERS).where(
                    MEMBERS.c.list_id == list_id, MEMBERS.c.hubspot_id.in_(chunk)
                )
            )
            if op.kind == "list_add":
                conn.execute(
                    sa.insert(MEMBERS), [{"list_id": list_id, "hubspot_id": i} for i in chunk]
                )
