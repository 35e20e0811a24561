"""Sync-run bookkeeping: one `sync_runs` row per attempt, its counters and checkpoint, and
the small `sync_state` facts that outlive runs.

Functions taking a `Database` open their own short transaction; those taking a `Connection`
join the caller's (the page transaction). Runs come back as detached `SyncRun` objects whose
attributes stay readable after the session is gone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlmodel import Session

from hubsync_core.clock import utcnow
from hubsync_core.run_status import RESUMABLE, RunStatus
from hubsync_core.store.contacts import dialect_insert
from hubsync_core.store.database import Database
from hubsync_core.store.models import SyncLock, SyncRun, SyncState

RUNS = SyncRun.__table__  # type: ignore[attr-defined]
STATE = SyncState.__table__  # type: ignore[attr-defined]
LOCKS = SyncLock.__table__  # type: ignore[attr-defined]

#: How far back `resumable_run` looks for a run with a checkpoint.
_RESUME_LOOKBACK = 20


def _check_status(status: str) -> None:
    if status not in tuple(RunStatus):
        expected = tuple(str(s) for s in RunStatus)
        raise ValueError(f"unknown run status {status!r} (expected one of {expected})")


def create_run(
    db: Database,
    mode: str,
    owner: str,
    options: Mapping[str, Any],
    resumed_from: int | None = None,
) -> SyncRun:
    """Record a new `running` run and return it (with its id)."""
    now = utcnow()
    run = SyncRun(
        mode=mode,
        status=RunStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        owner=owner,
        options=dict(options),
        resumed_from=resumed_from,
    )
    with Session(db.engine, expire_on_commit=False) as session:
        session.add(run)
        session.commit()
    return run


def save_progress(
    conn: Connection,
    run_id: int,
    *,
    pages: int,
    contacts: int,
    api_calls: int,
    retries: int,
    rate_limited: int,
    errors: int,
    rejected: int,
    checkpoint: Mapping[str, Any],
    expected_total: int | None = None,
) -> None:
    """Store the run's counters (totals so far) and checkpoint, inside the page transaction.

    Also refreshes the run's heartbeat and, when this run holds the single-flight lock, the
    lock's heartbeat: a sync that keeps committing pages is alive. `expected_total=None`
    leaves a stored total as it is.
    """
    now = utcnow()
    values: dict[str, Any] = {
        "pages": pages,
        "contacts": contacts,
        "api_calls": api_calls,
        "retries": retries,
        "rate_limited": rate_limited,
        "errors": errors,
        "rejected": rejected,
        "checkpoint": dict(checkpoint),
        "heartbeat_at": now,
    }
    if expected_total is not None:
        values["expected_total"] = expected_total
    conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(**values))
    conn.execute(update(LOCKS).where(LOCKS.c.run_id == run_id).values(heartbeat_at=now))


def heartbeat(db: Database, run_id: int) -> None:
    """Mark the run (and the lock it holds, if any) alive now."""
    now = utcnow()
    with db.transaction() as conn:
        conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(heartbeat_at=now))
        conn.execute(update(LOCKS).where(LOCKS.c.run_id == run_id).values(heartbeat_at=now))


def finish_run(
    db: Database,
    run_id: int,
    status: str,
    *,
    error_message: str | None = None,
    error_hint: str | None = None,
    correlation_id: str | None = None,
    by_segment: Mapping[str, Any] | None = None,
    duration_seconds: float | None = None,
) -> None:
    """Close the run with its final status (`duration_seconds` defaults to wall time)."""
    _check_status(status)
    now = utcnow()
    with db.transaction() as conn:
        started = conn.execute(
            select(RUNS.c.started_at).where(RUNS.c.id == run_id)
        ).scalar_one_or_none()
        if started is None:
            raise LookupError(f"no sync run {run_id}")
        if duration_seconds is None:
            duration_seconds = max((now - started).total_seconds(), 0.0)
        values: dict[str, Any] = {
            "status": status,
            "finished_at": now,
            "heartbeat_at": now,
            "error_message": error_message,
            "error_hint": error_hint,
            "correlation_id": correlation_id,
            "duration_seconds": duration_seconds,
        }
        if by_segment is not None:
            values["by_segment"] = dict(by_segment)
        conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(**values))


def _one(db: Database, query: Any) -> SyncRun | None:
    with Session(db.engine, expire_on_commit=False) as session:
        run = session.scalars(query).first()
        if run is not None:
            session.expunge(run)
        return run


def get_run(db: Database, run_id: int) -> SyncRun | None:
    """The run with this id, or None."""
    with Session(db.engine, expire_on_commit=False) as session:
        run = session.get(SyncRun, run_id)
        if run is not None:
            session.expunge(run)
        return run


def latest_run(
    db: Database, *, finished: bool = False, statuses: Sequence[str] | None = None
) -> SyncRun | None:
    """The newest run: with `finished=True` the newest that is no longer running, with
    `statuses` the newest that ended with one of them."""
    query = select(SyncRun).order_by(RUNS.c.id.desc()).limit(1)
    if finished:
        query = query.where(RUNS.c.status != RunStatus.RUNNING)
    if statuses:
        query = query.where(RUNS.c.status.in_(list(statuses)))
    return _one(db, query)


def running_run(db: Database) -> SyncRun | None:
    """The newest run still marked `running` (see `lock.mark_interrupted_runs` for dead ones)."""
    return _one(
        db,
        select(SyncRun)
        .where(RUNS.c.status == RunStatus.RUNNING)
        .order_by(RUNS.c.id.desc())
        .limit(1),
    )


def resumable_run(db: Database, mode: str) -> SyncRun | None:
    """The run the next sync of `mode` should resume, or None.

    That is the newest run of the mode that ended partial/cancelled/interrupted/failed with a
    checkpoint, unless a later run of the same mode succeeded (its work is then superseded).
    """
    with Session(db.engine, expire_on_commit=False) as session:
        last_success = session.scalars(
            select(RUNS.c.id)
            .where(RUNS.c.mode == mode, RUNS.c.status == RunStatus.SUCCEEDED)
            .order_by(RUNS.c.id.desc())
            .limit(1)
        ).first()
        query = (
            select(SyncRun)
            .where(RUNS.c.mode == mode, RUNS.c.status.in_(RESUMABLE))
            .order_by(RUNS.c.id.desc())
            .limit(_RESUME_LOOKBACK)
        )
        if last_success is not None:
            query = query.where(RUNS.c.id > last_success)
        for run in session.scalars(query):
            if run.checkpoint:
                session.expunge(run)
                return run
    return None


def history(db: Database, limit: int = 50, offset: int = 0) -> list[SyncRun]:
    """The newest `limit` runs (after skipping `offset`), newest first."""
    query = select(SyncRun).order_by(RUNS.c.id.desc()).limit(limit).offset(offset)
    with Session(db.engine, expire_on_commit=False) as session:
        found = list(session.scalars(query))
        session.expunge_all()
        return found


def count_runs(db: Database) -> int:
    """How many sync runs are recorded."""
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(RUNS)).scalar_one())


def get_state(db_or_conn: Database | Connection, key: str) -> str | None:
    """A `sync_state` value, or None."""
    query = select(STATE.c.value).where(STATE.c.key == key)
    if isinstance(db_or_conn, Connection):
        return db_or_conn.execute(query).scalar_one_or_none()
    with db_or_conn.connect() as conn:
        return conn.execute(query).scalar_one_or_none()


def set_state(conn: Connection, key: str, value: str) -> None:
    """Set a `sync_state` value (inside the caller's transaction)."""
    stmt = dialect_insert(conn)(STATE).values(key=key, value=str(value))
    conn.execute(
        stmt.on_conflict_do_update(index_elements=[STATE.c.key], set_={"value": str(value)})
    )


def delete_state(conn: Connection, key: str) -> None:
    """Forget a `sync_state` value (inside the caller's transaction)."""
    conn.execute(STATE.delete().where(STATE.c.key == key))


def mark_stale_runs(db: Database, *, stale_after: float = 60.0) -> int:
    """Mark `running` runs whose process is gone as `interrupted` (see `lock`)."""
    from hubsync_core.store.lock import mark_interrupted_runs

    return mark_interrupted_runs(db, stale_after=stale_after)
