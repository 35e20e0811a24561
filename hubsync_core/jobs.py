"""Background syncs for long-lived processes (the dashboard): one worker thread per database.

The worker belongs to the process, not to a page render, so a sync keeps going across
reruns, page switches, closed tabs and reloads. Pages poll `status()`; the engine never
calls into the UI. Single flight across processes is the database lock's job; this class
only avoids starting a second thread in the same process.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from hubsync_core.bulk.runner import BulkProgress
from hubsync_core.clock import utcnow
from hubsync_core.run_status import RunStatus
from hubsync_core.service import HubSyncService
from hubsync_core.store import lock, runs
from hubsync_core.store.database import Database
from hubsync_core.store.lock import SyncAlreadyRunning
from hubsync_core.store.models import SyncRun
from hubsync_core.sync.engine import PORTAL_ID
from hubsync_core.sync.model import SyncOptions, SyncProgress, SyncStats

log = logging.getLogger("hubsync.jobs")


@dataclass(frozen=True)
class JobStatus:
    """What a page needs to draw the sync state."""

    #: A sync is running somewhere on this database (this process or another).
    running: bool
    #: Live numbers of the running (or last) sync, None before any.
    progress: SyncProgress | None
    #: The run that is running or just finished.
    run: SyncRun | None
    #: Whether this process runs the sync (and so can cancel it).
    local: bool
    #: The result of this process's last sync, once finished.
    result: SyncStats | None
    #: Why the last start was refused or crashed, if it was.
    error: str | None


def running_message(run: SyncRun | None) -> str:
    """The "A sync is already running (started … by …)" line for the running run."""
    if run is None:
        return "A sync is already running in this app."
    return str(SyncAlreadyRunning(run.owner, run.started_at, run.id))


@dataclass(frozen=True)
class BulkJobStatus:
    """What a page needs to draw a bulk operation's state."""

    #: This process runs a bulk job right now (and so can cancel it).
    running: bool
    #: Live numbers of the running (or last) bulk job of this process, None before any.
    progress: BulkProgress | None
    #: Why the last bulk job could not start or crashed, if it did.
    error: str | None


@dataclass(frozen=True)
class SyncStart:
    """What `SyncJobs.start_run` saw: the run's id once it exists, or how the sync ended."""

    #: The run started (None if the sync ended before creating one).
    run_id: int | None
    #: The result, when the sync already ended (e.g. refused before its run was created).
    result: SyncStats | None
    #: Why the worker crashed, if it did.
    error: str | None


class SyncJobs:
    """Starts, cancels and reports background syncs and bulk operations for one service (one
    database): one worker thread at a time, and the database lock across processes."""

    def __init__(self, service: HubSyncService) -> None:
        self.service = service
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._progress: SyncProgress | None = None
        self._result: SyncStats | None = None
        self._error: str | None = None
        self._bulk_progress: BulkProgress | None = None
        self._bulk_error: str | None = None
        #: Set once the current sync's run exists (first progress) or the worker ended.
        self._settled = threading.Event()
        self._refused: SyncAlreadyRunning | None = None

    @property
    def db(self) -> Database:
        return self.service.db

    def portal_id(self) -> str | None:
        """The connected portal's id, as the last sync recorded it."""
        return runs.get_state(self.db, PORTAL_ID)

    def start(self, options: SyncOptions) -> str | None:
        """Start a sync in the background. Returns None, or why it could not start."""
        with self._guard:
            if self._busy():
                return self._busy_message()
            self._cancel = threading.Event()
            self._settled = threading.Event()
            self._progress, self._result, self._error = None, None, None
            self._refused = None
            self._thread = threading.Thread(
                target=self._work, args=(options, self._cancel), name="hubsync-sync", daemon=True
            )
            self._thread.start()
            return None

    def start_bulk(self, operation_id: int) -> str | None:
        """Run (or resume) a saved bulk operation in the background. Returns None, or why it
        could not start (a sync or another bulk job holds the database)."""
        with self._guard:
            if self._busy():
                return self._busy_message()
            self._cancel = threading.Event()
            self._bulk_progress = self.service.bulk_progress(operation_id)
            self._bulk_error = None
            self._thread = threading.Thread(
                target=self._work_bulk,
                args=(operation_id, self._cancel),
                name="hubsync-bulk",
                daemon=True,
            )
            self._thread.start()
            return None

    def bulk_status(self) -> BulkJobStatus:
        """This process's bulk job: running or not, its live progress, its error."""
        with self._guard:
            running = (
                self._thread is not None
                and self._thread.is_alive()
                and self._thread.name == "hubsync-bulk"
            )
            return BulkJobStatus(running, self._bulk_progress, self._bulk_error)

    def start_run(self, options: SyncOptions, timeout: float = 30.0) -> SyncStart:
        """Start a background sync and return once its run exists (so callers get its id).

        Raises `SyncAlreadyRunning` (naming the holder and its run) when a sync runs on this
        database, in this process or any other. If the sync ends before its run is created
        (e.g. an incremental sync with no full sync yet), its result is returned instead.
        """
        with self._guard:
            local = self._thread is not None and self._thread.is_alive()
            settled = self._settled
        if local:
            settled.wait(timeout)  # a sync starting here: wait until the lock names its run
            raise self._holder_error(options)
        refusal = self.start(options)
        if refusal is not None:
            raise self._holder_error(options)
        with self._guard:
            thread, settled = self._thread, self._settled
        settled.wait(timeout)
        with self._guard:
            if self._thread is not thread:  # pragma: no cover - another start replaced it
                raise self._holder_error(options)
            if self._refused is not None:
                raise self._refused
            if self._error is not None:
                return SyncStart(run_id=None, result=None, error=self._error)
            if self._progress is not None:
                return SyncStart(run_id=self._progress.run_id, result=None, error=None)
            result = self._result
        if result is not None:
            return SyncStart(run_id=result.run_id, result=result, error=None)
        return SyncStart(run_id=None, result=None, error="The sync did not start in time.")

    def result_of(self, run_id: int) -> SyncStats | None:
        """The `SyncStats` of a finished run: this process's own result, or the stored run's."""
        with self._guard:
            result = self._result
        if result is not None and result.run_id == run_id:
            return result
        run = runs.get_run(self.db, run_id)
        if run is None or run.status == RunStatus.RUNNING:
            return None
        return SyncStats.from_run(run)

    def progress_of(self, run_id: int) -> SyncProgress | None:
        """Live progress of a run: this process's snapshot while it runs here, else the
        run row's counters (a run in another process, or a finished one)."""
        status = self.status()  # also marks a dead process's run interrupted
        if status.progress is not None and status.progress.run_id == run_id:
            return status.progress
        run = status.run if status.run is not None and status.run.id == run_id else None
        run = run or runs.get_run(self.db, run_id)
        return SyncProgress.from_run(run, utcnow()) if run is not None else None

    def running_elsewhere(self) -> SyncAlreadyRunning | None:
        """The sync running on this database now (any process), as the refusal to start
        another would name it; None when none runs."""
        holder = lock.live_holder(self.db)
        if holder is not None:
            return SyncAlreadyRunning.from_holder(holder)
        with self._guard:
            local = self._thread is not None and self._thread.is_alive()
        return self._holder_error(SyncOptions(owner=self.service._owner)) if local else None

    def _holder_error(self, options: SyncOptions) -> SyncAlreadyRunning:
        holder = lock.live_holder(self.db)
        if holder is not None:
            return SyncAlreadyRunning.from_holder(holder)
        progress = self._progress
        return SyncAlreadyRunning(
            lock.make_owner(options.owner),
            progress.started_at if progress else utcnow(),
            progress.run_id if progress else None,
        )

    def cancel(self) -> bool:
        """Ask this process's running sync (or bulk job) to stop after the current page
        (or batch)."""
        with self._guard:
            if self._thread is not None and self._thread.is_alive():
                self._cancel.set()
                return True
            return False

    def wait(self, timeout: float | None = None) -> bool:
        """Block until this process's sync ends (for tests and scripts). True if it ended."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def status(self) -> JobStatus:
        """The sync state as seen from the database, enriched with this process's live data."""
        with self._guard:
            thread = self._thread
            # A bulk job in this process is not a sync (see `bulk_status`).
            local = thread is not None and thread.is_alive() and thread.name == "hubsync-sync"
            progress, result, error = self._progress, self._result, self._error
        current = runs.running_run(self.db)
        if current is not None and not local and lock.live_holder(self.db) is None:
            # Its worker died (killed process): mark it interrupted rather than show it alive.
            # Checked by reading first, so polling pages never queue for the write lock.
            lock.mark_interrupted_runs(self.db)
            current = runs.running_run(self.db)
        if current is not None and (not local or progress is None or progress.run_id != current.id):
            progress = SyncProgress.from_run(current, utcnow())
        shown = current or (
            runs.get_run(self.db, result.run_id) if result and result.run_id else None
        )
        return JobStatus(
            running=current is not None or local,
            progress=progress,
            run=shown,
            local=local,
            result=result,
            error=error,
        )

    def _busy(self) -> bool:
        """A job runs here, or a sync or bulk job holds the database lock (any process)."""
        local = self._thread is not None and self._thread.is_alive()
        return local or lock.live_holder(self.db) is not None

    def _busy_message(self) -> str:
        holder = lock.live_holder(self.db)
        if holder is None:
            return "A sync or bulk operation is already running in this app."
        return str(SyncAlreadyRunning.from_holder(holder))

    def _on_progress(self, progress: SyncProgress) -> None:
        self._progress = progress
        self._settled.set()

    def _on_bulk_progress(self, progress: BulkProgress) -> None:
        self._bulk_progress = progress

    def _work_bulk(self, operation_id: int, cancel: threading.Event) -> None:
        try:
            self.service.run_bulk(operation_id, on_progress=self._on_bulk_progress, cancel=cancel)
        except SyncAlreadyRunning as exc:
            self._bulk_error = str(exc)
        except Exception as exc:  # surfaced on the page instead of dying silently
            log.exception("background bulk operation crashed")
            self._bulk_error = (
                f"The bulk operation stopped unexpectedly: {type(exc).__name__}: {exc}"
            )
        finally:
            self._bulk_progress = self.service.bulk_progress(operation_id)

    def _work(self, options: SyncOptions, cancel: threading.Event) -> None:
        settled = self._settled
        try:
            self._result = self.service.sync(options, on_progress=self._on_progress, cancel=cancel)
        except SyncAlreadyRunning as exc:
            self._error = str(exc)
            self._refused = exc
        except Exception as exc:  # surfaced on the page instead of dying silently
            log.exception("background sync crashed")
            self._error = f"The sync stopped unexpectedly: {type(exc).__name__}: {exc}"
        finally:
            settled.set()
