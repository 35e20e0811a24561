"""Builders for CRM search bodies: every `filterGroups` entry HubSync sends comes from here.

HubSpot ANDs the filters inside one group and ORs the groups; dates filter as epoch
milliseconds and every value travels as a string.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

Filter = dict[str, Any]
FilterGroups = list[dict[str, Any]]

#: The property every id-ordered walk filters and sorts on.
ID_PROPERTY = "hs_object_id"
#: For contacts the modified-date property is `lastmodifieddate` (not `hs_lastmodifieddate`).
MODIFIED_PROPERTY = "lastmodifieddate"


def condition(prop: str, operator: str, value: object) -> Filter:
    """One filter: `prop <operator> value` (the value sent as a string)."""
    return {"propertyName": prop, "operator": operator, "value": str(value)}


def group(*filters: Filter) -> FilterGroups:
    """The filter groups of one AND-ed group (no filter: every contact)."""
    return [{"filters": list(filters)}] if filters else []


def id_after(last_id: object) -> Filter:
    """`hs_object_id > last_id`: where an id-ordered walk continues."""
    return condition(ID_PROPERTY, "GT", last_id)


def id_from(first_id: object) -> Filter:
    """`hs_object_id >= first_id`."""
    return condition(ID_PROPERTY, "GTE", first_id)


def id_below(end_id: object) -> Filter:
    """`hs_object_id < end_id`."""
    return condition(ID_PROPERTY, "LT", end_id)


def id_in(ids: Iterable[object]) -> Filter:
    """`hs_object_id IN (ids)`."""
    return {"propertyName": ID_PROPERTY, "operator": "IN", "values": [str(i) for i in ids]}


def modified_between(start_ms: int, end_ms: int) -> list[Filter]:
    """`lastmodifieddate` within [start_ms, end_ms] (epoch milliseconds, both ends included)."""
    return [
        condition(MODIFIED_PROPERTY, "GTE", start_ms),
        condition(MODIFIED_PROPERTY, "LTE", end_ms),
    ]


def modified_from(start_ms: int) -> Filter:
    """`lastmodifieddate >= start_ms` (epoch milliseconds)."""
    return condition(MODIFIED_PROPERTY, "GTE", start_ms)


def id_range(low: int, high: int | None) -> list[Filter]:
    """`low <= hs_object_id < high` (no upper bound when `high` is None)."""
    return [id_from(low)] if high is None else [id_from(low), id_below(high)]


def contains_token(prop: str, pattern: str) -> Filter:
    """`prop CONTAINS_TOKEN pattern` (`*` wildcards match inside words)."""
    return condition(prop, "CONTAINS_TOKEN", pattern)


def by_id(direction: str = "ASCENDING") -> list[dict[str, str]]:
    """The one sort of an id-ordered walk."""
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"direction must be ASCENDING or DESCENDING, got {direction!r}")
    return [{"propertyName": ID_PROPERTY, "direction": direction}]


def with_filters(base: Sequence[Filter], *more: Filter) -> FilterGroups:
    """One group of `base` plus `more` filters."""
    return group(*base, *more)
