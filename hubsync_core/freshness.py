"""Keeping data fresh in a long-lived process: the sync schedule, the event applier and the
journal poller, hosted by one `FreshnessWorker` (the dashboard, the API server and
`hubsync sync --every` each start one).

Two threads: the scheduler's (a scheduled sync can take minutes; a tick that falls meanwhile
is skipped) and the live one (journal poll + inbox drain every second or so, so a webhook's
change is stored within seconds). Both only call `step` functions that tests call directly
with an injected clock.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hubsync_core.clock import naive_utc
from hubsync_core.hubspot.errors import DailyLimitError, HubSpotError
from hubsync_core.run_status import RunStatus
from hubsync_core.scheduler import (
    PAUSED,
    SKIPPED,
    JobOutcome,
    JobState,
    PeriodicJob,
    Scheduler,
)
from hubsync_core.store.inbox import InboxStats
from hubsync_core.store.lock import SyncAlreadyRunning
from hubsync_core.sync.model import SyncOptions, SyncStats

if TYPE_CHECKING:
    from hubsync_core.jobs import SyncJobs

log = logging.getLogger("hubsync.freshness")

#: The sync schedule's job name.
SYNC_JOB = "sync"


def next_daily_reset(now: datetime, time_zone: str | None) -> datetime:
    """HubSpot's daily limit resets at midnight in the portal's time zone: the next one, as
    naive UTC (UTC midnight when the zone is unknown)."""
    try:
        zone = ZoneInfo(time_zone) if time_zone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    local = now.replace(tzinfo=UTC).astimezone(zone)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
    return naive_utc(midnight)


def sync_job(
    run_sync: Callable[[], SyncStats],
    reset_at: Callable[[], datetime],
    default_minutes: int | None,
) -> PeriodicJob:
    """The scheduled `auto` sync as a periodic job: a sync already running skips the tick;
    a DAILY 429 pauses the schedule until HubSpot's reset."""

    def run() -> JobOutcome:
        try:
            stats = run_sync()
        except SyncAlreadyRunning as exc:
            return JobOutcome(SKIPPED, f"Skipped: {exc}")
        if stats.status != RunStatus.SUCCEEDED and stats.hint == DailyLimitError.hint:
            until = reset_at()
            return JobOutcome(
                PAUSED,
                f"HubSpot's daily API limit is spent; scheduled syncs pause until "
                f"{until:%Y-%m-%d %H:%M} UTC (the portal's midnight).",
                paused_until=until,
            )
        text = f"{stats.mode} sync {stats.status}: {stats.total_synced} contacts"
        if stats.message:
            text += f" ({stats.message})"
        return JobOutcome(stats.status, text)

    return PeriodicJob(SYNC_JOB, run, default_minutes)


def sync_through(jobs: SyncJobs, owner: str = "schedule") -> Callable[[], SyncStats]:
    """Scheduled syncs run by a process's own `SyncJobs` (the dashboard's, the API's), so
    its pages and routes see them as their own running sync (progress, cancel)."""

    def run() -> SyncStats:
        started = jobs.start_run(SyncOptions(mode="auto", owner=owner))  # raises if busy
        if started.result is not None:
            return started.result
        if started.run_id is None:
            return SyncStats(
                status=RunStatus.FAILED, message=started.error or "the sync did not start"
            )
        jobs.wait()
        return jobs.result_of(started.run_id) or SyncStats(
            status=RunStatus.FAILED, message="the scheduled sync ended without a result"
        )

    return run


def describe_schedule(state: JobState, now: datetime) -> str:
    """One line: "every 15 min, next in 7 min (last: succeeded ...)" or "off"."""
    if not state.enabled:
        text = "off"
    else:
        text = f"every {state.every_minutes} min"
        if state.paused_until is not None and state.paused_until > now:
            text += f", paused until {state.paused_until:%Y-%m-%d %H:%M} UTC"
        elif state.next_run_at is not None:
            minutes = max(math.ceil((state.next_run_at - now).total_seconds() / 60), 0)
            text += f", next sync in {minutes} min" if minutes else ", next sync due now"
    if state.last_status:
        text += f" (last: {state.last_message or state.last_status})"
    return text


def live_updates_line(stats: InboxStats) -> str:
    """ "Live updates: N events in the last hour, last at ..." (for `stats` and `events`)."""
    last = stats.last_received_at
    text = f"Live updates: {stats.received_last_hour:,} events in the last hour"
    text += f", last at {last:%Y-%m-%d %H:%M:%S} UTC" if last else " (none received yet)"
    if stats.pending:
        text += f"; {stats.pending:,} waiting to be applied"
    return text


class FreshnessWorker:
    """Runs the scheduler and the live pipeline (journal + applier) in background threads.

    `live_step` is one pass of the live pipeline (poll the journal, apply pending events);
    it returns whether it did anything, so the thread loops again at once while busy.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        live_step: Callable[[], bool],
        *,
        tick_seconds: float = 5.0,
        live_seconds: float = 1.0,
        on_start: Callable[[], None] | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.on_start = on_start
        self.live_step = live_step
        self.tick_seconds = tick_seconds
        self.live_seconds = live_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def start(self) -> None:
        """Start both threads (daemon: they never keep a process alive). Idempotent."""
        if self.running:
            return
        if self.on_start is not None:
            self.on_start()
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._schedule_loop, name="hubsync-schedule", daemon=True),
            threading.Thread(target=self._live_loop, name="hubsync-live", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask both threads to stop and wait for them (a running sync finishes its page)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _schedule_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.scheduler.tick()
            except Exception:  # the database may be briefly unavailable; try next tick
                log.exception("schedule tick failed")
            self._stop.wait(self.tick_seconds)

    def _live_loop(self) -> None:
        while not self._stop.is_set():
            busy = False
            try:
                busy = self.live_step()
            except HubSpotError as exc:
                log.warning("applying change events failed, retrying: %s", exc.message)
            except Exception:
                log.exception("live update step failed")
            if not busy:
                self._stop.wait(self.live_seconds)
