"""`/healthz` (process up, no auth: for load balancers) and `/readyz` (database reachable,
last sync age; authenticated, since it tells about the data)."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from hubsync_core.api.context import Jobs, Service
from hubsync_core.api.errors import error_responses
from hubsync_core.api.schemas import AuditVerdict, Health, LastSync, Readiness
from hubsync_core.clock import iso_z, utcnow

log = logging.getLogger("hubsync.api")

#: Served without a token.
public = APIRouter(tags=["health"])
router = APIRouter(tags=["health"])


@public.get("/healthz", response_model=Health, summary="The process is up (no auth)")
def healthz() -> Health:
    """Answers while the server runs; touches nothing else."""
    return Health()


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Database reachable; last sync age",
    responses={
        503: {"model": Readiness, "description": "Database unreachable"},
        **error_responses(401),
    },
)
def readyz(service: Service, jobs: Jobs) -> JSONResponse:
    """200 when the database answers (with the last sync's status and age), else 503."""
    try:
        service.check_database()
    except Exception as exc:  # any driver error means "not ready"; say which
        log.warning("readiness: database unreachable: %s", type(exc).__name__)
        body = Readiness(
            status="not_ready",
            database=f"unreachable: {type(exc).__name__}",
            sync_running=False,
            last_sync=None,
        )
        return JSONResponse(body.model_dump(), status_code=503)
    run = service.last_finished_run()
    last = None
    if run is not None and run.id is not None:
        last = LastSync(
            run_id=run.id,
            status=run.status,
            finished_at=iso_z(run.finished_at),
            age_seconds=Readiness.age(run.finished_at, utcnow()),
        )
    body = Readiness(
        status="ready",
        database="ok",
        sync_running=jobs.status().running,
        last_sync=last,
        audit=AuditVerdict.of(service.last_audit()),
    )
    return JSONResponse(body.model_dump())
