"""The Python SDK: the original spec's `HubSpotContactSyncService`, backed by a database.

    from hubsync_core import get_sync_service, ContactSegment

    service = get_sync_service()
    stats = service.sync_all_contacts()
    page = service.get_contacts(segment=ContactSegment.CHAINGE, limit=50)

Unlike the original (async, in memory), calls are synchronous and everything is stored,
so results survive restarts and are shared with the dashboard and the CLI.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hubsync_core import columns
from hubsync_core.audit.model import AuditReport
from hubsync_core.audit.repair import run_audit
from hubsync_core.bulk.facade import BulkFacade
from hubsync_core.clock import iso_z, utcnow
from hubsync_core.config import Settings
from hubsync_core.connection import demo_sandbox, journal_client, make_client
from hubsync_core.freshness import (
    SYNC_JOB,
    FreshnessWorker,
    describe_schedule,
    live_updates_line,
    next_daily_reset,
    sync_job,
)
from hubsync_core.hubspot.client import HubSpotClient
from hubsync_core.hubspot.endpoints import hubspot_record_url
from hubsync_core.hubspot.errors import HubSpotError
from hubsync_core.hubspot.journal import JournalClient
from hubsync_core.hubspot.models import ContactRecord
from hubsync_core.run_status import RESUMABLE
from hubsync_core.scheduler import MIN_MINUTES, JobState, Scheduler, parse_period
from hubsync_core.segments import CONTACT_FIELDS as RULE_COLUMNS
from hubsync_core.segments import (
    LIST_FIELD,
    PROPERTY_PREFIX,
    ContactSegment,
    Group,
    SegmentDef,
    dump_definitions,
    load_definitions,
    validate_definition,
)
from hubsync_core.store import audit as audit_store
from hubsync_core.store import contacts as contact_store
from hubsync_core.store import data_version as versions
from hubsync_core.store import (
    explorer,
    export,
    inbox,
    insights,
    property_options,
    runs,
    schedule_store,
    segment_store,
)
from hubsync_core.store import overview as overview_store
from hubsync_core.store.data_version import DataVersion
from hubsync_core.store.database import Database
from hubsync_core.store.explorer import (
    FACETS,
    ContactFilter,
    ContactPage,
    Exploration,
    FacetValue,
)
from hubsync_core.store.insights import EngagementPoint, RunPoint, SegmentShare, StageCount
from hubsync_core.store.models import SyncRun
from hubsync_core.store.overview import Overview
from hubsync_core.store.segment_store import ImportResult
from hubsync_core.sync.applier import ApplyResult, EventApplier
from hubsync_core.sync.engine import HIGH_WATER_MARK, PORTAL_ID, properties_to_sync, run_sync
from hubsync_core.sync.model import SyncMode, SyncOptions, SyncProgress, SyncStats
from hubsync_core.sync.records import CORE_PROPERTIES
from hubsync_core.webhooks.journal import JournalPoll, poll_journal
from hubsync_core.webhooks.receiver import WebhookReceiver

# Types the faces pass to and get from the facade, importable from here so that no face
# needs to import `hubsync_core.store` (tests/test_architecture.py keeps pages to that).
__all__ = [
    "FACETS",
    "ContactFilter",
    "ContactPage",
    "DataVersion",
    "EngagementPoint",
    "Exploration",
    "FacetValue",
    "HubSyncService",
    "ImportResult",
    "Overview",
    "RunPoint",
    "SegmentShare",
    "StageCount",
    "SyncRun",
    "get_sync_service",
]


SDK_FIELDS: tuple[str, ...] = (*columns.SDK, "properties")


def sdk_contacts(
    db: Database,
    segment: Any = None,
    limit: int = 100,
    offset: int = 0,
    search: str | None = None,
) -> dict[str, Any]:
    """The original spec's `get_contacts`: `{"contacts", "total", "limit", "offset", "segment"}`.

    Live contacts only, ordered by id (numerically) so pages stay put while syncs change
    `updated_at`. `segment` may be a name or an enum whose `.value` is one. Times are ISO
    strings with a Z.
    """
    name = getattr(segment, "value", segment)
    name = str(name) if name not in (None, "") else None
    flt = explorer.ContactFilter(segments=(name,) if name else (), search=search)
    return {**contacts_page(db, flt, limit=limit, offset=offset), "segment": name}


def contacts_page(
    db: Database,
    flt: ContactFilter | None = None,
    *,
    sort: str = "hubspot_id",
    descending: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """`{"contacts", "total", "limit", "offset"}` for any explorer filter and sort, each
    contact with the spec's fields (`SDK_FIELDS`), times as ISO strings with a Z."""
    explorer.check_paging(limit, offset)
    if sort not in columns.SORTABLE:
        raise ValueError(f"sort must be one of {', '.join(columns.SORTABLE)}, got {sort!r}")
    page = explorer.query_contacts(
        db,
        flt,
        sort=sort,
        descending=descending,
        limit=limit,
        offset=offset,
        columns=SDK_FIELDS,
    )
    return {
        "contacts": [_spec_contact(row) for row in page.rows],
        "total": page.total,
        "limit": limit,
        "offset": offset,
    }


def _spec_contact(row: Mapping[str, Any]) -> dict[str, Any]:
    """A contact row with its timestamps as ISO strings with a Z (the spec's format)."""
    return {key: iso_z(value) if key in _TIME_FIELDS else value for key, value in row.items()}


_TIME_FIELDS = frozenset({"created_at", "updated_at", "synced_at", "archived_at"})


class HubSyncService(BulkFacade):
    """Sync HubSpot contacts into a database and query them (and, through `BulkFacade`,
    change them in HubSpot with previewed, audited bulk operations).

    Settings are read from the environment and `.env` unless given. The database and the
    HubSpot client are opened on first use and shared by later calls; `close()` releases them.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        database: Database | None = None,
        client: HubSpotClient | None = None,
        owner: str = "sdk",
    ) -> None:
        self.settings = settings or Settings.load()
        self._db = database
        self._client = client
        self._owner = owner
        self._lock = threading.Lock()
        self._journal: JournalClient | None = None
        self._properties_cache: tuple[datetime, list[str]] | None = None

    # -- resources ----------------------------------------------------------------------------
    @property
    def db(self) -> Database:
        with self._lock:
            if self._db is None:
                self._db = Database(self.settings.database_url)
            return self._db

    @property
    def client(self) -> HubSpotClient:
        with self._lock:
            if self._client is None:
                self._client = make_client(self.settings)
            return self._client

    def close(self) -> None:
        """Release the HTTP session and the database connections."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            if self._journal is not None:
                self._journal.close()
                self._journal = None
            if self._db is not None:
                self._db.dispose()
                self._db = None

    def __enter__(self) -> HubSyncService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- syncing -----------------------------------------------------------------------------
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

    # -- audit -------------------------------------------------------------------------------
    def audit(self, *, repair: bool = False) -> AuditReport:
        """Prove the copy equals HubSpot by counting, naming each missing, extra and stale
        contact; with `repair`, re-read and remove them (recorded as a `repair` run).

        Raises `SyncAlreadyRunning` while a sync runs and `AuditNotReady` before any full sync.
        """
        return run_audit(self.settings, self.db, self.client, repair=repair, owner=self._owner)

    def last_audit(self) -> dict[str, Any] | None:
        """The last audit's report (`AuditReport.as_dict()` as saved), or None."""
        return audit_store.last_report(self.db)

    # -- segments ----------------------------------------------------------------------------
    def apply_segments(self, reference_time: datetime | None = None) -> dict[str, int]:
        """Recompute every segment's membership now; returns the count per segment."""
        definitions = segment_store.list_definitions(self.db, self.settings)
        with self.db.transaction() as conn:
            return segment_store.recompute(
                conn, definitions, reference_time or utcnow(), prune=True
            )

    def segments(self) -> list[SegmentDef]:
        """Every segment definition: the four built-ins, then user-defined ones."""
        return segment_store.list_definitions(self.db, self.settings)

    def known_properties(self) -> set[str]:
        """Fields a segment rule may name: columns, synced properties, configured ones."""
        names = set(segment_store.known_properties(self.db))
        names.update(CORE_PROPERTIES)
        names.update(self.settings.properties)
        return names

    def rule_fields(self) -> list[str]:
        """The fields a segment rule may name, as a rule writes them: the contact columns,
        then `properties.<name>` for every known property, then the list pseudo-field."""
        known = self.known_properties()
        names = {
            name.removeprefix(PROPERTY_PREFIX)
            for name in known
            if name.startswith(PROPERTY_PREFIX) or name not in RULE_COLUMNS
        }
        names.update(CORE_PROPERTIES)
        properties = sorted(PROPERTY_PREFIX + name for name in names)
        return [*(c for c in RULE_COLUMNS if c in known), *properties, LIST_FIELD]

    def save_segment(self, segment: SegmentDef, *, original_name: str | None = None) -> SegmentDef:
        """Validate and store a segment (new, or edited/renamed from `original_name`), then
        recompute its members. Raises `SegmentError` with a clear message when invalid."""
        return segment_store.save_definition(
            self.db,
            segment,
            known_properties=self.known_properties(),
            original_name=original_name,
            ref=utcnow(),
        )

    def delete_segment(self, name: str) -> bool:
        """Delete a user segment and its membership (built-ins cannot be deleted)."""
        return segment_store.delete_definition(self.db, name)

    def preview_segment(
        self, rule: SegmentDef | Group, sample: int = 10
    ) -> tuple[int, list[dict[str, Any]]]:
        """How many live contacts a rule matches now, and a sample of them; writes nothing."""
        return segment_store.preview(self.db, rule, utcnow(), sample=sample)

    def export_segments(self, format: str = "toml", *, include_builtin: bool = True) -> str:
        """Segment definitions as a TOML or JSON document."""
        defs = [s for s in self.segments() if include_builtin or not s.builtin]
        return dump_definitions(defs, format)

    def import_segments(
        self, text: str, format: str = "toml", *, replace_existing: bool = False
    ) -> ImportResult:
        """Add the segments of a TOML or JSON document (all or nothing) and recompute them."""
        return self.import_segment_definitions(
            load_definitions(text, format), replace_existing=replace_existing
        )

    def validate_segment(self, segment: SegmentDef, *, original_name: str | None = None) -> None:
        """Raise `SegmentError` if `save_segment` would refuse this segment (the same rules
        and the same `known_properties` as every face)."""
        others = [s.name for s in self.segments() if not s.builtin and s.name != original_name]
        validate_definition(
            segment, known_properties=self.known_properties(), existing_names=others
        )

    def reset_segment(self, name: str) -> SegmentDef | None:
        """Put a built-in segment back to its default rule (from the settings) and recompute
        its members; returns the default. Raises `SegmentError` for a user segment."""
        segment_store.reset_builtin(self.db, name)
        default = segment_store.get_definition(self.db, name, self.settings)
        if default is not None:
            segment_store.recompute(self.db, [default], utcnow())
        return default

    def import_segment_definitions(
        self, definitions: Sequence[SegmentDef], *, replace_existing: bool = False
    ) -> ImportResult:
        """Add already-parsed segments (all or nothing) and recompute them."""
        return segment_store.import_definitions(
            self.db,
            definitions,
            known_properties=self.known_properties(),
            replace_existing=replace_existing,
            ref=utcnow(),
        )

    # -- queries -----------------------------------------------------------------------------
    def get_contacts(
        self,
        segment: ContactSegment | str | None = None,
        limit: int = 100,
        offset: int = 0,
        search: str | None = None,
    ) -> dict[str, Any]:
        """`{"contacts", "total", "limit", "offset", "segment"}`, live contacts only."""
        name = segment.value if isinstance(segment, ContactSegment) else segment
        return sdk_contacts(self.db, segment=name, limit=limit, offset=offset, search=search)

    def get_contact(self, contact_id: str) -> dict[str, Any] | None:
        """One contact with all its properties, segments and list memberships."""
        return explorer.get_contact(self.db, str(contact_id))

    def get_list_memberships(self, contact_id: str) -> list[str]:
        """Names of the HubSpot lists the contact belongs to (as of the last list sync)."""
        contact = explorer.get_contact(self.db, str(contact_id))
        return list(contact["list_memberships"]) if contact else []

    def portal_id(self) -> str | None:
        """The synced portal's id (recorded by the first sync), for links into HubSpot."""
        return runs.get_state(self.db, PORTAL_ID)

    def get_stats(self) -> SyncStats:
        """Statistics of the last finished sync (empty stats before the first one)."""
        run = runs.latest_run(self.db, finished=True)
        return SyncStats.from_run(run) if run else SyncStats(status="never", total_synced=0)

    def clear_contacts(self) -> int:
        """Delete every stored contact (sync history stays); returns how many were removed.

        The incremental high-water mark goes too, so the next sync is a full one.
        """
        with self.db.transaction() as conn:
            removed = contact_store.clear_contacts(conn)
            runs.delete_state(conn, HIGH_WATER_MARK)
            versions.bump(conn)
            return removed

    # -- freshness: schedule, change events, journal ----------------------------------------
    def scheduler(self, run_sync: Callable[[], SyncStats] | None = None) -> Scheduler:
        """The scheduler of this database's periodic jobs (the sync schedule first).

        `run_sync` runs one scheduled sync (default: an `auto` sync owned by "schedule").
        """
        options = SyncOptions(mode="auto", owner="schedule")
        job = sync_job(
            run_sync or (lambda: self.sync(options)),
            self._daily_reset,
            (self.settings.demo_schedule_minutes or None) if self.settings.demo else None,
        )
        return Scheduler(self.db, [job], utcnow)

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

    # -- explorer filters, pages, export and run history (the HTTP API, CLI, pages) --------
    def parse_filter(
        self, params: Mapping[str, str | list[str]]
    ) -> tuple[ContactFilter, list[str]]:
        """The contact filter in URL query parameters (the dashboard's names), and a warning
        for each value that was ignored. The one parser every face uses."""
        return explorer.parse_query_params(params)

    def find_contacts(
        self,
        flt: ContactFilter | None = None,
        *,
        sort: str = "hubspot_id",
        descending: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> dict[str, Any]:
        """`{"contacts", "total", "limit", "offset"}` for any explorer filter and sort, each
        contact shaped as `get_contacts` shapes it (the spec's fields, times ISO with a Z)."""
        return contacts_page(
            self.db, flt, sort=sort, descending=descending, limit=limit, offset=offset
        )

    def contact_record(self, hubspot_id: str) -> dict[str, Any] | None:
        """One contact (archived or not) with every stored field, times ISO with a Z."""
        contact = explorer.get_contact(self.db, str(hubspot_id))
        return _spec_contact(contact) if contact is not None else None

    def iter_contacts_csv(
        self,
        flt: ContactFilter | None = None,
        *,
        columns: list[str] | None = None,
        sort: str = "updated_at",
        descending: bool = True,
        labels: bool = False,
    ) -> Iterator[str]:
        """The CSV export of a filter as text pieces, header first: the same bytes as the
        dashboard's Export CSV and `hubsync contacts --format csv`. Enumeration columns hold
        internal values (round-trips to HubSpot), or with `labels` the options' labels.
        Raises `ValueError` at once for an unknown sort or column."""
        return export.iter_csv(
            self.db,
            flt,
            columns,
            sort=sort,
            descending=descending,
            labels=self.option_labels() if labels else None,
        )

    def option_labels(self) -> dict[str, dict[str, str]]:
        """{property: {internal value: label}} of every enumeration option HubSpot defines
        (stored by the last sync): what people read instead of values like "1088421376"."""
        return property_options.option_labels(self.db)

    def csv_filename(self, flt: ContactFilter | None, today: date) -> str:
        """The export's file name, e.g. `hubspot-contacts-chainge-2026-11-28.csv`."""
        return export.csv_filename(flt, today)

    def segment_sizes(self) -> dict[str, int]:
        """Live contacts per segment key, every defined segment included (zeros too)."""
        return {f.value: f.count for f in explorer.facet_counts(self.db, None, "segment")}

    def sync_runs(self, limit: int = 20, offset: int = 0) -> tuple[list[SyncRun], int]:
        """A page of the sync history, newest first, and how many runs there are."""
        return runs.history(self.db, limit, offset), runs.count_runs(self.db)

    def sync_run(self, run_id: int) -> SyncRun | None:
        """One sync run (its counters, status and checkpoint), or None."""
        return runs.get_run(self.db, run_id)

    def last_finished_run(self) -> SyncRun | None:
        """The newest run that is no longer running, or None before the first sync."""
        return runs.latest_run(self.db, finished=True)

    def check_database(self) -> None:
        """Run a trivial query; raises if the database cannot be reached."""
        with self.db.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    # -- what the dashboard reads ------------------------------------------------------------
    def data_version(self) -> DataVersion:
        """A cheap key that changes whenever stored data changes (a sync, a clear, a segment
        edit, from any face): cache reads under it."""
        return versions.data_version(self.db)

    def has_contacts(self) -> bool:
        """Whether any contact (archived ones too) is stored (reads one row at most)."""
        return explorer.count_contacts(self.db, ContactFilter(archived="include"), cap=0) > 0

    def count_contacts(self, flt: ContactFilter | None = None) -> int:
        """How many contacts match (by default: every live contact)."""
        return explorer.count_contacts(self.db, flt)

    def explore(
        self,
        flt: ContactFilter,
        *,
        sort: str,
        descending: bool,
        limit: int,
        offset: int,
        columns: Sequence[str],
    ) -> Exploration:
        """A page of contacts, its total and every facet's counts, in one read.
        Raises ValueError for an unknown sort or a column that is not a property name."""
        return explorer.explore(
            self.db,
            flt,
            sort=sort,
            descending=descending,
            limit=limit,
            offset=offset,
            columns=columns,
            facets=FACETS,  # type: ignore[arg-type]
        )

    def contact_page(
        self,
        flt: ContactFilter,
        *,
        sort: str,
        descending: bool,
        limit: int,
        offset: int,
        columns: Sequence[str],
    ) -> ContactPage:
        """A page of contacts and its total, without facets (paging a known filter)."""
        return explorer.query_contacts(
            self.db,
            flt,
            sort=sort,
            descending=descending,
            limit=limit,
            offset=offset,
            columns=columns,
        )

    def contact_url(self, contact_id: str | int) -> str | None:
        """The contact's record page in HubSpot, None until a sync recorded the portal id."""
        portal_id = self.portal_id()
        return hubspot_record_url(portal_id, contact_id) if portal_id else None

    def overview(self) -> Overview:
        """Totals, segment sizes and the last sync, for the Overview page."""
        return overview_store.overview(self.db)

    def last_run(self) -> SyncRun | None:
        """The most recently started sync run, None before the first."""
        return runs.latest_run(self.db)

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

    def segment_distribution(self) -> list[SegmentShare]:
        """Live contacts per segment, with each segment's share and colour."""
        return insights.segment_distribution(self.db, self.settings)

    def sync_history_points(self, limit: int = 100) -> list[RunPoint]:
        """The last `limit` runs, oldest first, for charts."""
        return insights.sync_history(self.db, limit)

    def engagement_trend(self, limit: int = 100) -> list[EngagementPoint]:
        """Engaged and cold members after each of the last `limit` finished syncs."""
        return insights.engagement_trend(self.db, limit)

    def lifecycle_funnel(self) -> list[StageCount]:
        """Live contacts per lifecycle stage, in funnel order."""
        return insights.lifecycle_funnel(self.db)

    def created_per_month(self) -> list[tuple[date, int]]:
        """Live contacts created in HubSpot, per month."""
        return insights.created_per_month(self.db)

    def database_location(self) -> str:
        """Where the database is (a path or a URL without its password)."""
        return self.db.location()

    def database_size(self) -> int | None:
        """The database's size in bytes, when the backend can tell."""
        return self.db.size_bytes()


_services: dict[str, HubSyncService] = {}
_services_lock = threading.Lock()


def get_sync_service(settings: Settings | None = None) -> HubSyncService:
    """The process-wide service for the configured database (the original spec's entry point)."""
    settings = settings or Settings.load()
    with _services_lock:
        service = _services.get(settings.database_url)
        if service is None:
            service = HubSyncService(settings)
            _services[settings.database_url] = service
        return service
