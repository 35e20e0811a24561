"""The runs part of the facade: running a sync (or the audit), the sync history, and what
the latest outcome means for the faces (its stats, whether and how it can be resumed)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hubsync_core.audit.model import AuditReport
from hubsync_core.audit.repair import run_audit
from hubsync_core.run_status import RESUMABLE
from hubsync_core.store import audit as audit_store
from hubsync_core.store import runs
from hubsync_core.store.models import SyncRun
from hubsync_core.sync.engine import run_sync
from hubsync_core.sync.model import SyncMode, SyncOptions, SyncProgress, SyncStats

if TYPE_CHECKING:
    from hubsync_core.config import Settings
    from hubsync_core.hubspot.client import HubSpotClient
    from hubsync_core.store.database import Database


class RunsFacade:
    """Mixed into `HubSyncService`; relies on its `settings`, `db`, `client` and `_owner`
    (who runs record as their owner: "sdk", "cli", "dashboard", "api")."""

    settings: Settings
    db: Database
    client: HubSpotClient
    _owner: str

    def sync_all_contacts(
        self,
        batch_size: int = 100,
        max_contacts: int | None = None,
        *,
        mode: SyncMode = "auto",
        sweep: bool = False,
        on_progress: Callable[[SyncProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> SyncStats:
        """Sync ALL contacts (or the first `max_contacts`) and tag segments.

        `mode`: "full", "incremental" or "auto" (incremental once a full sync completed).
        Raises `SyncAlreadyRunning` if another sync holds this database; HubSpot failures
        are reported in the returned stats (`stats.raise_for_status()` raises them).
        """
        options = SyncOptions(
            mode=mode,
            batch_size=batch_size,
            max_contacts=max_contacts,
            sweep=sweep,
            owner=self._owner,
        )
        return self.sync(options, on_progress=on_progress, cancel=cancel)

    def sync_chainge_list(self) -> SyncStats:
        """Sync only the CHAINge contacts (the CHAINGE_LIST_ID list, or CHAINge companies)."""
        return self.sync(SyncOptions(chainge_only=True, owner=self._owner))

    def sync(
        self,
        options: SyncOptions,
        *,
        on_progress: Callable[[SyncProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> SyncStats:
        """Run one sync with explicit options (what the CLI and the dashboard call)."""
        return run_sync(
            self.settings, self.db, self.client, options, on_progress=on_progress, cancel=cancel
        )

    def audit(self, *, repair: bool = False) -> AuditReport:
        """Prove the copy equals HubSpot by counting, naming each missing, extra and stale
        contact; with `repair`, re-read and remove them (recorded as a `repair` run).

        Raises `SyncAlreadyRunning` while a sync runs and `AuditNotReady` before any full sync.
        """
        return run_audit(self.settings, self.db, self.client, repair=repair, owner=self._owner)

    def last_audit(self) -> dict[str, Any] | None:
        """The last audit's report (`AuditReport.as_dict()` as saved), or None."""
        return audit_store.last_report(self.db)

    def get_stats(self) -> SyncStats:
        """Statistics of the last finished sync (empty stats before the first one)."""
        run = runs.latest_run(self.db, finished=True)
        return SyncStats.from_run(run) if run else SyncStats(status="never", total_synced=0)

    def sync_runs(self, limit: int = 20, offset: int = 0) -> tuple[list[SyncRun], int]:
        """A page of the sync history, newest first, and how many runs there are."""
        return runs.history(self.db, limit, offset), runs.count_runs(self.db)

    def sync_run(self, run_id: int) -> SyncRun | None:
        """One sync run (its counters, status and checkpoint), or None."""
        return runs.get_run(self.db, run_id)

    def last_run(self) -> SyncRun | None:
        """The most recently started sync run, None before the first."""
        return runs.latest_run(self.db)

    def last_finished_run(self) -> SyncRun | None:
        """The newest run that is no longer running, or None before the first sync."""
        return runs.latest_run(self.db, finished=True)

    def latest_outcome(self, local_result: SyncStats | None = None) -> SyncStats | None:
        """The newest finished sync's result: `local_result` (this process's own, richer
        stats) when it is that run's (or a sync refused before it stored a run), else the
        stored run's; None before any sync."""
        run = runs.latest_run(self.db, finished=True)
        if local_result is not None:
            if run is not None and local_result.run_id == run.id:
                return local_result
            ended = local_result.timestamp
            if local_result.run_id is None and (run is None or run.started_at <= ended):
                return local_result
        return SyncStats.from_run(run) if run is not None else None

    def resume_options(self, stats: SyncStats) -> SyncOptions | None:
        """Options that resume the sync `stats` describes (the same mode again: the engine
        continues from its checkpoint), or None when there is nothing to resume."""
        if stats.run_id is None or stats.status not in RESUMABLE:
            return None
        if stats.mode == "chainge":
            return SyncOptions(chainge_only=True, owner=self._owner)
        mode: SyncMode = stats.mode if stats.mode in ("full", "incremental") else "auto"  # type: ignore[assignment]
        return SyncOptions(mode=mode, owner=self._owner)
