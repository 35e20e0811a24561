"""Single flight: at most one sync per database, enforced by the database itself.

The lock is one row in `sync_lock` (primary key `name`). Taking it is an
`INSERT ... ON CONFLICT DO NOTHING`: the database lets exactly one of any number of racing
threads, processes or hosts insert it, on SQLite and PostgreSQL alike. The row says who holds
it (`owner`, "cli@host:pid"), since when, for which run, and when the holder last proved it
was alive (`heartbeat_at`).

Why a row and not a PostgreSQL advisory lock: an advisory lock lives and dies with one
server session, so the holder would have to pin a connection for the whole run, and a
network blip, a server restart or a transaction-pooling proxy (pgbouncer) would free it
silently while the sync keeps writing. The row survives all of that, works the same on
SQLite, and carries the holder's details for the "already running" message.

A holder that died leaves its row behind. The row is then declared stale, and taken over
atomically (a conditional UPDATE on the values just read, so of two processes seeing the
same stale row only one wins), when either
- its heartbeat is older than `stale_after` seconds (any host), or
- it is on this host and its process no longer exists (found at once, no waiting).
The dead holder's run is marked `interrupted`. Holders keep the heartbeat fresh with
`heartbeat()` (and `runs.save_progress` / `runs.heartbeat` refresh it for the attached run).

Protocol: `acquire(db, owner, None)` → `runs.create_run` → `attach_run(db, owner, run_id)`
→ ... → `runs.finish_run` → `release(db, owner)`. Whoever takes the lock marks every other
`running` run `interrupted`: while the lock is held by no one, no run can be running.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select, update

from hubsync_core.clock import utcnow
from hubsync_core.run_status import RunStatus
from hubsync_core.store.contacts import dialect_insert
from hubsync_core.store.database import Database
from hubsync_core.store.models import SyncLock, SyncRun

LOCKS = SyncLock.__table__  # type: ignore[attr-defined]
RUNS = SyncRun.__table__  # type: ignore[attr-defined]

#: The one lock row's name.
LOCK_NAME = "sync"
#: Seconds without a heartbeat after which a holder on another host counts as dead.
DEFAULT_STALE_AFTER = 60.0
INTERRUPTED_MESSAGE = (
    "The sync stopped without finishing (its process ended or stopped responding); "
    "the next sync resumes from its checkpoint."
)
_ATTEMPTS = 5


def make_owner(kind: str) -> str:
    """The owner string for this process: `"<kind>@<hostname>:<pid>"`."""
    return f"{kind}@{socket.gethostname()}:{os.getpid()}"


def parse_owner(owner: str) -> tuple[str, str | None, int | None]:
    """`"cli@host:123"` → `("cli", "host", 123)`; anything else → `(owner, None, None)`."""
    kind, at, rest = owner.partition("@")
    host, colon, pid = rest.rpartition(":")
    if not at or not colon or not host or not pid.isdigit():
        return owner, None, None
    return kind, host, int(pid)


def describe_owner(owner: str) -> str:
    """`"cli@host:123"` → `"cli on host pid 123"` (for people)."""
    kind, host, pid = parse_owner(owner)
    return owner if host is None else f"{kind} on {host} pid {pid}"


@dataclass(frozen=True)
class LockHolder:
    """Who holds the lock, as the row says."""

    owner: str
    run_id: int | None
    acquired_at: datetime
    heartbeat_at: datetime

    @property
    def description(self) -> str:
        return describe_owner(self.owner)


class SyncAlreadyRunning(RuntimeError):
    """Another sync holds this database's single-flight lock."""

    def __init__(self, owner: str, started_at: datetime, run_id: int | None) -> None:
        self.owner = owner
        self.started_at = started_at
        self.run_id = run_id
        super().__init__(
            f"A sync is already running (started {started_at:%Y-%m-%d %H:%M} UTC "
            f"by {describe_owner(owner)})"
        )

    @classmethod
    def from_holder(cls, holder: LockHolder) -> SyncAlreadyRunning:
        return cls(holder.owner, holder.acquired_at, holder.run_id)

    def __reduce__(self):  # type: ignore[no-untyped-def]  # picklable across processes
        return (type(self), (self.owner, self.started_at, self.run_id))


def _read(conn: Connection) -> LockHolder | None:
    row = conn.execute(
        select(LOCKS.c.owner, LOCKS.c.run_id, LOCKS.c.acquired_at, LOCKS.c.heartbeat_at).where(
            LOCKS.c.name == LOCK_NAME
        )
    ).first()
    return LockHolder(*row) if row is not None else None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: exists, belongs to someone else
        return True
    # A killed child its parent has not reaped yet is a zombie: dead for our purpose.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            state = stat.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def stale_reason(
    holder: LockHolder, now: datetime, stale_after: float = DEFAULT_STALE_AFTER
) -> str | None:
    """Why the holder counts as dead, or None while it counts as alive."""
    if now - holder.heartbeat_at > timedelta(seconds=stale_after):
        return f"no heartbeat since {holder.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC"
    _kind, host, pid = parse_owner(holder.owner)
    if host == socket.gethostname() and pid is not None and not _pid_alive(pid):
        return f"its process (pid {pid}) has ended"
    return None


def _interrupt_running(conn: Connection, now: datetime, *, keep: int | None = None) -> int:
    """Mark `running` runs interrupted (all but `keep`); they hold no lock, so are dead."""
    query = update(RUNS).where(RUNS.c.status == RunStatus.RUNNING)
    if keep is not None:
        query = query.where(RUNS.c.id != keep)
    return int(
        conn.execute(
            query.values(
                status=RunStatus.INTERRUPTED, finished_at=now, error_message=INTERRUPTED_MESSAGE
            )
        ).rowcount
    )


def acquire(
    db: Database,
    owner: str,
    run_id: int | None = None,
    *,
    stale_after: float = DEFAULT_STALE_AFTER,
    now: datetime | None = None,
) -> None:
    """Take the single-flight lock for `owner`, or raise `SyncAlreadyRunning`.

    A stale holder (see the module docstring) is taken over and its run marked
    `interrupted`. `now` is for tests (naive UTC; default: the clock).
    """
    holder: LockHolder | None = None
    for _ in range(_ATTEMPTS):
        at = now or utcnow()
        with db.transaction() as conn:
            inserted = conn.execute(
                dialect_insert(conn)(LOCKS)
                .values(name=LOCK_NAME, owner=owner, run_id=run_id, acquired_at=at, heartbeat_at=at)
                .on_conflict_do_nothing(index_elements=[LOCKS.c.name])
                # Without it SQLAlchemy does not keep an INSERT's rowcount on psycopg.
                .execution_options(preserve_rowcount=True)
            ).rowcount
            if inserted == 1:
                _interrupt_running(conn, at, keep=run_id)
                return
            holder = _read(conn)
            if holder is None:  # released between our insert and read: try again
                continue
            if stale_reason(holder, at, stale_after) is None:
                raise SyncAlreadyRunning.from_holder(holder)
            taken = conn.execute(
                update(LOCKS)
                .where(
                    LOCKS.c.name == LOCK_NAME,
                    LOCKS.c.owner == holder.owner,
                    LOCKS.c.heartbeat_at == holder.heartbeat_at,
                )
                .values(owner=owner, run_id=run_id, acquired_at=at, heartbeat_at=at)
            ).rowcount
            if taken == 1:
                _interrupt_running(conn, at, keep=run_id)
                return
        # Someone else took the stale lock (or it beat) between our read and update: re-read.
    if holder is None:  # pragma: no cover - the row kept vanishing under us
        raise RuntimeError("could not take the sync lock (it changed hands too often)")
    raise SyncAlreadyRunning.from_holder(holder)


def attach_run(db: Database, owner: str, run_id: int) -> bool:
    """Record which run the held lock belongs to; False if `owner` no longer holds it."""
    with db.transaction() as conn:
        return (
            conn.execute(
                update(LOCKS)
                .where(LOCKS.c.name == LOCK_NAME, LOCKS.c.owner == owner)
                .values(run_id=run_id, heartbeat_at=utcnow())
            ).rowcount
            == 1
        )


def heartbeat(db: Database, owner: str | None = None, *, now: datetime | None = None) -> bool:
    """Prove the holder alive; False if `owner` (when given) no longer holds the lock.

    A False answer means the lock was taken over as stale: the caller should stop.
    """
    query = update(LOCKS).where(LOCKS.c.name == LOCK_NAME)
    if owner is not None:
        query = query.where(LOCKS.c.owner == owner)
    with db.transaction() as conn:
        return conn.execute(query.values(heartbeat_at=now or utcnow())).rowcount == 1


def release(db: Database, owner: str) -> bool:
    """Free the lock if `owner` holds it; True if it did."""
    with db.transaction() as conn:
        return (
            conn.execute(
                delete(LOCKS).where(LOCKS.c.name == LOCK_NAME, LOCKS.c.owner == owner)
            ).rowcount
            == 1
        )


def current_holder(db: Database) -> LockHolder | None:
    """Who holds the lock now (possibly a stale holder: see `stale_reason`)."""
    with db.connect() as conn:
        return _read(conn)


def live_holder(
    db: Database, *, stale_after: float = DEFAULT_STALE_AFTER, now: datetime | None = None
) -> LockHolder | None:
    """The holder if it counts as alive; None when the lock is free or would be taken over
    (what a "Sync now" button should ask before offering to start)."""
    holder = current_holder(db)
    if holder is None or stale_reason(holder, now or utcnow(), stale_after) is not None:
        return None
    return holder


def mark_interrupted_runs(
    db: Database, *, stale_after: float = DEFAULT_STALE_AFTER, now: datetime | None = None
) -> int:
    """Mark `running` runs whose process is gone as `interrupted`; returns how many.

    A stale lock is freed on the way. The live holder's run is left alone, and so, while the
    holder has not attached its run yet, is any run started since it took the lock.
    """
    at = now or utcnow()
    with db.transaction() as conn:
        holder = _read(conn)
        if holder is not None and stale_reason(holder, at, stale_after) is not None:
            conn.execute(
                delete(LOCKS).where(
                    LOCKS.c.name == LOCK_NAME,
                    LOCKS.c.owner == holder.owner,
                    LOCKS.c.heartbeat_at == holder.heartbeat_at,
                )
            )
            holder = None
        query = update(RUNS).where(RUNS.c.status == RunStatus.RUNNING)
        if holder is not None:
            if holder.run_id is not None:
                query = query.where(RUNS.c.id != holder.run_id)
            else:
                query = query.where(RUNS.c.started_at < holder.acquired_at)
        return int(
            conn.execute(
                query.values(
                    status=RunStatus.INTERRUPTED, finished_at=at, error_message=INTERRUPTED_MESSAGE
                )
            ).rowcount
        )
