"""One sync run from start to finish: single flight, planning, phases, outcome.

A run is a sequence of phases (full: contacts → archived → vanished → lists → segments).
The checkpoint names the phase and its cursor, and is committed with every page, so a run
that ends early for any reason (error, cancel, kill) is resumed by the next one where it
stopped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import datetime
from typing import Any

from hubsync_core.clock import utcnow
from hubsync_core.config import Settings
from hubsync_core.hubspot import errors as hs_errors
from hubsync_core.hubspot import search_filters as sf
from hubsync_core.hubspot.client import HubSpotClient
from hubsync_core.run_status import RunStatus
from hubsync_core.store import bulk_load, lock, runs, segment_store, upkeep
from hubsync_core.store import contacts as contact_store
from hubsync_core.store.database import Database
from hubsync_core.sync import budget, chainge, deletions, full, incremental, lists, parallel, tasks
from hubsync_core.sync.context import Cancelled, RunContext
from hubsync_core.sync.model import SyncOptions, SyncProgress, SyncStats
from hubsync_core.sync.options import refresh_options
from hubsync_core.sync.records import CORE_PROPERTIES

log = logging.getLogger("hubsync.sync")

HIGH_WATER_MARK = "high_water_mark"
GENERATION = "generation"
#: The portal's id (for "open in HubSpot" links), recorded by the first sync.
PORTAL_ID = "portal_id"
HEARTBEAT_SECONDS = 5.0

PHASES: dict[str, tuple[str, ...]] = {
    "full": ("contacts", "archived", "vanished", "lists", "segments"),
    "incremental": ("changes", "archived", "sweep", "lists", "segments"),
    "chainge": ("chainge", "segments"),
}


class IncrementalNotReady(Exception):
    """Incremental sync was asked for before any full sync completed."""


def properties_to_sync(settings: Settings, client: HubSpotClient) -> list[str]:
    """The core properties plus the configured extras (or every property, with `all`)."""
    names = list(CORE_PROPERTIES)
    if settings.all_properties:
        names += [definition.name for definition in client.get_properties()]
    names += list(settings.properties)
    return list(dict.fromkeys(names))


def run_sync(
    settings: Settings,
    db: Database,
    client: HubSpotClient,
    options: SyncOptions | None = None,
    *,
    on_progress: Callable[[SyncProgress], None] | None = None,
    cancel: threading.Event | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> SyncStats:
    """Run one sync under the database's single-flight lock and return its statistics.

    Raises `store.lock.SyncAlreadyRunning` when another sync holds the lock. HubSpot and
    network failures do not raise: they end the run `failed` or `partial`, described in
    the returned `SyncStats` (call `raise_for_status()` to turn them into an exception).
    """
    options = options or SyncOptions()
    owner = lock.make_owner(options.owner)
    lock.acquire(db, owner, None)
    try:
        return _run_locked(settings, db, client, options, owner, on_progress, cancel, clock)
    finally:
        lock.release(db, owner)


def _plan(
    settings: Settings, db: Database, options: SyncOptions, now: datetime
) -> tuple[str, dict[str, Any], int | None]:
    """(mode, checkpoint, resumed run id) for this run."""
    if options.chainge_only:
        return "chainge", {"phase": "chainge"}, None
    modes = ("full", "incremental") if options.mode == "auto" else (options.mode,)
    for mode in modes:
        previous = runs.resumable_run(db, mode)
        if previous is not None:
            log.info("Resuming %s sync run %s from its checkpoint", mode, previous.id)
            checkpoint = dict(previous.checkpoint)
            checkpoint.pop("alongside", None)  # what ran then, shown to faces; not a cursor
            return mode, checkpoint, previous.id
    mark = runs.get_state(db, HIGH_WATER_MARK)
    mode = options.mode
    if mode == "auto":
        mode = "incremental" if mark else "full"
    if mode == "incremental":
        if not mark:
            raise IncrementalNotReady(
                "Incremental sync needs a completed full sync first: run a full sync."
            )
        window = incremental.plan_window(settings, datetime.fromisoformat(mark), now)
        return mode, {"phase": "changes", "window": window, "last_id": "0"}, None
    generation = _next_generation(db)
    # The mark is when the scan *started*: edits made while it runs are re-read next time.
    return "full", {"phase": "contacts", "generation": generation, "mark": now.isoformat()}, None


def _run_locked(
    settings: Settings,
    db: Database,
    client: HubSpotClient,
    options: SyncOptions,
    owner: str,
    on_progress: Callable[[SyncProgress], None] | None,
    cancel: threading.Event | None,
    clock: Callable[[], datetime],
) -> SyncStats:
    started = clock()
    try:
        mode, checkpoint, resumed_from = _plan(settings, db, options, started)
    except IncrementalNotReady as exc:
        return SyncStats(
            mode="incremental", status=RunStatus.FAILED, message=str(exc), timestamp=started
        )
    ctx = RunContext.begin(
        settings,
        db,
        client,
        mode=mode,
        owner=owner,
        options=options,
        recorded=_options_dict(options),
        checkpoint=checkpoint,
        started_at=started,
        resumed_from=resumed_from,
        on_progress=on_progress,
        cancel=cancel,
        clock=clock,
    )
    run_id = ctx.run_id
    log.info("Starting %s HubSpot contact sync (run %d)...", mode, run_id)
    ctx.publish()  # faces learn the run id at once, not after the first page
    status, message, hint, correlation_id = RunStatus.SUCCEEDED, "", "", None
    by_segment: dict[str, int] = {}
    heartbeat = _Heartbeat(db, owner, run_id, ctx)
    background = tasks.Tasks()
    ctx.alongside = background.running
    with heartbeat:
        try:
            with tasks.alongside(background, ctx):
                # Inside the run, so their API calls count and their errors are reported.
                _prepare(ctx)
                budget.check_before_start(ctx)
                # A load that was killed left its indexes deferred: build them first.
                bulk_load.restore_pending_indexes(db)
                complete = _run_phases(ctx, background)
            by_segment = ctx.checkpoint.get("by_segment", {})
            if complete:
                _advance_mark(ctx)
                if ctx.mode == "full":
                    _vacuum_quietly(ctx)
                if ctx.mode == "incremental" and settings.audit_after_sync:
                    # Imported here: the audit's repair builds on this module.
                    from hubsync_core.audit.runner import audit_after_sync

                    audit_after_sync(ctx)
        except Cancelled:
            status = RunStatus.CANCELLED
            message = (
                f"Cancelled after {ctx.pages} pages; the next sync resumes where this one stopped."
            )
        except (
            hs_errors.AuthenticationError,
            hs_errors.MissingScopesError,
            hs_errors.DailyLimitError,
            hs_errors.ApiVersionError,
            budget.BudgetRefused,
        ) as exc:
            status, message, hint, correlation_id = (
                RunStatus.FAILED,
                exc.message,
                exc.hint,
                exc.correlation_id,
            )
        except hs_errors.HubSpotError as exc:
            # Retries exhausted (or a request HubSpot refused): keep what was stored.
            status = RunStatus.PARTIAL
            message, hint, correlation_id = exc.message, exc.hint, exc.correlation_id
            hint = hint or "Sync again to resume from the last stored page."
        except Exception as exc:
            status, message = RunStatus.FAILED, f"Unexpected error: {type(exc).__name__}: {exc}"
            log.exception("sync run %d failed", run_id)
        if status != RunStatus.SUCCEEDED:
            ctx.errors += 1
            by_segment = _recompute_quietly(ctx)
            log.error("Sync %s: %s", status, message)
    duration = ctx.elapsed
    api_calls, retries, rate_limited, _ = ctx.api_counters()
    with db.transaction() as conn:
        ctx._save(conn)
    budget.remember_budget(db, client, clock())
    runs.finish_run(
        db,
        run_id,
        status,
        error_message=message or None,
        error_hint=hint or None,
        correlation_id=correlation_id,
        by_segment=by_segment,
        duration_seconds=duration,
    )
    if status == RunStatus.SUCCEEDED:
        log.info(
            "Sync complete! Synced %d contacts in %.1fs across %d pages",
            ctx.contacts,
            duration,
            ctx.pages,
        )
    ctx.publish(status, message)
    return SyncStats(
        total_synced=ctx.contacts,
        total_pages=ctx.pages,
        by_segment=by_segment,
        errors=ctx.errors,
        duration_seconds=duration,
        timestamp=started,
        run_id=run_id,
        mode=mode,
        status=status,
        api_calls=api_calls,
        retries=retries,
        rate_limited=rate_limited,
        rejected=ctx.rejected,
        archived=ctx.archived,
        message=message,
        hint=hint,
        correlation_id=correlation_id,
        warnings=list(ctx.warnings),
        daily_limit=client.rate_limit.daily,
        daily_remaining=client.rate_limit.daily_remaining,
    )


def _prepare(ctx: RunContext) -> None:
    """The calls every run makes before its first phase, made at once (none depends on
    another): the portal's id (first run only), the property names (with `all`), and for a
    full sync's contacts phase the expected total (which also gives the highest id)."""
    calls: dict[str, Callable[[], Any]] = {
        "portal": lambda: _remember_portal(ctx.db, ctx.client),
        "properties": lambda: properties_to_sync(ctx.settings, ctx.client),
    }
    if ctx.checkpoint.get("phase") == "contacts":
        calls["total"] = lambda: _expected_total(ctx)
    with ThreadPoolExecutor(len(calls), thread_name_prefix="hubsync-prepare") as pool:
        futures = {name: pool.submit(call) for name, call in calls.items()}
    # Each call's own error, in a fixed order (the same failure whatever finished first).
    ctx.properties = futures["properties"].result()
    futures["portal"].result()
    if "total" in futures:
        ctx.expected_total, ctx.highest_id = futures["total"].result()


def _start_alongside(ctx: RunContext, background: tasks.Tasks) -> None:
    """Start what the first phase does not need and the later phases do: option labels,
    and (unless this is a trial run, which reads lists only as far as its cap allows) the
    lists and their members, stored as they arrive."""
    background.start("options", ctx, refresh_options)
    if ctx.trial_cap() is None and ctx.mode in ("full", "incremental"):
        background.start("lists", ctx, lists.sync_lists)


def _run_phases(ctx: RunContext, background: tasks.Tasks | None = None) -> bool:
    """Run the mode's phases from the checkpoint's; True when the whole scope was synced."""
    background = background or tasks.Tasks()
    archived = deletions.ArchivedReader()
    phases = PHASES[ctx.mode]
    current = ctx.checkpoint.get("phase", phases[0])
    complete = bool(ctx.checkpoint.get("complete", True))
    if current == phases[0]:
        _start_alongside(ctx, background)
    else:  # a run resumed past its first phase: nothing left to overlap with
        refresh_options(ctx)
    for phase in phases[phases.index(current) :]:
        if phase != current:
            ctx.save_checkpoint(ctx.with_phase(phase, complete=complete))
            current = phase
        if phase == "contacts":
            # expected_total was read before the run started (it feeds the budget check).
            # Large backfills fetch disjoint id ranges in parallel (see sync/parallel.py).
            scan = parallel.scan_contacts if parallel.should_run(ctx) else full.scan_contacts
            # Into an empty table, the explorer's indexes are built once at the end.
            with bulk_load.initial_load(ctx.db):
                complete = scan(ctx)
                if complete and ctx.mode == "full":
                    # Every live contact is read: the archived listing may start, alongside
                    # the index build that closes an initial load.
                    archived = deletions.ArchivedReader()
                    background.start("archived", ctx, archived.read)
            if not complete:
                log.info("Stopped at max_contacts=%s", ctx.options.max_contacts)
        elif phase == "changes":
            complete = incremental.sync_window(ctx)
        elif phase == "chainge":
            chainge.sync_chainge(ctx)
            complete = False
        elif phase == "archived" and complete:
            if ctx.mode == "incremental" and deletions.nothing_left(ctx):
                # Neither the archived pass nor the sweep has anything to find.
                ctx.save_checkpoint({**ctx.checkpoint, "settled": True})
            else:
                task = background.take("archived")
                deletions.archived_pass(ctx, None if task is None else (task, archived))
        elif phase == "vanished" and complete:
            deletions.mark_vanished(ctx)
        elif phase == "sweep" and complete and ctx.options.sweep:
            if ctx.checkpoint.get("settled"):
                continue
            if "generation" not in ctx.checkpoint:
                if deletions.nothing_left(ctx):  # the archived pass explained the difference
                    continue
                # Allocated once and kept in the checkpoint, so a sweep resumed half-way
                # stamps the remaining ids with the same generation.
                ctx.save_checkpoint({**ctx.checkpoint, "generation": _next_generation(ctx.db)})
            deletions.id_sweep(ctx)
        elif phase == "lists":
            # Read alongside the first phase; its own failure is reported here, as if this
            # phase had made the calls.
            task = background.take("lists")
            if task is not None:
                task.join(ctx)
            elif complete:
                lists.sync_lists(ctx)
        elif phase == "segments":
            if (task := background.take("options")) is not None:
                task.join(ctx)
            log.info("Applying segments to contacts...")
            counts = _recompute(ctx)
            log.info("Segment distribution: %s", counts)
            ctx.checkpoint["by_segment"] = counts
    return complete


def _next_generation(db: Database) -> int:
    """A new id-sweep generation (every contact seen from now on is stamped with it)."""
    with db.transaction() as conn:
        generation = int(runs.get_state(conn, GENERATION) or 0) + 1
        runs.set_state(conn, GENERATION, str(generation))
    return generation


def _recompute(ctx: RunContext) -> dict[str, int]:
    definitions = segment_store.list_definitions(ctx.db, ctx.settings)
    with ctx.db.transaction() as conn:
        return segment_store.recompute(conn, definitions, ctx.clock(), prune=True)


def _vacuum_quietly(ctx: RunContext) -> None:
    """After a full sync rewrote every contact: PostgreSQL's upkeep (store/upkeep.py). The
    copy is complete either way, so a failure is a warning, never the run's."""
    try:
        upkeep.vacuum_explorer_tables(ctx.db)
    except Exception:
        log.warning("could not vacuum the tables after the full sync", exc_info=True)


def _recompute_quietly(ctx: RunContext) -> dict[str, int]:
    """After a failed run, keep segments true to what was stored (if the database allows)."""
    try:
        return _recompute(ctx)
    except Exception:
        log.warning("segments could not be recomputed after the failed run", exc_info=True)
        return {}


def _advance_mark(ctx: RunContext) -> None:
    """Move the high-water mark once the run's whole scope is stored."""
    if ctx.mode == "full":
        mark = ctx.checkpoint["mark"]
    elif ctx.mode == "incremental":
        mark = incremental.from_epoch_ms(ctx.checkpoint["window"]["end"]).isoformat()
    else:
        return
    with ctx.db.transaction() as conn:
        runs.set_state(conn, HIGH_WATER_MARK, mark)


def _expected_total(ctx: RunContext) -> tuple[int | None, int | None]:
    """How many contacts this run should store: a search with limit=1 gives the total.

    Sorted by id, newest first, so the one record is the highest id: the parallel backfill's
    plan needs it, and gets it without a search of its own (`RunContext.highest_id`).
    Returns (expected total, highest id), either None when the search failed.
    """
    try:
        page = ctx.client.search_contacts(
            [], ["hs_object_id"], sorts=sf.by_id("DESCENDING"), limit=1
        )
    except (hs_errors.BadRequestError, hs_errors.TransientError, hs_errors.RateLimitedError):
        return None, None  # the total only feeds the ETA; the sync itself does not need it
    highest = next((int(r.id) for r in page.contacts if r.id.isdigit()), None)
    total = page.total
    if ctx.options.max_contacts is not None:
        total = min(total, ctx.options.max_contacts)
    already = contact_store.count_seen(ctx.db, ctx.checkpoint.get("generation"))
    return max(total - already, 0), highest


def _remember_portal(db: Database, client: HubSpotClient) -> None:
    """Record the portal id once (one cheap call); a failure here never stops the sync."""
    if runs.get_state(db, PORTAL_ID):
        return
    try:
        details = client.account_details()
    except hs_errors.HubSpotError:
        return
    with db.transaction() as conn:
        runs.set_state(conn, PORTAL_ID, str(details.portal_id))


def _options_dict(options: SyncOptions) -> dict[str, Any]:
    return {k: v for k, v in asdict(options).items() if k != "owner"}


class _Heartbeat:
    """Keeps the lock and the run row fresh while a run waits on HubSpot (backoffs, latency).

    If the lock was taken over (this process looked dead to another one), the run is
    stopped through its cancel flag so two writers never overlap.
    """

    def __init__(self, db: Database, owner: str, run_id: int, ctx: RunContext) -> None:
        self._db, self._owner, self._run_id, self._ctx = db, owner, run_id, ctx
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="hubsync-heartbeat", daemon=True)

    def __enter__(self) -> None:
        self._thread.start()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                if not lock.heartbeat(self._db, self._owner):
                    self.lost = True
                    if self._ctx.cancel is None:
                        self._ctx.cancel = threading.Event()
                    self._ctx.cancel.set()
                    return
                runs.heartbeat(self._db, self._run_id)
            except Exception:
                log.warning("heartbeat failed", exc_info=True)
