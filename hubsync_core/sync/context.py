"""The state one running sync carries between its phases: counters, checkpoint, progress."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from hubsync_core.clock import utcnow
from hubsync_core.config import Settings
from hubsync_core.hubspot.client import HubSpotClient
from hubsync_core.hubspot.models import ContactRecord
from hubsync_core.run_status import RunStatus
from hubsync_core.store import contacts as contact_store
from hubsync_core.store import lock, runs
from hubsync_core.store.database import Database
from hubsync_core.sync.model import SyncOptions, SyncProgress
from hubsync_core.sync.records import Rejection, convert_page

log = logging.getLogger("hubsync.sync")


class Cancelled(Exception):
    """The user asked the run to stop; raised between pages, never inside a transaction."""


@dataclass
class RunContext:
    """Everything a phase needs. Phases mutate `checkpoint` and the counters, then `commit`."""

    settings: Settings
    db: Database
    client: HubSpotClient
    options: SyncOptions
    run_id: int
    mode: str
    started_at: datetime
    properties: Sequence[str]
    checkpoint: dict[str, Any]
    on_progress: Callable[[SyncProgress], None] | None = None
    cancel: threading.Event | None = None
    clock: Callable[[], datetime] = utcnow
    pages: int = 0
    contacts: int = 0
    rejected: int = 0
    errors: int = 0
    archived: int = 0
    expected_total: int | None = None
    #: The portal's highest contact id when the run started (None: not read).
    highest_id: int | None = None
    warnings: list[str] = field(default_factory=list)
    #: Names of the tasks running alongside the current phase (see `sync/tasks.py`).
    alongside: Callable[[], Sequence[str]] | None = None
    _counters_at_start: Any = None
    _monotonic_start: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self._counters_at_start = self.client.counters()

    @classmethod
    def begin(
        cls,
        settings: Settings,
        db: Database,
        client: HubSpotClient,
        *,
        mode: str,
        owner: str,
        options: SyncOptions,
        recorded: Mapping[str, Any],
        checkpoint: dict[str, Any],
        started_at: datetime,
        resumed_from: int | None = None,
        **hooks: Any,
    ) -> RunContext:
        """Record a new run by `owner` (who holds the lock, now attached to the run;
        `recorded`: the options as the run row keeps them) and the context it works in.
        `hooks`: `on_progress`, `cancel`, `clock`."""
        run = runs.create_run(db, mode, owner, dict(recorded), resumed_from=resumed_from)
        assert run.id is not None
        lock.attach_run(db, owner, run.id)
        return cls(
            settings=settings,
            db=db,
            client=client,
            options=options,
            run_id=run.id,
            mode=mode,
            started_at=started_at,
            properties=(),
            checkpoint=checkpoint,
            **hooks,
        )

    # -- counters ---------------------------------------------------------------------------
    def api_counters(self) -> tuple[int, int, int, int]:
        """(api_calls, retries, rate_limited, errors) made by this run so far."""
        now, start = self.client.counters(), self._counters_at_start
        return (
            now.api_calls - start.api_calls,
            now.retries - start.retries,
            now.rate_limited - start.rate_limited,
            now.errors - start.errors,
        )

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._monotonic_start

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled()

    def trial_cap(self) -> int | None:
        """The most records any one phase of a trial run (`max_contacts`) may read."""
        return self.options.max_contacts

    def remaining_cap(self) -> int | None:
        if self.options.max_contacts is None:
            return None
        return max(self.options.max_contacts - self.contacts, 0)

    # -- writing ----------------------------------------------------------------------------
    def store_page(
        self,
        rows: Sequence[Mapping[str, Any]] | contact_store.PreparedContacts,
        rejections: Sequence[Rejection],
        *,
        generation: int | None = None,
        merges: Sequence[tuple[str, list[str]]] = (),
        archived: Sequence[tuple[str, datetime | None]] = (),
        checkpoint: dict[str, Any] | None = None,
        pages: int = 1,
    ) -> None:
        """Write one page (or `pages` whole pages) and the checkpoint that follows it in a
        single transaction. `rows` may be contact rows or `contact_store.prepare_contacts`'s."""
        if checkpoint is not None:
            self.checkpoint = checkpoint
        with self.db.transaction() as conn:
            if rows:
                contact_store.upsert_contacts(conn, rows, generation=generation)
            if merges:
                contact_store.mark_merges(conn, merges)
            if archived:
                self.archived += contact_store.mark_archived(conn, archived, reason="archived")
            if rejections:
                contact_store.record_rejections(conn, self.run_id, rejections)
            self.pages += pages
            self.contacts += len(rows)
            self.rejected += len(rejections)
            self._save(conn)
        self.publish()

    def store_records(
        self, records: Sequence[ContactRecord], checkpoint: dict[str, Any] | None = None
    ) -> int:
        """Convert one page of records (see `records.convert_page`), store it, count the rows."""
        rows, rejections, merges = convert_page(records, self.clock())
        self.store_page(rows, rejections, merges=merges, checkpoint=checkpoint)
        return len(rows)

    def save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.checkpoint = checkpoint
        with self.db.transaction() as conn:
            self._save(conn)
        self.publish()

    def _save(self, conn: Any) -> None:
        runs.save_progress(
            conn, self.run_id, checkpoint=self._checkpoint_shown(), **self.counters()
        )

    def counters(self) -> dict[str, Any]:
        """The run's counters so far, named as `store.models.RUN_COUNTERS` names them."""
        api_calls, retries, rate_limited, _errors = self.api_counters()
        return {
            "pages": self.pages,
            "contacts": self.contacts,
            "api_calls": api_calls,
            "retries": retries,
            "rate_limited": rate_limited,
            "errors": self.errors,
            "rejected": self.rejected,
            "expected_total": self.expected_total,
        }

    def _checkpoint_shown(self) -> dict[str, Any]:
        """The checkpoint as stored: with the tasks running alongside its phase, for faces
        that follow the run from its row (resuming ignores them)."""
        names = self.running_alongside()
        return {**self.checkpoint, "alongside": names} if names else self.checkpoint

    def running_alongside(self) -> list[str]:
        return list(self.alongside()) if self.alongside is not None else []

    # -- progress ---------------------------------------------------------------------------
    def snapshot(self, status: str = RunStatus.RUNNING, message: str = "") -> SyncProgress:
        limit = self.client.rate_limit
        return SyncProgress(
            run_id=self.run_id,
            mode=self.mode,
            status=status,
            phase=str(self.checkpoint.get("phase", "")),
            alongside=tuple(self.running_alongside()),
            started_at=self.started_at,
            **self.counters(),
            elapsed_seconds=self.elapsed,
            rate_limit_remaining=limit.remaining,
            rate_limit_max=limit.max,
            message=message,
            daily_limit=limit.daily,
            daily_remaining=limit.daily_remaining,
        )

    def publish(self, status: str = RunStatus.RUNNING, message: str = "") -> None:
        if self.on_progress is None:
            return
        try:
            self.on_progress(self.snapshot(status, message))
        except Exception:  # a broken listener must never break a sync
            log.exception("progress listener failed")

    def with_phase(self, phase: str, **values: Any) -> dict[str, Any]:
        """The current checkpoint moved to `phase` (dropping the previous phase's cursor)."""
        keep = {
            k: self.checkpoint[k]
            for k in ("generation", "mark", "window", "settled")
            if k in self.checkpoint
        }
        return {**keep, "phase": phase, **values}


def replace_options(options: SyncOptions, **changes: Any) -> SyncOptions:
    return replace(options, **changes)
