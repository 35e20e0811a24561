"""Sync routes: start a sync (the spec's `POST .../sync`), its stats, the run history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import JSONResponse

from hubsync_core.api.context import PREFIX, Jobs, Service
from hubsync_core.api.errors import ApiError, error_responses
from hubsync_core.api.schemas import (
    AuditVerdict,
    RunBody,
    RunsPage,
    SyncAccepted,
    SyncRequest,
    SyncStatsBody,
)
from hubsync_core.clock import iso_z
from hubsync_core.store.lock import SyncAlreadyRunning, describe_owner
from hubsync_core.sync.model import SyncOptions, SyncStats

router = APIRouter(prefix=PREFIX, tags=["sync"])


def busy(exc: SyncAlreadyRunning) -> ApiError:
    """409 naming who holds the sync lock and its run."""
    where = f" (run {exc.run_id})" if exc.run_id is not None else ""
    follow = f"{PREFIX}/sync/runs/{exc.run_id}" if exc.run_id is not None else f"{PREFIX}/sync/runs"
    return ApiError(
        409,
        f"{exc}{where}",
        f"Wait for it to finish (GET {follow}) and retry; only one sync runs per database.",
        holder=describe_owner(exc.owner),
        run_id=exc.run_id,
        started_at=iso_z(exc.started_at),
    )


def stats_response(stats: SyncStats) -> JSONResponse:
    """200 with the stats when the sync succeeded. Otherwise the stats carry the failure
    (status, message, hint, correlation_id): 409 when it could not start (e.g. an
    incremental sync before any full one), 502 when the run ended without succeeding."""
    body = SyncStatsBody.of(stats).model_dump()
    code = 200 if stats.ok else 409 if stats.run_id is None else 502
    return JSONResponse(body, status_code=code)


@router.post(
    "/sync",
    response_model=SyncStatsBody,
    summary="Sync contacts from HubSpot",
    responses={
        202: {"model": SyncAccepted, "description": 'Started ("wait": false)'},
        502: {"model": SyncStatsBody, "description": "The sync failed (status, message, hint)"},
        **error_responses(401, 409, 422),
    },
)
def start_sync(
    request: Request,
    jobs: Jobs,
    body: Annotated[SyncRequest | None, Body()] = None,
) -> JSONResponse:
    """Start a sync in the background. By default wait for it and answer its stats; with
    `"wait": false` answer 202 at once with the run id and a `Location` to follow it.
    A sync already running (from the dashboard, the CLI or another API process) answers
    409. The sync continues if the client disconnects."""
    body = body or SyncRequest()
    options = SyncOptions(
        mode=body.mode,
        batch_size=body.batch_size,
        max_contacts=body.max_contacts,
        chainge_only=body.sync_type == "chainge",
        sweep=body.sweep,
        owner="api",
    )
    try:
        started = jobs.start_run(options)
    except SyncAlreadyRunning as exc:
        raise busy(exc) from None
    if started.error is not None:
        raise ApiError(500, started.error, "The server log has the details.")
    if started.result is not None or started.run_id is None:
        assert started.result is not None
        return stats_response(started.result)
    run_id = started.run_id
    location = request.app.url_path_for("get_sync_run", run_id=str(run_id))
    if not body.wait:
        accepted = SyncAccepted(
            run_id=run_id,
            location=location,
            message=f"Sync run {run_id} started; GET {location} for its progress.",
        )
        return JSONResponse(accepted.model_dump(), status_code=202, headers={"Location": location})
    jobs.wait()
    result = jobs.result_of(run_id)
    if result is None:
        raise ApiError(500, f"Sync run {run_id} ended without a result", "See the server log.")
    return stats_response(result)


@router.get(
    "/sync/stats",
    response_model=SyncStatsBody,
    summary="Statistics of the last finished sync",
    responses=error_responses(401, 404),
)
def sync_stats(service: Service) -> SyncStatsBody:
    """The spec's SyncStats of the last finished run (404 before the first one)."""
    stats = service.get_stats()
    if stats.run_id is None:
        raise ApiError(
            404,
            "No sync has finished yet",
            f"Start one with POST {PREFIX}/sync.",
        )
    body = SyncStatsBody.of(stats)
    body.audit = AuditVerdict.of(service.last_audit())
    return body


@router.get(
    "/sync/runs",
    response_model=RunsPage,
    summary="Sync history, newest first",
    responses=error_responses(401, 422),
)
def sync_runs(
    service: Service,
    limit: Annotated[int, Query(ge=1, le=100, description="Runs per page")] = 20,
    offset: Annotated[int, Query(ge=0, description="Runs to skip")] = 0,
) -> RunsPage:
    """A page of the sync history (every face's runs: dashboard, CLI, API, SDK)."""
    found, total = service.sync_runs(limit, offset)
    return RunsPage(runs=[RunBody.of(r) for r in found], total=total, limit=limit, offset=offset)


@router.get(
    "/sync/runs/{run_id}",
    response_model=RunBody,
    summary="One sync run with live progress",
    responses=error_responses(401, 404, 422),
)
def get_sync_run(
    jobs: Jobs,
    service: Service,
    run_id: Annotated[int, Path(ge=1, description="The run id")],
) -> RunBody:
    """A run's counters and, while it runs, live progress: phase, contacts, pages, rate and
    ETA (wherever the sync runs: this server, the dashboard or the CLI)."""
    progress = jobs.progress_of(run_id)
    run = service.sync_run(run_id)
    if run is None:
        raise ApiError(404, f"No sync run {run_id}", f"GET {PREFIX}/sync/runs lists the runs.")
    return RunBody.of(run, progress)
