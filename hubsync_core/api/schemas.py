"""Typed request and response bodies: the OpenAPI document at `/docs` is generated from them.

Field names of `SyncRequest`, `SyncStatsBody`, `ContactBody` and `ContactsPage` are the
original spec's, byte for byte; fields after the spec's are additions.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Literal, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

from hubsync_core.clock import iso_z
from hubsync_core.columns import COLUMNS, Column, ColumnKind
from hubsync_core.run_status import RunStatus
from hubsync_core.store.models import SyncRun
from hubsync_core.sync.model import SyncProgress, SyncStats


class SyncRequest(BaseModel):
    """`POST .../sync`: the spec's body plus `mode`, `wait` and `sweep`."""

    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(100, ge=1, le=100, description="Contacts per page (HubSpot's max 100)")
    max_contacts: int | None = Field(None, ge=1, description="Stop after this many (testing)")
    sync_type: Literal["all", "chainge"] = Field(
        "all", description="all contacts, or only the CHAINge ones"
    )
    mode: Literal["auto", "full", "incremental"] = Field(
        "auto", description="auto: incremental once a full sync completed, else full"
    )
    wait: bool = Field(
        True, description="true: answer the stats when done; false: answer 202 at once"
    )
    sweep: bool = Field(
        False, description="Also re-read every id to find contacts deleted without archiving"
    )


class SyncAccepted(BaseModel):
    """`POST .../sync` with `"wait": false`: the run started; follow `location`."""

    run_id: int
    status: Literal["running"] = "running"
    location: str
    message: str


class RunProgress(BaseModel):
    """Live numbers of a run (final numbers once it ended)."""

    phase: str
    alongside: list[str] = Field(
        default_factory=list, description="Work running at the same time as `phase`"
    )
    contacts: int
    pages: int
    expected_total: int | None
    fraction: float | None = Field(description="contacts / expected_total, when known")
    contacts_per_second: float
    elapsed_seconds: float
    eta_seconds: float | None = Field(description="Seconds left at the current rate")
    retries: int
    rate_limited: int
    rate_limit_remaining: int | None

    @classmethod
    def of(cls, progress: SyncProgress) -> RunProgress:
        return cls(
            phase=progress.phase,
            alongside=list(progress.alongside),
            contacts=progress.contacts,
            pages=progress.pages,
            expected_total=progress.expected_total,
            fraction=progress.fraction,
            contacts_per_second=round(progress.contacts_per_second, 1),
            elapsed_seconds=round(progress.elapsed_seconds, 3),
            eta_seconds=None if progress.eta_seconds is None else round(progress.eta_seconds, 1),
            retries=progress.retries,
            rate_limited=progress.rate_limited,
            rate_limit_remaining=progress.rate_limit_remaining,
        )


class RunBody(BaseModel):
    """One sync run as recorded."""

    id: int
    mode: str
    status: str
    owner: str = Field(description="Who ran it: cli, dashboard, api, sdk, with host and pid")
    started_at: str | None
    finished_at: str | None
    duration_seconds: float | None
    pages: int
    contacts: int
    api_calls: int
    retries: int
    rate_limited: int
    errors: int
    rejected: int
    expected_total: int | None
    by_segment: dict[str, Any]
    message: str | None
    hint: str | None
    correlation_id: str | None
    resumed_from: int | None
    progress: RunProgress | None = Field(
        None, description="Live progress (GET .../sync/runs/{id} only)"
    )

    @classmethod
    def of(cls, run: SyncRun, progress: SyncProgress | None = None) -> RunBody:
        return cls(
            id=run.id or 0,
            mode=run.mode,
            status=run.status,
            owner=run.owner,
            started_at=iso_z(run.started_at),
            finished_at=iso_z(run.finished_at),
            duration_seconds=run.duration_seconds,
            **run.counters(),
            by_segment=dict(run.by_segment or {}),
            message=run.error_message,
            hint=run.error_hint,
            correlation_id=run.correlation_id,
            resumed_from=run.resumed_from,
            progress=RunProgress.of(progress) if progress is not None else None,
        )


class RunsPage(BaseModel):
    """`GET .../sync/runs`: newest first."""

    runs: list[RunBody]
    total: int
    limit: int
    offset: int


def _contact_field(column: Column) -> tuple[Any, Any]:
    """A contact column's type and default in the API: times as ISO strings with a Z."""
    if column.kind is ColumnKind.ID:
        return str, ...
    if column.kind is ColumnKind.FLAG:
        return bool, False
    if column.kind is ColumnKind.MEMBERS:
        return list[str], ...
    return str | None, ...


def _spec_first(name: str) -> int:
    return SPEC_CONTACT.index(name) if name in SPEC_CONTACT else len(SPEC_CONTACT)


#: The original spec's contact, in its key order; the other SDK columns follow.
SPEC_CONTACT: tuple[str, ...] = (
    "email",
    "firstname",
    "lastname",
    "company",
    "phone",
    "jobtitle",
    "hubspot_id",
    "list_memberships",
    "segments",
    "properties",
    "created_at",
    "updated_at",
    "synced_at",
)
_CONTACT_FIELDS: dict[str, tuple[Any, Any]] = {
    "properties": (dict[str, Any], ...),
    **{c.name: _contact_field(c) for c in COLUMNS if c.sdk},
}

ContactBody = create_model(
    "ContactBody",
    __doc__="A contact with the spec's fields (plus `lifecyclestage` and `archived`).",
    **{name: _CONTACT_FIELDS[name] for name in sorted(_CONTACT_FIELDS, key=_spec_first)},
)


class ListRef(BaseModel):
    list_id: str
    name: str | None


class ContactDetail(ContactBody):
    """`GET .../contacts/{hubspot_id}`: every stored field, archived contacts included."""

    archived_at: str | None = None
    archived_reason: str | None = None
    lists: list[ListRef] = []


class ContactsPage(BaseModel):
    """The spec's answer to `GET .../contacts`."""

    contacts: list[ContactBody]
    total: int
    limit: int
    offset: int
    segment: str | list[str] | None = Field(
        description="The segment asked for (a list when several were), else null"
    )


class Deleted(BaseModel):
    """`DELETE .../contacts?confirm=true`."""

    deleted: int = Field(description="How many contacts were removed")


class SegmentBody(BaseModel):
    key: str = Field(description="The value `segment=` takes")
    name: str
    colour: str
    description: str
    builtin: bool
    contacts: int = Field(description="Live contacts in the segment now")
    rule: dict[str, Any]


class SegmentsBody(BaseModel):
    segments: list[SegmentBody]


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class LastSync(BaseModel):
    run_id: int
    status: str
    finished_at: str | None
    age_seconds: float | None = Field(description="Seconds since it finished")


class AuditVerdict(BaseModel):
    """The last counting audit (`hubsync audit`): is the copy proven equal to HubSpot?"""

    status: Literal["in_sync", "drift", "pending"]
    verdict: str = Field(description="e.g. `in sync: 200,000 of 200,000; checked 12:04 UTC; ...`")
    checked_at: str | None = Field(description="ISO 8601 UTC with a Z")
    differences: int = Field(description="missing + extra + stale contacts")
    pending: int = Field(description="changes younger than the search index lag")

    @classmethod
    def of(cls, report: dict[str, Any] | None) -> AuditVerdict | None:
        if report is None:
            return None
        return cls(
            status=report["status"],
            verdict=report["verdict"],
            checked_at=report.get("checkedAt"),
            differences=report["differences"],
            pending=report["counts"]["pending"],
        )


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    database: str = Field(description="ok, or why it cannot be reached")
    sync_running: bool
    last_sync: LastSync | None
    audit: AuditVerdict | None = None

    @staticmethod
    def age(finished_at: datetime | None, now: datetime) -> float | None:
        return None if finished_at is None else round((now - finished_at).total_seconds(), 1)


def _dataclass_fields(source: type, *, skip: tuple[str, ...] = ()) -> dict[str, tuple[Any, Any]]:
    """A dataclass's fields as pydantic field definitions (type, default), so a response body
    repeats no field list of the object it serialises."""
    # Module names only: SyncStats' `dict` method would shadow the builtin in its namespace.
    hints = get_type_hints(source, localns={})
    fields: dict[str, tuple[Any, Any]] = {}
    for field in dataclasses.fields(source):
        if field.name in skip:
            continue
        if field.default_factory is not dataclasses.MISSING:
            default = Field(default_factory=field.default_factory)
        else:
            default = ... if field.default is dataclasses.MISSING else field.default
        fields[field.name] = (hints[field.name], default)
    return fields


class _SyncStatsBase(BaseModel):
    # Every field is in every answer: the response schema says so.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    @classmethod
    def of(cls, stats: SyncStats) -> Any:
        data = stats.to_dict()
        data["timestamp"] = iso_z(stats.timestamp)
        data["by_segment"] = {k: int(v) for k, v in (stats.by_segment or {}).items()}
        return cls.model_validate(data)


#: The spec's SyncStats (first six fields) plus what the run did: `SyncStats`' fields but
#: the daily budget, with the time as text, and the last counting audit.
SyncStatsBody = create_model(
    "SyncStatsBody",
    __base__=_SyncStatsBase,
    __doc__="The spec's SyncStats (first six fields) plus what the run did.",
    **{
        **_dataclass_fields(SyncStats, skip=("daily_limit", "daily_remaining")),
        "timestamp": (
            str | None,
            Field(None, description="When the run started, ISO 8601 UTC with a Z"),
        ),
        "status": (
            str,
            Field(
                RunStatus.SUCCEEDED.value,
                description="succeeded, partial, failed, cancelled or interrupted",
            ),
        ),
        "audit": (AuditVerdict | None, Field(None, description="The last counting audit")),
    },
)
