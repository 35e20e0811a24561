"""Rules as text for people: a one-line reading of a rule, and typed text to rule values.

`describe_rule` is what the Segments page and the CLI show; `parse_value` and `parse_condition`
read what a person typed in the page's editor or in `hubsync segments add`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubsync_core.segments._values import NUMERIC
from hubsync_core.segments.model import OPS, Condition, Group, SegmentError


def describe_rule(
    rule: Group | Condition, labels: Mapping[str, Mapping[str, str]] | None = None
) -> str:
    """A one-line human reading of a rule: ``company contains 'chainge' OR in list 123``.

    `labels` ({rule field: {internal value: label}}, the facade's `rule_value_options`) shows
    an enumeration's values as people know them: ``lifecyclestage eq 'Former customer'``."""
    if isinstance(rule, Condition):
        value, value2 = rule.value, rule.value2
        options = (labels or {}).get(rule.field)
        if options:
            value = _labelled(options, value)
        if rule.op == "in_list":
            return f"in list {value}"
        if rule.op in ("is_empty", "is_not_empty"):
            return f"{rule.field} {rule.op.replace('_', ' ')}"
        if rule.op == "between":
            return f"{rule.field} between {value!r} and {value2!r}"
        if rule.op == "within_last_days":
            return f"{rule.field} within the last {value} days"
        if rule.op == "more_than_days_ago":
            return f"{rule.field} {value} or more days ago"
        return f"{rule.field} {rule.op.replace('_', ' ')} {value!r}"
    joiner = " AND " if rule.match == "all" else " OR "
    parts = [
        f"({describe_rule(item, labels)})"
        if isinstance(item, Group) and len(item.items) > 1
        else describe_rule(item, labels)
        for item in rule.items
    ]
    return joiner.join(parts)


def _labelled(options: Mapping[str, str], value: Any) -> Any:
    if isinstance(value, list):
        return [options.get(v, v) if isinstance(v, str) else v for v in value]
    return options.get(value, value) if isinstance(value, str) else value


# -- typed text to rule values (the Segments page's editor and `hubsync segments add`) -------
def parse_value(op: str, text: str | None) -> Any:
    """The rule value a person typed for `op`: "DE, FR" → ["DE", "FR"] for `in`, "30" → 30
    for day windows, numbers for gt/lt/between where the text is numeric, else the text."""
    raw = (text or "").strip()
    if op in ("is_empty", "is_not_empty"):
        return None
    if op == "in":
        return [part.strip() for part in raw.split(",") if part.strip()]
    if op in ("within_last_days", "more_than_days_ago"):
        if not raw.isdigit():
            raise SegmentError(f"N days must be a whole number, got {raw!r}")
        return int(raw)
    if op in ("gt", "lt", "between") and NUMERIC.fullmatch(raw):
        return float(raw) if "." in raw else int(raw)
    return raw


def parse_condition(text: str) -> Condition:
    """`"field op value"` → Condition; `between` takes `low..high`.

    Examples: `properties.country in DE,FR`, `lifecyclestage eq lead`,
    `updated_at within_last_days 30`, `properties.lead_score between 10..50`, `email is_empty`.
    """
    parts = text.strip().split(None, 2)
    if len(parts) < 2:
        raise SegmentError(f"a condition is 'field op value', got {text!r}")
    field_name, op = parts[0], parts[1].lower()
    rest = parts[2] if len(parts) > 2 else ""
    if op not in OPS:
        raise SegmentError(f"unknown op {op!r}: use one of {', '.join(OPS)}")
    if op == "between":
        low, sep, high = rest.partition("..")
        if not sep:
            raise SegmentError(f"between takes 'low..high', got {rest!r}")
        return Condition(field_name, op, parse_value(op, low), parse_value(op, high))
    return Condition(field_name, op, parse_value(op, rest))
