"""Helpers for the bulk-operation tests."""

from __future__ import annotations

from pathlib import Path

from sync_helpers import fast_client, sandbox_settings

from hubsync_core.sandbox import Sandbox
from hubsync_core.service import HubSyncService
from hubsync_core.sync.model import SyncOptions


def synced_service(sandbox: Sandbox, path: Path, **client_options: object) -> HubSyncService:
    """A service on a fresh SQLite file holding every contact of `sandbox` (one full sync)."""
    settings = sandbox_settings(sandbox, f"sqlite:///{path}")
    service = HubSyncService(settings, client=fast_client(sandbox, **client_options), owner="test")
    stats = service.sync(SyncOptions(mode="full", owner="test"))
    assert stats.status == "succeeded", stats
    return service
