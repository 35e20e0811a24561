"""Facets: per option of a facet, how many contacts picking it would give."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from sqlalchemy import Connection

from hubsync_core.store import segment_store
from hubsync_core.store.database import Database
from hubsync_core.store.explorer.filters import NO_STAGE, ContactFilter
from hubsync_core.store.explorer.planner import Plan, stored_keys
from hubsync_core.store.explorer.sql import LISTS, exploring, reading

#: HubSpot's default lifecycle stages in funnel order; others (custom) come after them.
FUNNEL_STAGES: tuple[str, ...] = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
)


@dataclass(frozen=True)
class FacetValue:
    """One option of a facet and how many contacts it would give with the rest of the filter."""

    value: str
    label: str
    count: int
    selected: bool


FacetName = Literal["segment", "lifecycle", "list"]
FACETS: tuple[str, ...] = ("segment", "lifecycle", "list")


def known_segments(db: Database) -> list[tuple[str, str]]:
    """(key, display name) of every segment: the defined ones in `segment_store` order
    (built-ins first, zero members or not), then keys found only in `contact_segments`.
    Filters and `contact_segments` use the key; pages show the name."""
    labels = segment_labels(db)
    with reading(db) as conn:
        return _with_stored_keys(conn, labels)


def segment_labels(db: Database) -> list[tuple[str, str]]:
    """(key, display name) of the defined segments (built-ins from code, users from the table)."""
    return [(seg.key, seg.name) for seg in segment_store.list_definitions(db)]


def _with_stored_keys(conn: Connection, labels: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return add_stored_keys(labels, stored_keys(conn))


#: The distinct segment keys by a loose index scan: one seek in the (segment, hubspot_id)
#: primary key per key, instead of reading every membership row (250,000 at 200,000
#: contacts). Portable SQL: a recursive CTE on both SQLite and PostgreSQL.


def add_stored_keys(labels: list[tuple[str, str]], stored: Iterable[str]) -> list[tuple[str, str]]:
    defined = {key for key, _ in labels}
    return labels + [(key, key) for key in sorted(set(stored) - defined)]


def stage_sort_key(stage: str | None) -> tuple[int, int, str]:
    """Funnel order for the default stages, then custom stages A-Z, then no stage."""
    if stage is None or stage in ("", NO_STAGE):
        return (2, 0, "")
    if stage in FUNNEL_STAGES:
        return (0, FUNNEL_STAGES.index(stage), stage)
    return (1, 0, stage.casefold())


def facet_counts(
    db: Database, flt: ContactFilter | None = None, facet: FacetName = "segment"
) -> list[FacetValue]:
    """Counts per option of a facet for the current filter, ignoring the facet's own selection
    (so each count says what picking that option would give).

    `segment`: every segment in `segment_definitions` or `contact_segments`, zeros included,
    defined ones first in their order. `lifecycle`: stages present under the filter (plus
    selected ones), funnel order, `NO_STAGE` last. `list`: synced lists with members under
    the filter (plus selected ones), by name.
    """
    if facet not in FACETS:
        raise ValueError(f"Unknown facet {facet!r}: choose one of {', '.join(FACETS)}")
    flt = flt or ContactFilter()
    labels = segment_labels(db) if facet == "segment" else []
    with exploring(db) as conn:
        return facet_values(Plan(conn, db.dialect, flt, facets=(facet,)), facet, labels)


def facet_values(plan: Plan, facet: str, labels: list[tuple[str, str]]) -> list[FacetValue]:
    """`labels`: the defined segments' (key, name), read before `plan`'s connection opened."""
    flt = plan.flt
    if facet == "segment":
        counts = plan.segment_counts()
        names = add_stored_keys(labels, plan.stored_keys())
        known = {key for key, _ in names}
        names += [(key, key) for key in flt.segments if key not in known]
        return [
            FacetValue(key, label, counts.get(key, 0), key in flt.segments) for key, label in names
        ]
    if facet == "lifecycle":
        stages: dict[str, int] = {}
        for stage, n in plan.stage_counts().items():
            key = stage or NO_STAGE
            stages[key] = stages.get(key, 0) + n
        stages = {s: n for s, n in stages.items() if n}
        for stage in flt.lifecycle_stages:
            stages.setdefault(stage, 0)
        return [
            FacetValue(s, "No stage" if s == NO_STAGE else s, stages[s], s in flt.lifecycle_stages)
            for s in sorted(stages, key=stage_sort_key)
        ]
    return _list_facet(plan)


def _list_facet(plan: Plan) -> list[FacetValue]:
    flt, conn = plan.flt, plan.conn
    counts = {list_id: n for list_id, n in plan.list_counts().items() if n}
    for list_id in flt.list_ids:
        counts.setdefault(list_id, 0)
    names = {
        row.list_id: row.name for row in conn.execute(sa.select(LISTS.c.list_id, LISTS.c.name))
    }
    values = [FacetValue(i, names.get(i) or i, n, i in flt.list_ids) for i, n in counts.items()]
    return sorted(values, key=lambda v: (v.label.casefold(), v.value))


# --- One contact, SDK rows, overview --------------------------------------------------------
