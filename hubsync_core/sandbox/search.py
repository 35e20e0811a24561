"""Search request parsing and filter semantics, independent of how contacts are stored.

Semantics follow HubSpot's documentation: filters AND inside a group, groups OR; number and
date properties compare numerically (dates as epoch milliseconds); strings compare
case-insensitively for EQ/NEQ; IN/NOT_IN compare the lowercased stored value with the values as
given (so upper-case IN values miss, as on HubSpot); CONTAINS_TOKEN matches whole words, with `*`
wildcards inside words. Negative operators (NEQ, NOT_IN, NOT_CONTAINS_TOKEN) include contacts
without a value.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import bad_request

OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "GT",
        "GTE",
        "LT",
        "LTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
    }
)
MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
MAX_LIMIT = 200
RESULT_CAP = 10_000

_TOKEN_SPLIT = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class Filter:
    prop: str
    op: str
    value: str | None = None
    high: str | None = None
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sort:
    prop: str
    descending: bool


@dataclass(frozen=True)
class SearchRequest:
    groups: tuple[tuple[Filter, ...], ...]
    sort: Sort | None
    properties: tuple[str, ...]
    limit: int
    after: int
    query: str


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_request(body: Any) -> SearchRequest:
    """Validate a search body as HubSpot does; raise ApiError(400) on anything off."""
    if not isinstance(body, dict):
        raise bad_request("Invalid input JSON: expected an object")
    groups_in = body.get("filterGroups") or []
    if not isinstance(groups_in, list):
        raise bad_request("filterGroups must be a list")
    if len(groups_in) > MAX_GROUPS:
        raise bad_request(f"Too many filter groups ({len(groups_in)}); the maximum is {MAX_GROUPS}")
    groups: list[tuple[Filter, ...]] = []
    total = 0
    for g in groups_in:
        filters_in = g.get("filters") if isinstance(g, dict) else None
        if not isinstance(filters_in, list):
            raise bad_request("Each filter group needs a list of filters")
        if len(filters_in) > MAX_FILTERS_PER_GROUP:
            raise bad_request(
                f"Too many filters in a group ({len(filters_in)}); "
                f"the maximum is {MAX_FILTERS_PER_GROUP}"
            )
        total += len(filters_in)
        groups.append(tuple(_parse_filter(f) for f in filters_in))
    if total > MAX_FILTERS:
        raise bad_request(f"Too many filters ({total}); the maximum is {MAX_FILTERS}")

    sorts = body.get("sorts") or []
    if not isinstance(sorts, list):
        raise bad_request("sorts must be a list")
    if len(sorts) > 1:
        raise bad_request("Only one sort is supported")
    sort = _parse_sort(sorts[0]) if sorts else None

    props = body.get("properties") or []
    if not isinstance(props, list) or not all(isinstance(p, str) for p in props):
        raise bad_request("properties must be a list of strings")

    limit = body.get("limit", 10)
    if limit is None:
        limit = 10
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise bad_request(f"limit must be between 1 and {MAX_LIMIT}")
    after_raw = body.get("after")
    after = 0
    if after_raw not in (None, ""):
        text = str(after_raw)
        if not text.isdigit():
            raise bad_request(f"Invalid after value '{text}': expected a number")
        after = int(text)
    if after >= RESULT_CAP:
        raise bad_request(
            f"Paging past {RESULT_CAP} results is not supported for search "
            f"(after={after}); narrow the filters."
        )
    query = body.get("query") or ""
    if not isinstance(query, str):
        raise bad_request("query must be a string")
    return SearchRequest(tuple(groups), sort, tuple(props), limit, after, query.strip())


def _parse_filter(f: Any) -> Filter:
    if not isinstance(f, dict):
        raise bad_request("Each filter must be an object")
    prop = f.get("propertyName")
    op = f.get("operator")
    if not isinstance(prop, str) or not prop:
        raise bad_request("A filter is missing propertyName")
    if op not in OPERATORS:
        raise bad_request(f"Unknown operator {op!r}; expected one of {sorted(OPERATORS)}")
    value, high = _text(f.get("value")), _text(f.get("highValue"))
    values_in = f.get("values") or []
    if not isinstance(values_in, list):
        raise bad_request("values must be a list")
    values = tuple(v for v in (_text(x) for x in values_in) if v is not None)
    if op in ("EQ", "NEQ", "GT", "GTE", "LT", "LTE", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        if value is None:
            raise bad_request(f"Operator {op} on {prop} needs a value")
    elif op == "BETWEEN":
        if value is None or high is None:
            raise bad_request(f"Operator BETWEEN on {prop} needs value and highValue")
    elif op in ("IN", "NOT_IN") and not values:
        raise bad_request(f"Operator {op} on {prop} needs values")
    return Filter(prop, op, value, high, values)


def _parse_sort(s: Any) -> Sort:
    if isinstance(s, str):
        # Older clients send sorts as strings: "prop" or "-prop".
        return Sort(s.lstrip("-"), s.startswith("-"))
    if not isinstance(s, dict) or not isinstance(s.get("propertyName"), str):
        raise bad_request("A sort needs propertyName")
    direction = s.get("direction", "ASCENDING")
    if direction not in ("ASCENDING", "DESCENDING"):
        raise bad_request(f"Unknown sort direction {direction!r}")
    return Sort(s["propertyName"], direction == "DESCENDING")


# ---- value conversion ------------------------------------------------------------------------
def to_number(text: str | None) -> float | None:
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return None if value != value else value  # NaN compares as no value


def to_ms(text: str | None) -> int | None:
    """Epoch ms from an epoch-ms string, an ISO datetime or an ISO date (midnight UTC)."""
    if text is None or text == "":
        return None
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        if len(text) == 10:
            d = dt.date.fromisoformat(text)
            return int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp() * 1000)
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp() * 1000)


def comparable(ptype: str) -> Callable[[str | None], Any]:
    """How stored values of a property type compare (None = no comparable value)."""
    if ptype == "number":
        return to_number
    if ptype in ("datetime", "date"):
        return to_ms
    return lambda v: None if v is None else v.lower()


def filter_operand(ptype: str, text: str | None, prop: str) -> Any:
    conv = comparable(ptype)
    value = conv(text)
    if value is None and ptype in ("number", "datetime", "date"):
        raise bad_request(f"Invalid value {text!r} for {ptype} property {prop}")
    return value


def _tokens(value: str) -> set[str]:
    low = value.lower()
    tokens = {t for t in _TOKEN_SPLIT.split(low) if t}
    tokens.add(low)
    return tokens


def _token_matcher(pattern: str) -> Callable[[str], bool]:
    pattern = pattern.lower().strip()
    if "*" in pattern:
        rx = re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$", re.S)
        return lambda v: any(rx.match(t) for t in _tokens(v))
    wanted = [t for t in _TOKEN_SPLIT.split(pattern) if t] or [pattern]
    return lambda v: all(w in _tokens(v) for w in wanted)


def make_predicate(flt: Filter, ptype: str, multi: bool) -> Callable[[str | None], bool]:
    """A Python predicate over one stored value (string or None)."""
    op = flt.op
    if op == "HAS_PROPERTY":
        return lambda v: v is not None and v != ""
    if op == "NOT_HAS_PROPERTY":
        return lambda v: v is None or v == ""
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        match = _token_matcher(flt.value or "")
        if op == "CONTAINS_TOKEN":
            return lambda v: v is not None and match(v)
        return lambda v: v is None or not match(v)

    conv = comparable(ptype)
    if op in ("IN", "NOT_IN"):
        if ptype in ("number", "datetime", "date"):
            wanted = {filter_operand(ptype, x, flt.prop) for x in flt.values}
        else:
            wanted = set(flt.values)  # as given: HubSpot wants lowercase values here
        positive = op == "IN"

        def member(v: str | None) -> bool:
            if v is None:
                return not positive
            parts = v.split(";") if multi else [v]
            hit = any(conv(p) in wanted for p in parts)
            return hit if positive else not hit

        return member

    operand = filter_operand(ptype, flt.value, flt.prop)
    high = filter_operand(ptype, flt.high, flt.prop) if op == "BETWEEN" else None
    compare: Callable[[Any], bool]
    if op in ("EQ", "NEQ"):
        compare = operand.__eq__
    elif op == "GT":
        compare = lambda x: x > operand  # noqa: E731
    elif op == "GTE":
        compare = lambda x: x >= operand  # noqa: E731
    elif op == "LT":
        compare = lambda x: x < operand  # noqa: E731
    elif op == "LTE":
        compare = lambda x: x <= operand  # noqa: E731
    else:  # BETWEEN
        compare = lambda x: operand <= x <= high  # noqa: E731

    def test(v: str | None) -> bool:
        if v is None:
            return False
        parts = v.split(";") if multi else [v]
        for p in parts:
            x = conv(p)
            if x is not None and compare(x) is True:
                return True
        return False

    if op == "NEQ":
        return lambda v: not test(v)
    return test


def array_mask(flt: Filter, ptype: str, arr: np.ndarray) -> np.ndarray | None:
    """Vectorised filter over a numeric column (ids, epoch ms); None if not expressible."""
    op = flt.op
    if op == "HAS_PROPERTY":
        return np.ones(len(arr), dtype=bool)
    if op == "NOT_HAS_PROPERTY":
        return np.zeros(len(arr), dtype=bool)
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        return None
    if op in ("IN", "NOT_IN"):
        wanted = np.array([filter_operand(ptype, x, flt.prop) for x in flt.values])
        hit = np.isin(arr, wanted)
        return hit if op == "IN" else ~hit
    value = filter_operand(ptype, flt.value, flt.prop)
    if op == "EQ":
        return arr == value
    if op == "NEQ":
        return arr != value
    if op == "GT":
        return arr > value
    if op == "GTE":
        return arr >= value
    if op == "LT":
        return arr < value
    if op == "LTE":
        return arr <= value
    high = filter_operand(ptype, flt.high, flt.prop)
    return (arr >= value) & (arr <= high)


def sort_key(ptype: str) -> Callable[[str | None], Any]:
    return comparable(ptype)


def query_matcher(query: str) -> Callable[[list[str | None]], bool]:
    """Free-text `query`: every word must prefix some word of the searchable values."""
    words = [w for w in _TOKEN_SPLIT.split(query.lower()) if w]

    def match(values: list[str | None]) -> bool:
        tokens: set[str] = set()
        for v in values:
            if v:
                tokens |= _tokens(v)
        return all(any(t.startswith(w) for t in tokens) for w in words)

    return match
