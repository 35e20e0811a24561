"""Bulk operation routes: preview, confirm and run, the audit log, undo, retry and resume.

Every write is previewed first: `"dry_run": true` answers the preview and sends nothing; a
refused preview (bad value, missing scope) answers 422 with the reasons; an operation that
needs a typed confirmation (archive: `"ARCHIVE"`; over 1,000 contacts: the count) answers
428 until `confirmation` carries it. The audit log records the API token as the actor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from hubsync_core.api.context import PREFIX, Jobs, Service, get_context
from hubsync_core.api.errors import ApiError, error_responses
from hubsync_core.api.sync import busy
from hubsync_core.api.tokens import resolve_token
from hubsync_core.bulk.facade import ConfirmationRequired
from hubsync_core.bulk.plan import Preview
from hubsync_core.bulk.selection import Selection
from hubsync_core.bulk.status import BulkStatus, ItemStatus
from hubsync_core.hubspot.errors import HubSpotError
from hubsync_core.service import HubSyncService
from hubsync_core.store.lock import SyncAlreadyRunning

router = APIRouter(prefix=f"{PREFIX}/bulk", tags=["bulk"])
OperationId = Annotated[int, Path(ge=1, description="The operation's id (see the log)")]


class Confirm(BaseModel):
    """Confirming (or only previewing) an operation."""

    dry_run: bool = Field(False, description="Answer the preview and send nothing")
    confirmation: str | None = Field(
        None, description='The typed confirmation the preview asks for ("ARCHIVE", a count)'
    )
    wait: bool = Field(True, description="Wait for the result; false answers 202 at once")


class BulkRequest(Confirm):
    """A bulk operation on contacts chosen by `ids` or by `query` (the dashboard URL's filter)."""

    action: Literal["set", "list_add", "list_remove", "archive", "update"]
    ids: list[str] = Field(default_factory=list, description="Contact ids (ticked rows)")
    query: str | None = Field(None, description="Filter query string, e.g. segment=cold")
    properties: dict[str, str | None] = Field(
        default_factory=dict, description='set: {"property": "value"}; "" clears'
    )
    list_id: str | None = Field(None, description="list_add / list_remove: the static list")
    csv: str | None = Field(None, description="update: the CSV text")
    key: Literal["hubspot_id", "email"] = "hubspot_id"


def _actor(request: Request) -> str:
    settings = get_context(request).settings
    token = resolve_token(settings)
    return "api:" + ("HUBSYNC_API_TOKEN" if token.configured else "generated API token")


def _selection(body: BulkRequest) -> Selection:
    try:
        return Selection(ids=tuple(body.ids), query=body.query if not body.ids else None)
    except ValueError as exc:
        raise ApiError(422, str(exc), "Send either ids or query.") from None


def _preview(service: Service, body: BulkRequest) -> Preview:
    if body.action == "update":
        if not body.csv:
            raise ApiError(422, "An update needs the CSV text in 'csv'.")
        return service.preview_bulk_csv(body.csv, key=body.key, name="api upload")
    selection = _selection(body)
    if body.action == "set":
        return service.preview_bulk_set(selection, body.properties)
    if body.action == "archive":
        return service.preview_bulk_archive(selection)
    if not body.list_id:
        raise ApiError(422, "A list change needs 'list_id'.")
    return service.preview_bulk_list(selection, body.list_id, add=body.action == "list_add")


def _go(
    request: Request, service: Service, jobs: Jobs, plan: Any, confirm: Confirm
) -> JSONResponse:
    try:
        preview: Preview = plan()
    except HubSpotError as exc:
        raise ApiError(502, f"HubSpot refused the preview: {exc}") from None
    data = {"preview": preview.as_dict()}
    if preview.refused:
        return JSONResponse({**data, "status": 422, "message": "Refused before sending"}, 422)
    if confirm.dry_run or not preview.items:
        return JSONResponse(data)
    try:
        op_id = service.save_bulk(preview, actor=_actor(request), confirmation=confirm.confirmation)
    except ConfirmationRequired as exc:
        raise ApiError(428, str(exc), "Send the preview's 'confirmation' value.") from None
    return _run(service, jobs, op_id, confirm.wait, data)


def _run(
    service: Service, jobs: Jobs, op_id: int, wait: bool, data: dict[str, Any]
) -> JSONResponse:
    location = {"Location": f"{PREFIX}/bulk/operations/{op_id}"}
    if not wait:
        refused = jobs.start_bulk(op_id)
        if refused is not None:
            raise ApiError(
                409, refused, "Resume it later: POST .../operations/{id}/resume", operation_id=op_id
            )
        return JSONResponse(
            {**data, "operation_id": op_id, "status": BulkStatus.RUNNING}, 202, location
        )
    try:
        op = service.run_bulk(op_id)
    except SyncAlreadyRunning as exc:
        raise busy(exc) from None
    failed = [vars(i) for i in service.bulk_items(op_id, [ItemStatus.FAILED], limit=100)]
    body = {**data, "operation": op.as_dict(), "failed_items": failed}
    # 207: some contacts failed (listed); 502: the run stopped (HubSpot refused, or an
    # unretryable failure: `message` says why and `resume` continues it).
    code = {BulkStatus.SUCCEEDED: 200, BulkStatus.PARTIAL: 207}.get(op.status, 502)
    return JSONResponse(_jsonable(body), code, location)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat() + "Z"
    return value


@router.post(
    "",
    summary="Preview, confirm and run a bulk operation",
    responses=error_responses(401, 409, 422),
)
def bulk(
    request: Request, service: Service, jobs: Jobs, body: Annotated[BulkRequest, Body()]
) -> JSONResponse:
    """Set/clear properties, add to or remove from a static list, archive, or update from a
    CSV. 200: every contact written; 207: some failed (listed); 422: refused before sending;
    428: a typed confirmation is needed; 409: the database is busy; 502: the run stopped."""
    return _go(request, service, jobs, lambda: _preview(service, body), body)


@router.get("/operations", summary="The audit log", responses=error_responses(401))
def operations(service: Service, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> JSONResponse:
    """Every bulk operation, newest first: who, when, what, on which selection, counts."""
    return JSONResponse(_jsonable([op.as_dict() for op in service.bulk_log(limit)]))


@router.get(
    "/operations/{operation_id}",
    summary="One operation and its contacts",
    responses=error_responses(401, 404),
)
def operation(
    service: Service,
    operation_id: OperationId,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> JSONResponse:
    """The operation with each contact's previous and written values and outcome."""
    op = service.bulk_operation(operation_id)
    if op is None:
        raise ApiError(404, f"No bulk operation {operation_id}")
    items = [vars(i) for i in service.bulk_items(operation_id, limit=limit)]
    return JSONResponse(_jsonable({**op.as_dict(), "items": items}))


def _follow_up(
    action: str, summary: str, doc: str, plan: Callable[[HubSyncService, int], Preview]
) -> None:
    """Route `POST /operations/{id}/<action>`: preview the new operation `plan` derives from
    a past one, then confirm and run it like any other (undo and retry differ only in `plan`)."""

    def follow_up(
        request: Request,
        service: Service,
        jobs: Jobs,
        operation_id: OperationId,
        body: Annotated[Confirm | None, Body()] = None,
    ) -> JSONResponse:
        return _go(request, service, jobs, lambda: plan(service, operation_id), body or Confirm())

    router.post(
        f"/operations/{{operation_id}}/{action}",
        name=action,
        summary=summary,
        description=doc,
        responses=error_responses(401, 409, 422),
    )(follow_up)


_follow_up(
    "undo",
    "Undo an operation",
    "Restore previous values, skipping contacts changed in HubSpot since (reported).",
    lambda service, operation_id: service.preview_bulk_undo(operation_id),
)
_follow_up(
    "retry",
    "Retry the failed contacts",
    "Send an operation's failed contacts again, as a new (previewed) operation.",
    lambda service, operation_id: service.preview_bulk_retry(operation_id),
)


@router.post(
    "/operations/{operation_id}/resume",
    summary="Resume an interrupted operation",
    responses=error_responses(401, 404, 409),
)
def resume(
    service: Service,
    jobs: Jobs,
    operation_id: OperationId,
    body: Annotated[Confirm | None, Body()] = None,
) -> JSONResponse:
    """Finish an operation a crash, kill or cancel interrupted (no finished batch is resent)."""
    if service.bulk_operation(operation_id) is None:
        raise ApiError(404, f"No bulk operation {operation_id}")
    return _run(service, jobs, operation_id, (body or Confirm()).wait, {})
