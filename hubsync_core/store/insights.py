"""Chart data for the Insights page: plain lists of small frozen dataclasses (or tuples),
oldest first where there is time, zeros where a category is empty, `[]` on an empty database.

Every function reads the database only; none imports a UI library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from hubsync_core.run_status import RunStatus
from hubsync_core.store import property_options, segment_store
from hubsync_core.store.database import Database
from hubsync_core.store.explorer import (
    FUNNEL_STAGES,
    NO_STAGE,
    ContactFilter,
    count_contacts,
    facet_counts,
    stage_sort_key,
)
from hubsync_core.store.explorer.sql import CONTACTS, reading
from hubsync_core.store.explorer.terms import filter_terms
from hubsync_core.store.runs import RUNS

#: A colour per run status (Vega/Tableau palette, readable on light and dark themes).
STATUS_COLOURS: dict[str, str] = {
    RunStatus.SUCCEEDED: "#54A24B",
    RunStatus.PARTIAL: "#F58518",
    RunStatus.FAILED: "#E45756",
    RunStatus.CANCELLED: "#9D9D9D",
    RunStatus.INTERRUPTED: "#B279A2",
    RunStatus.RUNNING: "#4C78A8",
}
#: The segments the engaged-vs-cold trend follows.
TREND_SEGMENTS: tuple[str, ...] = ("engaged", "cold")
_FALLBACK_COLOUR = "#72B7B2"


@dataclass(frozen=True)
class SegmentShare:
    """One segment's live members. `share` is of all live contacts (segments overlap, so
    shares need not add up to 1)."""

    key: str
    name: str
    colour: str
    count: int
    share: float


def segment_distribution(db: Database, settings: Any = None) -> list[SegmentShare]:
    """Every segment (defined ones in their order, zero members included) with its live
    member count and share. `settings` gives the built-ins' colours when they were not
    edited (see `segment_store.list_definitions`)."""
    colours = {seg.key: seg.colour for seg in segment_store.list_definitions(db, settings)}
    facets = facet_counts(db, ContactFilter(), "segment")
    total = count_contacts(db)
    return [
        SegmentShare(
            key=f.value,
            name=f.label,
            colour=colours.get(f.value, _FALLBACK_COLOUR),
            count=f.count,
            share=f.count / total if total else 0.0,
        )
        for f in facets
    ]


@dataclass(frozen=True)
class RunPoint:
    """One sync run for the history charts. `duration_seconds` falls back to finished minus
    started; None while a run is still going."""

    id: int
    mode: str
    status: str
    colour: str
    started_at: datetime
    finished_at: datetime | None
    contacts: int
    pages: int
    api_calls: int
    retries: int
    errors: int
    rate_limited: int
    duration_seconds: float | None
    by_segment: dict[str, int] = field(default_factory=dict)


def sync_history(db: Database, limit: int = 100) -> list[RunPoint]:
    """The last `limit` sync runs, oldest first."""
    if limit < 0:
        raise ValueError("limit must be 0 or more")
    c = RUNS.c
    columns = [
        c.id,
        c.mode,
        c.status,
        c.started_at,
        c.finished_at,
        c.contacts,
        c.pages,
        c.api_calls,
        c.retries,
        c.errors,
        c.rate_limited,
        c.duration_seconds,
        c.by_segment,
    ]
    stmt = sa.select(*columns).order_by(c.started_at.desc(), c.id.desc()).limit(limit)
    with reading(db) as conn:
        rows = conn.execute(stmt).all()
    points = []
    for row in reversed(rows):
        started = row.started_at
        finished = row.finished_at
        duration = row.duration_seconds
        if duration is None and finished is not None and started is not None:
            duration = max(0.0, (finished - started).total_seconds())
        points.append(
            RunPoint(
                id=int(row.id),
                mode=row.mode,
                status=row.status,
                colour=STATUS_COLOURS.get(row.status, _FALLBACK_COLOUR),
                started_at=started,
                finished_at=finished,
                contacts=int(row.contacts or 0),
                pages=int(row.pages or 0),
                api_calls=int(row.api_calls or 0),
                retries=int(row.retries or 0),
                errors=int(row.errors or 0),
                rate_limited=int(row.rate_limited or 0),
                duration_seconds=None if duration is None else float(duration),
                by_segment=_int_counts(row.by_segment),
            )
        )
    return points


def _int_counts(value: Any) -> dict[str, int]:
    """`by_segment` as {name: int}; entries that are not whole numbers are left out."""
    if not isinstance(value, Mapping):
        return {}
    counts: dict[str, int] = {}
    for key, count in value.items():
        if isinstance(count, bool):
            continue
        if isinstance(count, int | float) and float(count).is_integer():
            counts[str(key)] = int(count)
    return counts


@dataclass(frozen=True)
class EngagementPoint:
    """Engaged and cold counts recorded by one finished sync run."""

    run_id: int
    started_at: datetime
    status: str
    engaged: int
    cold: int


def engagement_trend(db: Database, limit: int = 100) -> list[EngagementPoint]:
    """Engaged vs cold after each finished run (from `sync_runs.by_segment`), oldest first.
    Runs still going, or that recorded neither count, are left out."""
    return [
        EngagementPoint(
            run_id=p.id,
            started_at=p.started_at,
            status=p.status,
            engaged=p.by_segment.get("engaged", 0),
            cold=p.by_segment.get("cold", 0),
        )
        for p in sync_history(db, limit)
        if p.status != RunStatus.RUNNING and any(s in p.by_segment for s in TREND_SEGMENTS)
    ]


@dataclass(frozen=True)
class StageCount:
    """Live contacts at one lifecycle stage. `stage` is `NO_STAGE` for contacts without one."""

    stage: str
    label: str
    count: int


def lifecycle_funnel(db: Database) -> list[StageCount]:
    """Live contacts per lifecycle stage: HubSpot's seven default stages in funnel order
    (zeros included), then custom stages A-Z, then contacts without a stage (if any)."""
    counts = {f.value: f.count for f in facet_counts(db, ContactFilter(), "lifecycle")}
    if not any(counts.values()):
        return []
    stages = list(FUNNEL_STAGES) + [s for s in counts if s not in FUNNEL_STAGES]
    # People read HubSpot's option labels ("Former customer"), not internal values.
    labels = property_options.option_labels(db).get("lifecyclestage", {})
    return [
        StageCount(
            stage,
            "No stage" if stage == NO_STAGE else labels.get(stage, stage),
            counts.get(stage, 0),
        )
        for stage in sorted(dict.fromkeys(stages), key=stage_sort_key)
        if stage in FUNNEL_STAGES or counts.get(stage, 0)
    ]


def created_per_month(db: Database, flt: ContactFilter | None = None) -> list[tuple[date, int]]:
    """Contacts matching `flt` (default: live contacts) created in each month, as (first day
    of the month, count), every month from the first to the last with contacts (gaps as 0).
    Contacts without a creation date are not counted."""
    flt = flt or ContactFilter()
    created = CONTACTS.c.created_at
    if db.is_sqlite:
        month = sa.func.strftime("%Y-%m", created)
    else:
        month = sa.func.to_char(sa.func.date_trunc("month", created), "YYYY-MM")
    month = month.label("month")
    stmt = (
        sa.select(month, sa.func.count())
        .where(*filter_terms(flt, db.dialect), created.is_not(None))
        .group_by(month)
        .order_by(month)
    )
    with reading(db) as conn:
        found = {str(m): int(n) for m, n in conn.execute(stmt) if m}
    if not found:
        return []
    months = sorted(found)
    first, last = _month(months[0]), _month(months[-1])
    out: list[tuple[date, int]] = []
    index, end = first.year * 12 + first.month - 1, last.year * 12 + last.month - 1
    while index <= end:
        day = date(index // 12, index % 12 + 1, 1)
        out.append((day, found.get(f"{day:%Y-%m}", 0)))
        index += 1
    return out


def _month(text: str) -> date:
    year, month = text.split("-")[:2]
    return date(int(year), int(month), 1)
