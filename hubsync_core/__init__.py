"""HubSync: every HubSpot contact in your own database, tagged with segments.

The SDK keeps the original spec's names::

    from hubsync_core import get_sync_service, ContactSegment, SyncStats

    service = get_sync_service()
    stats: SyncStats = service.sync_all_contacts()
    chainge = service.get_contacts(segment=ContactSegment.CHAINGE, limit=50)

Nothing in this package imports Streamlit.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public names and the modules that hold them; imported on first use so that
# `import hubsync_core.sandbox` (say) does not pull in the whole package.
_EXPORTS = {
    "ContactSegment": "hubsync_core.segments",
    "HubSyncService": "hubsync_core.service",
    "get_sync_service": "hubsync_core.service",
    "Settings": "hubsync_core.config",
    "SettingsError": "hubsync_core.config",
    "SyncAlreadyRunning": "hubsync_core.store.lock",
    "SyncFailed": "hubsync_core.sync.model",
    "SyncOptions": "hubsync_core.sync.model",
    "SyncProgress": "hubsync_core.sync.model",
    "SyncStats": "hubsync_core.sync.model",
}

__all__ = [
    "ContactSegment",
    "HubSyncService",
    "Settings",
    "SettingsError",
    "SyncAlreadyRunning",
    "SyncFailed",
    "SyncOptions",
    "SyncProgress",
    "SyncStats",
    "__version__",
    "get_sync_service",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hubsync_core' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from hubsync_core.config import Settings, SettingsError
    from hubsync_core.segments import ContactSegment
    from hubsync_core.service import HubSyncService, get_sync_service
    from hubsync_core.store.lock import SyncAlreadyRunning
    from hubsync_core.sync.model import SyncFailed, SyncOptions, SyncProgress, SyncStats
