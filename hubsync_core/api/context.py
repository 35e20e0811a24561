"""What every route reaches through dependencies: the facade, the job system, the token.

Routes never open the store or the sync engine themselves: they call `HubSyncService`
(the facade every face uses) and `SyncJobs` (the one background sync per database).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from hubsync_core.config import Secret, Settings
from hubsync_core.jobs import SyncJobs
from hubsync_core.service import HubSyncService

#: Where the original spec put its routes.
PREFIX = "/api/integrations/hubspot"


@dataclass(frozen=True)
class ApiContext:
    """Shared by every request of one app (kept in `app.state.hubsync`)."""

    settings: Settings
    service: HubSyncService
    jobs: SyncJobs
    token: Secret


def get_context(request: Request) -> ApiContext:
    """The app's `ApiContext`."""
    context: ApiContext = request.app.state.hubsync
    return context


def get_service(request: Request) -> HubSyncService:
    """The facade (same database, settings and demo portal as the dashboard and CLI)."""
    return get_context(request).service


def get_jobs(request: Request) -> SyncJobs:
    """The background sync jobs of this process (single flight via the database lock)."""
    return get_context(request).jobs


Service = Annotated[HubSyncService, Depends(get_service)]
Jobs = Annotated[SyncJobs, Depends(get_jobs)]
