"""The HTTP API app: `create_app()` wires the routers to one facade and one job system.

Adding routes (webhooks, bulk operations, ...): write `hubsync_core/api/<concern>.py` with
`router = APIRouter(prefix=PREFIX, tags=["<concern>"])`, then add ONE line to `ROUTERS`
below (every route there requires the bearer token), or to `PUBLIC_ROUTERS` for routes
that authenticate differently (e.g. HubSpot's signed webhooks). Call the facade
(`context.Service`) and the jobs (`context.Jobs`), raise `errors.ApiError` for failures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

from hubsync_core import __version__
from hubsync_core.api import bulk, contacts, health, segments, sync, webhooks
from hubsync_core.api.auth import require_token
from hubsync_core.api.context import ApiContext
from hubsync_core.api.errors import install_error_handlers
from hubsync_core.api.tokens import resolve_token
from hubsync_core.config import Secret, Settings
from hubsync_core.freshness import sync_through
from hubsync_core.jobs import SyncJobs
from hubsync_core.service import HubSyncService

#: Routers whose every route requires `Authorization: Bearer <token>`.
ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    sync.router,
    contacts.router,
    segments.router,
    bulk.router,
)
#: Routers served without the bearer token (they must authenticate on their own, if at all).
PUBLIC_ROUTERS: tuple[APIRouter, ...] = (health.public, webhooks.router)

DESCRIPTION = """\
HubSync's HTTP API: the original spec's REST endpoints under `/api/integrations/hubspot/`,
served from the same database, settings and sync lock as the dashboard and the `hubsync` CLI.

Every route but `/healthz` needs `Authorization: Bearer <token>` (`HUBSYNC_API_TOKEN`, or the
token `hubsync api token` points to). Errors answer `{"status", "message", "hint"}`.
"""


def create_app(
    service: HubSyncService | None = None,
    settings: Settings | None = None,
    *,
    token: Secret | str | None = None,
    background: bool = True,
) -> FastAPI:
    """The API app over `service` (default: a new one on `settings`, default `Settings.load()`).

    `token`: the bearer token to require; default `HUBSYNC_API_TOKEN`, else the generated
    token in the data folder (created on first use). `background`: host the sync schedule
    and the change-event applier while serving (see `freshness`).
    """
    settings = settings or (service.settings if service is not None else Settings.load())
    owns_service = service is None
    service = service or HubSyncService(settings, owner="api")
    if token is None:
        token = resolve_token(settings).value
    secret = token if isinstance(token, Secret) else Secret(token)
    jobs = SyncJobs(service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The schedule (syncs, the nightly audit) and the webhook/journal applier run while
        # the server is up.
        worker = service.freshness_worker(sync_through(jobs)) if background else None
        if worker is not None:
            worker.start()
        yield
        if worker is not None:
            worker.stop()
        # Stop a running sync cleanly after its current page (the next sync resumes it).
        if jobs.cancel():
            jobs.wait(30)
        if owns_service:
            service.close()

    app = FastAPI(
        title="HubSync API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.hubsync = ApiContext(settings=settings, service=service, jobs=jobs, token=secret)
    install_error_handlers(app)
    for router in PUBLIC_ROUTERS:
        app.include_router(router)
    for router in ROUTERS:
        app.include_router(router, dependencies=[Depends(require_token)])
    return app
