"""Evaluation in Python: `predicate`, `matches` and `segments_for`.

Semantics (the Python evaluator `matches` and the SQL from `compile_rule` implement the same ones,
and the tests hold them to it on SQLite and PostgreSQL):

- **Case**: string comparisons (eq, neq, contains, starts_with, in) ignore ASCII case only
  (``A-Z`` = ``a-z``); other letters compare exactly ("Ä" ≠ "ä"). SQLite's ``lower()`` folds only
  ASCII, so the rule is the same on every backend.
- **Empty**: a missing value, SQL NULL and ``""`` are all *empty*. Every op except ``is_empty``,
  ``neq`` and ``in_list`` is false for an empty value; ``neq`` is exactly ``not eq``, so an empty
  value is "not equal" to anything.
- **Numbers**: eq/neq/gt/lt/between with a number (int or float) compare numerically. A stored
  text value counts as a number only when it looks like ``-?[0-9]+(.[0-9]+)?``; anything else
  simply does not match (no SQL error on either backend).
- **Dates**: gt/lt/between with a date string (``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM[:SS]``,
  timezone offsets converted to UTC) compare instants; a date alone means its midnight, except as
  the upper bound of ``between``, where it includes that whole day. On ``created_at``/``updated_at``
  eq/neq with a date alone mean "on that day". A property counts as a date when its text starts
  with ``YYYY-MM-DD`` (optionally followed by ``THH:MM:SS``); it is compared at one-second
  resolution, ignoring any timezone suffix (HubSpot sends UTC ``Z``).
- **Windows** at the reference time ``ref``: ``within_last_days N`` ⇔ ``value >= ref − N days``;
  ``more_than_days_ago N`` ⇔ ``value <= ref − N days`` (so "N or more days ago"). Future values
  are "within the last N days". So engaged (30) includes a contact modified exactly 30 days
  before ``ref``, cold (90) includes one modified exactly 90 days before and excludes one modified
  89 days 23 hours before; a contact with no ``updated_at`` is neither.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from hubsync_core.clock import naive_utc
from hubsync_core.segments import _values as values
from hubsync_core.segments.model import PROPERTY_PREFIX, Condition, Group, SegmentDef
from hubsync_core.segments.validation import validate_rule

#: A stored property counts as a date when it matches this at its start (see module docstring).
_STORED_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:\Z|[T ][0-9]{2}:[0-9]{2}:[0-9]{2})")


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _as_number(text: str | None) -> float | None:
    return float(text) if text is not None and values.NUMERIC.fullmatch(text) else None


def _stored_date_key(text: str | None) -> str | None:
    """A property's date text normalised to ``YYYY-MM-DDTHH:MM:SS`` (mirrors the SQL)."""
    if text is None or not _STORED_DATE.match(text):
        return None
    return text[:10] + "T" + ("00:00:00" if len(text) == 10 else text[11:19])


def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return naive_utc(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


Predicate = Callable[[Mapping[str, Any], Collection[str]], bool]


def predicate(rule: Group | Condition, ref: datetime) -> Predicate:
    """Compile a rule once into a Python test ``(contact, list_ids) -> bool`` at time ``ref``."""
    validate_rule(rule)
    return _py(rule, naive_utc(ref))


def matches(
    rule: Group | Condition,
    contact: Mapping[str, Any],
    ref: datetime,
    list_ids: Collection[str] = frozenset(),
) -> bool:
    """Whether ``contact`` (column values plus a ``properties`` dict) satisfies ``rule`` at ``ref``.

    ``list_ids`` are the ids of the HubSpot lists the contact belongs to. Archived contacts are
    not special here; callers leave them out (as `segment_store.recompute` does).
    """
    return predicate(rule, ref)(contact, list_ids)


def segments_for(
    contact: Mapping[str, Any],
    definitions: Sequence[SegmentDef],
    ref: datetime,
    list_ids: Collection[str] = frozenset(),
) -> list[str]:
    """The keys of the segments ``contact`` belongs to, in the order of ``definitions``."""
    return [seg.key for seg in definitions if matches(seg.rule, contact, ref, list_ids)]


def _py(rule: Group | Condition, ref: datetime) -> Predicate:
    if isinstance(rule, Group):
        parts = [_py(item, ref) for item in rule.items]
        if rule.match == "all":
            return lambda c, lists: all(p(c, lists) for p in parts)
        return lambda c, lists: any(p(c, lists) for p in parts)
    return _py_condition(rule, ref)


def _py_condition(cond: Condition, ref: datetime) -> Predicate:
    kind = values.field_kind(cond.field)
    op, value, value2 = cond.op, cond.value, cond.value2
    if kind == "list":
        list_id = str(value)
        return lambda c, lists: list_id in {str(x) for x in lists}

    if kind == "date":
        name = cond.field

        def get_date(c: Mapping[str, Any]) -> datetime | None:
            return _as_datetime(c.get(name))

        test = _py_date_test(op, value, value2, ref)
        return lambda c, lists: test(get_date(c))

    def get_text(c: Mapping[str, Any]) -> str | None:
        if kind == "text":
            return _as_text(c.get(cond.field))
        props = c.get("properties") or {}
        if isinstance(props, str):
            props = json.loads(props)
        return _as_text(props.get(cond.field[len(PROPERTY_PREFIX) :]))

    test_text = _py_text_test(op, value, value2, ref)
    return lambda c, lists: test_text(get_text(c))


def _py_date_test(op: str, value: Any, value2: Any, ref: datetime) -> Callable[[Any], bool]:
    if op == "is_empty":
        return lambda d: d is None
    if op == "is_not_empty":
        return lambda d: d is not None
    if op in ("within_last_days", "more_than_days_ago"):
        cutoff = ref - timedelta(days=value)
        if op == "within_last_days":
            return lambda d: d is not None and d >= cutoff
        return lambda d: d is not None and d <= cutoff
    first = values.parse_date(value)
    if op in ("eq", "neq"):
        if values.DATE_ONLY.fullmatch(value):
            end = first + timedelta(days=1)

            def eq(d: datetime | None) -> bool:
                return d is not None and first <= d < end
        else:

            def eq(d: datetime | None) -> bool:
                return d is not None and d == first

        return eq if op == "eq" else (lambda d: not eq(d))
    if op == "gt":
        return lambda d: d is not None and d > first
    if op == "lt":
        return lambda d: d is not None and d < first
    # between
    second = values.parse_date(value2)
    if values.DATE_ONLY.fullmatch(value2):
        end = second + timedelta(days=1)
        return lambda d: d is not None and first <= d < end
    return lambda d: d is not None and first <= d <= second


def _py_text_test(op: str, value: Any, value2: Any, ref: datetime) -> Callable[[str | None], bool]:
    def empty(s: str | None) -> bool:
        return s is None or s == ""

    if op == "is_empty":
        return empty
    if op == "is_not_empty":
        return lambda s: not empty(s)
    if op in ("eq", "neq"):
        if values.is_number(value):
            number = float(value)

            def eq(s: str | None) -> bool:
                n = _as_number(s)
                return n is not None and n == number
        else:
            folded = values.fold(value)

            def eq(s: str | None) -> bool:
                return s is not None and values.fold(s) == folded

        return eq if op == "eq" else (lambda s: not eq(s))
    if op == "contains":
        needle = values.fold(value)
        return lambda s: s is not None and needle in values.fold(s)
    if op == "starts_with":
        prefix = values.fold(value)
        return lambda s: s is not None and values.fold(s).startswith(prefix)
    if op == "in":
        options = {values.fold(v) for v in value}
        return lambda s: s is not None and values.fold(s) in options
    if op in ("within_last_days", "more_than_days_ago"):
        cutoff_key = values.moment_key(ref - timedelta(days=value))
        if op == "within_last_days":
            return lambda s: (k := _stored_date_key(s)) is not None and k >= cutoff_key
        return lambda s: (k := _stored_date_key(s)) is not None and k <= cutoff_key
    # gt, lt, between
    if values.is_number(value):
        low = float(value)
        high = float(value2) if op == "between" else 0.0

        def numeric(s: str | None) -> bool:
            n = _as_number(s)
            if n is None:
                return False
            if op == "gt":
                return n > low
            if op == "lt":
                return n < low
            return low <= n <= high

        return numeric
    low_key = values.moment_key(values.parse_date(value))
    high_key, inclusive = "", True
    if op == "between":
        high_key = values.moment_key(values.upper_bound(value2, values.parse_date(value2)))
        inclusive = not values.DATE_ONLY.fullmatch(value2)  # a date alone: before the next midnight

    def dated(s: str | None) -> bool:
        k = _stored_date_key(s)
        if k is None:
            return False
        if op == "gt":
            return k > low_key
        if op == "lt":
            return k < low_key
        return k >= low_key and (k <= high_key if inclusive else k < high_key)

    return dated
