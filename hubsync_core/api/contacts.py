"""Contact routes: the spec's query and clear, one contact, and the CSV export.

Filters use the dashboard explorer's URL parameter names (`segment`, `match`, `q`, `stage`,
`created_from`, `created_to`, `modified_from`, `modified_to`, `has_email`, `archived`,
`list`) and go through the same parser as the dashboard and `hubsync contacts --query`;
`search` is the spec's name for `q`.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse

from hubsync_core.api.context import PREFIX, Jobs, Service
from hubsync_core.api.errors import ApiError, bad_parameter, error_responses
from hubsync_core.api.schemas import ContactDetail, ContactsPage, Deleted
from hubsync_core.api.sync import busy
from hubsync_core.clock import utcnow
from hubsync_core.columns import SORTABLE
from hubsync_core.service import ContactFilter
from hubsync_core.store.explorer import QUERY_PARAM_KEYS

router = APIRouter(prefix=PREFIX, tags=["contacts"])

SortColumn = Literal[SORTABLE]  # type: ignore[valid-type]
Order = Literal["asc", "desc"]
#: The explorer's URL parameters, plus `search` (the spec's name for `q`).
_FILTER_KEYS = frozenset({*QUERY_PARAM_KEYS, "search"})
_IGNORED = re.compile(r"^Ignored (\w+)=(.*?): (.*)$")


async def contact_filter(
    request: Request,
    service: Service,
    segment: Annotated[
        list[str],
        Query(description="Segment key, e.g. chainge (repeat for several)"),
    ] = [],  # noqa: B006 - FastAPI copies defaults
    match: Annotated[
        Literal["any", "all"] | None,
        Query(description="With several segments: in any (default) or all of them"),
    ] = None,
    search: Annotated[
        str | None, Query(description="Text in email, name or company (the spec's name)")
    ] = None,
    q: Annotated[str | None, Query(description="Same as search (the dashboard's name)")] = None,
    stage: Annotated[
        list[str], Query(description="Lifecycle stage; `(none)` for no stage (repeatable)")
    ] = [],  # noqa: B006
    created_from: Annotated[
        date | None, Query(description="Created on or after (YYYY-MM-DD)")
    ] = None,
    created_to: Annotated[date | None, Query(description="Created on or before")] = None,
    modified_from: Annotated[date | None, Query(description="Modified on or after")] = None,
    modified_to: Annotated[date | None, Query(description="Modified on or before")] = None,
    has_email: Annotated[
        str | None, Query(description="yes: only contacts with an email; no: only without")
    ] = None,
    archived: Annotated[
        Literal["hide", "include", "only"] | None,
        Query(description="Archived (deleted) contacts: hide (default), include or only"),
    ] = None,
    list_id: Annotated[
        list[str], Query(alias="list", description="HubSpot list id (repeatable)")
    ] = [],  # noqa: B006
) -> ContactFilter:
    """The explorer filter in the query string, parsed by the dashboard's own parser.

    The typed parameters above document the names and reject malformed values (422 naming
    the parameter); the filter itself comes from `HubSyncService.parse_filter` (pure
    parsing, no I/O: hence `async`, which spares a thread hop).
    """
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        if key in _FILTER_KEYS:
            params.setdefault("q" if key == "search" else key, []).append(value)
    flt, warnings = service.parse_filter(params)
    for warning in warnings:
        if found := _IGNORED.match(warning):
            name, value, expected = found.groups()
            raise bad_parameter(
                "search" if name == "q" and search else name, f"{value}: {expected}"
            )
    return flt


Filter = Annotated[ContactFilter, Depends(contact_filter)]


def reject_unknown(request: Request, allowed: frozenset[str]) -> None:
    """A misspelt parameter would silently widen the result: name it instead."""
    for key in request.query_params:
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            raise bad_parameter(key, "is not a parameter of this route", f"Known: {known}.", 400)


_PAGE_KEYS = _FILTER_KEYS | {"limit", "offset", "sort", "order"}
_CSV_KEYS = _FILTER_KEYS | {"sort", "order", "columns", "labels"}


def _segment_echo(flt: ContactFilter) -> str | list[str] | None:
    if not flt.segments:
        return None
    return flt.segments[0] if len(flt.segments) == 1 else list(flt.segments)


@router.get(
    "/contacts",
    response_model=ContactsPage,
    summary="Query contacts (spec) with every explorer filter",
    responses=error_responses(400, 401, 422),
)
def get_contacts(
    request: Request,
    service: Service,
    flt: Filter,
    limit: Annotated[int, Query(ge=1, le=1000, description="Contacts per page")] = 100,
    offset: Annotated[int, Query(ge=0, description="Contacts to skip")] = 0,
    sort: Annotated[SortColumn, Query(description="Sort column")] = "hubspot_id",
    order: Annotated[Order, Query(description="asc or desc")] = "asc",
) -> dict[str, Any]:
    """`{"contacts", "total", "limit", "offset", "segment"}`: live contacts by default,
    ordered by id so pages stay put while a sync writes."""
    reject_unknown(request, _PAGE_KEYS)
    page = service.find_contacts(
        flt, sort=sort, descending=order == "desc", limit=limit, offset=offset
    )
    page["segment"] = _segment_echo(flt)
    return page


@router.get(
    "/contacts.csv",
    summary="Export matching contacts as CSV (streamed)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "The CSV file"},
        **error_responses(400, 401, 422),
    },
)
def export_contacts(
    request: Request,
    service: Service,
    flt: Filter,
    sort: Annotated[SortColumn, Query(description="Sort column")] = "updated_at",
    order: Annotated[Order, Query(description="asc or desc")] = "desc",
    columns: Annotated[
        str | None,
        Query(description="Comma-separated columns (default: the dashboard's visible ones)"),
    ] = None,
    labels: Annotated[
        bool,
        Query(
            description="true: enumeration columns (lifecycle stage, ...) hold HubSpot's "
            "option labels; false (default): internal values, for re-import"
        ),
    ] = False,
) -> StreamingResponse:
    """Every matching contact as CSV, byte for byte what the dashboard's Export CSV and
    `hubsync contacts --format csv` give for the same filter, sort and choice of option
    labels or internal values (their default, `updated_at` descending with internal
    values, is this route's default too)."""
    reject_unknown(request, _CSV_KEYS)
    wanted = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    try:
        pieces = service.iter_contacts_csv(
            flt, columns=wanted, sort=sort, descending=order == "desc", labels=labels
        )
    except ValueError as exc:
        raise bad_parameter("columns", str(exc)) from None
    name = service.csv_filename(flt, utcnow().date())
    return StreamingResponse(
        pieces,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/contacts/{hubspot_id}",
    response_model=ContactDetail,
    summary="One contact",
    responses=error_responses(401, 404),
)
def get_contact(
    service: Service,
    hubspot_id: Annotated[str, Path(description="The HubSpot record id")],
) -> dict[str, Any]:
    """Every stored field of one contact (archived ones too), its segments and lists."""
    contact = service.contact_record(hubspot_id)
    if contact is None:
        raise ApiError(
            404,
            f"No contact with id {hubspot_id}",
            "Contacts appear here once synced; check the id or run a sync.",
        )
    return contact


@router.delete(
    "/contacts",
    response_model=Deleted,
    summary="Delete every stored contact (needs confirm=true)",
    responses=error_responses(400, 401, 409),
)
def clear_contacts(
    service: Service,
    jobs: Jobs,
    confirm: Annotated[
        bool, Query(description="Must be true: this deletes every stored contact")
    ] = False,
) -> Deleted:
    """Delete every stored contact, its segments and list memberships (sync history stays;
    the next sync is a full one)."""
    if not confirm:
        raise bad_parameter(
            "confirm",
            "must be true to delete every stored contact",
            f"Send DELETE {PREFIX}/contacts?confirm=true.",
            status=400,
        )
    if (running := jobs.running_elsewhere()) is not None:
        raise busy(running)
    return Deleted(deleted=service.clear_contacts())
