"""What every route reaches through dependencies: the facade, the job system, the token.

Routes never open the store or the sync engine themselves: they call `HubSyncService`
(the facade every face uses) and `SyncJobs` (the one background sync per database).
Dependencies that never block are `async def`: FastAPI runs a plain `def` dependency in a
worker thread, and a thread hop per dependency cost more CPU than the work itself.
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


async def get_context(request: Request) -> ApiContext:
    """The app's `ApiContext`."""
    return context_of(request)


def context_of(request: Request) -> ApiContext:
    """The app's `ApiContext` (plain function, for code outside dependencies)."""
    context: ApiContext = request.app.state.hubsync
    return context


async def get_service(request: Request) -> HubSyncService:
    """The facade (same database, settings and demo portal as the dashboard and CLI)."""
    return context_of(request).service


async def get_jobs(request: Request) -> SyncJobs:
    """The background sync jobs of this process (single flight via the database lock)."""
    return context_of(request).jobs


Service = Annotated[HubSyncService, Depends(get_service)]
Jobs = Annotated[SyncJobs, Depends(get_jobs)]
