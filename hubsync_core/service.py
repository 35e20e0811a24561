"""The Python SDK: the original spec's `HubSpotContactSyncService`, backed by a database.

    from hubsync_core import get_sync_service, ContactSegment

    service = get_sync_service()
    stats = service.sync_all_contacts()
    page = service.get_contacts(segment=ContactSegment.CHAINGE, limit=50)

Unlike the original (async, in memory), calls are synchronous and everything is stored,
so results survive restarts and are shared with the dashboard and the CLI.

This module is the one door every face (dashboard, CLI, SDK, HTTP API) uses. The facade's
methods are grouped by concept in `hubsync_core/facade/` (runs, contacts, segments,
freshness, overview) and `hubsync_core/bulk/facade.py`; `HubSyncService` composes them and
owns the resources they share (settings, database, HubSpot client).
"""

from __future__ import annotations

import threading
from datetime import datetime

import sqlalchemy as sa

from hubsync_core.bulk.facade import BulkFacade
from hubsync_core.config import Settings
from hubsync_core.connection import make_client
from hubsync_core.facade.contacts import SDK_FIELDS, ContactsFacade, contacts_page, sdk_contacts
from hubsync_core.facade.freshness import FreshnessFacade
from hubsync_core.facade.overview import OverviewFacade
from hubsync_core.facade.runs import RunsFacade
from hubsync_core.facade.segments import SegmentsFacade
from hubsync_core.hubspot.client import HubSpotClient
from hubsync_core.hubspot.journal import JournalClient
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

# Types the faces pass to and get from the facade, importable from here so that no face
# needs to import `hubsync_core.store` (tests/test_architecture.py keeps pages to that).
__all__ = [
    "FACETS",
    "SDK_FIELDS",
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
    "contacts_page",
    "get_sync_service",
    "sdk_contacts",
]


class HubSyncService(
    RunsFacade, ContactsFacade, SegmentsFacade, FreshnessFacade, OverviewFacade, BulkFacade
):
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

    # -- the database, for health checks and the settings page ------------------------
    def check_database(self) -> None:
        """Run a trivial query; raises if the database cannot be reached."""
        with self.db.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

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
