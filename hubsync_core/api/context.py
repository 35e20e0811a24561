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


async def _service(request: Request) -> HubSyncService:
    return get_service(request)


async def _jobs(request: Request) -> SyncJobs:
    return get_jobs(request)


#: Route parameters: `service: Service`, `jobs: Jobs` (async: no thread hop to resolve).
Service = Annotated[HubSyncService, Depends(_service)]
Jobs = Annotated[SyncJobs, Depends(_jobs)]
