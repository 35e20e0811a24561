"""The freshness part of the facade: the sync schedule, HubSpot's change events (webhooks
and the Webhooks Journal) applied between syncs, and the worker that hosts them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from hubsync_core.audit.nightly import AUDIT_JOB, describe_nightly, nightly_audit_job
from hubsync_core.clock import utcnow
from hubsync_core.connection import demo_sandbox, journal_client
from hubsync_core.freshness import (
    SYNC_JOB,
    FreshnessWorker,
    describe_schedule,
    live_updates_line,
    next_daily_reset,
    sync_job,
)
from hubsync_core.hubspot.errors import HubSpotError
from hubsync_core.hubspot.journal import JournalClient
from hubsync_core.hubspot.models import ContactRecord
from hubsync_core.scheduler import MIN_MINUTES, JobState, Scheduler, parse_period
from hubsync_core.store import inbox, schedule_store
from hubsync_core.sync.applier import ApplyResult, EventApplier
from hubsync_core.sync.engine import properties_to_sync
from hubsync_core.sync.model import SyncOptions, SyncStats
from hubsync_core.webhooks.journal import JournalPoll, poll_journal
from hubsync_core.webhooks.receiver import WebhookReceiver

if TYPE_CHECKING:
    from hubsync_core.audit.model import AuditReport
    from hubsync_core.config import Settings
    from hubsync_core.hubspot.client import HubSpotClient
    from hubsync_core.store.database import Database


class FreshnessFacade:
    """Mixed into `HubSyncService`; relies on its `settings`, `db`, `client`, `sync`, and on
    `_lock`, `_journal` (the journal client, closed by `close()`) and `_properties_cache`."""

    settings: Settings
    db: Database
    client: HubSpotClient
    _lock: threading.Lock
    _journal: JournalClient | None
    _properties_cache: tuple[datetime, list[str]] | None

    if TYPE_CHECKING:

        def sync(self, options: SyncOptions) -> SyncStats: ...

        def audit(self, *, repair: bool = False) -> AuditReport: ...

    def scheduler(
        self,
        run_sync: Callable[[], SyncStats] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> Scheduler:
        """The scheduler of this database's periodic jobs: the sync schedule, and the nightly
        audit when `HUBSYNC_AUDIT_NIGHTLY_AT` sets one.

        `run_sync` runs one scheduled sync (default: an `auto` sync owned by "schedule").
        """
        options = SyncOptions(mode="auto", owner="schedule")
        jobs = [
            sync_job(
                run_sync or (lambda: self.sync(options)),
                self._daily_reset,
                (self.settings.demo_schedule_minutes or None) if self.settings.demo else None,
            )
        ]
        if self.settings.audit_nightly_at:
            jobs.append(nightly_audit_job(self.audit, self.settings.audit_nightly_at))
        return Scheduler(self.db, jobs, clock)

    def nightly_audit(self) -> JobState | None:
        """The nightly audit's next run and last result (None when it is off)."""
        if not self.settings.audit_nightly_at:
            return None
        return self.scheduler().state(AUDIT_JOB)

    def nightly_audit_summary(self) -> str | None:
        """ "every night at 03:00 UTC, next ... (last: ...)", or None when it is off."""
        at = self.settings.audit_nightly_at
        if not at:
            return None
        return describe_nightly(self.scheduler().state(AUDIT_JOB), at)

    def schedule(self) -> JobState:
        """The sync schedule: period (None = off), next run, last result, pause."""
        return self.scheduler().state(SYNC_JOB)

    def set_schedule(self, every_minutes: int | None) -> JobState:
        """Sync every `every_minutes` (at least 5), or never with None; lifts a pause."""
        if every_minutes is not None and every_minutes < MIN_MINUTES:
            raise ValueError(f"the schedule must be at least {MIN_MINUTES} minutes")
        schedule_store.set_every(self.db, SYNC_JOB, every_minutes, utcnow())
        return self.schedule()

    def set_schedule_period(self, period: str) -> JobState:
        """`set_schedule` from a period as people write it: "15m", "1h" or "off"."""
        return self.set_schedule(parse_period(period))

    def schedule_summary(self) -> str:
        """ "every 15 min, next sync in 7 min (last: ...)" or "off", for the faces."""
        return describe_schedule(self.schedule(), utcnow())

    def live_updates_summary(self) -> str:
        """ "Live updates: N events in the last hour, last at ...", for the faces."""
        return live_updates_line(self.freshness_stats())

    def webhook_receiver(self) -> WebhookReceiver:
        """Verifies HubSpot webhook deliveries and stores their events in the inbox."""
        return WebhookReceiver(
            self.db, self.settings.client_secret, self.settings.webhook_public_url
        )

    def event_applier(self) -> EventApplier:
        """Applies stored change events (batch reads through this service's client)."""
        return EventApplier(self.settings, self.db, self._batch_read, self._stored_properties)

    def apply_events(self) -> ApplyResult:
        """Apply every pending change event now; returns what was done."""
        return self.event_applier().drain()

    def poll_journal(self) -> JournalPoll | None:
        """Read new Webhooks Journal entries into the inbox (None: no journal configured)."""
        journal = self._journal_client()
        return poll_journal(self.db, journal) if journal is not None else None

    def freshness_stats(self) -> inbox.InboxStats:
        """Change events: pending, received and applied in the last hour, latest times."""
        return inbox.stats(self.db)

    def freshness_worker(self, run_sync: Callable[[], SyncStats] | None = None) -> FreshnessWorker:
        """A worker hosting the schedule, the journal poller and the applier (not started)."""
        applier = self.event_applier()
        # The demo portal's journal is local: read it often so its live activity shows.
        every = min(self.settings.journal_poll_seconds, 5) if self.settings.demo else None
        interval = float(every or self.settings.journal_poll_seconds)
        last_poll = [float("-inf")]

        def live_step() -> bool:
            polled = None
            if time.monotonic() - last_poll[0] >= interval:
                last_poll[0] = time.monotonic()
                polled = self.poll_journal()
            applied = applier.apply_once() if applier.due() else ApplyResult()
            return bool(applied.events) or bool(polled and polled.entries)

        def on_start() -> None:
            # The demo portal makes a few edits a minute, so live updates can be watched.
            if self.settings.demo and self.settings.demo_live_activity:
                demo_sandbox(self.settings).freshness.set_activity(self.settings.demo_live_activity)

        return FreshnessWorker(self.scheduler(run_sync), live_step, on_start=on_start)

    def _batch_read(self, ids: Sequence[str], properties: Sequence[str]) -> list[ContactRecord]:
        return self.client.batch_read_contacts(ids, properties)

    def _stored_properties(self) -> list[str]:
        # Cached: with HUBSYNC_PROPERTIES=all the list costs an API call to build.
        now = utcnow()
        cached = self._properties_cache
        if cached is None or now - cached[0] > timedelta(minutes=10):
            cached = (now, properties_to_sync(self.settings, self.client))
            self._properties_cache = cached
        return cached[1]

    def _daily_reset(self) -> datetime:
        try:
            zone = self.client.account_details().time_zone
        except HubSpotError:
            zone = None
        return next_daily_reset(utcnow(), zone)

    def _journal_client(self) -> JournalClient | None:
        with self._lock:
            if self._journal is None:
                self._journal = journal_client(self.settings)
            return self._journal
