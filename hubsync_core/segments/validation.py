"""Validation of segment names, definitions and rules; each error names the place it found.

Everything here raises `SegmentError`. The limits it enforces (`MAX_DEPTH`, `MAX_CONDITIONS`,
...) are part of the model (`hubsync_core.segments.model`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable
from typing import Any

from hubsync_core.segments import model
from hubsync_core.segments._values import (
    check_days,
    field_kind,
    is_number,
    parse_date,
    upper_bound,
)
from hubsync_core.segments.builtins import BUILTIN_KEYS
from hubsync_core.segments.model import (
    LIST_FIELD,
    MATCHES,
    OPS,
    PROPERTY_PREFIX,
    Condition,
    Group,
    SegmentDef,
    SegmentError,
    segment_key,
)

_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
_LIST_ID = re.compile(r"[0-9]{1,20}")


def validate_name(name: Any, *, builtin: bool = False, existing_names: Iterable[str] = ()) -> None:
    """Check a segment name: not empty, letters/digits/spaces/``_-``, <= 60, not a duplicate."""
    if not isinstance(name, str) or not name.strip():
        raise SegmentError("The segment name is empty.")
    if name != name.strip():
        raise SegmentError(f"Segment name {name!r} must not start or end with a space.")
    if len(name) > model.MAX_NAME_LENGTH:
        raise SegmentError(
            f"Segment name {name!r} is longer than {model.MAX_NAME_LENGTH} characters."
        )
    bad = sorted({ch for ch in name if not (ch.isalnum() or ch in " _-")})
    if bad:
        shown = " ".join(repr(ch) for ch in bad)
        raise SegmentError(
            f"Segment name {name!r} has characters not allowed ({shown}): "
            "use letters, digits, spaces, '_' and '-'."
        )
    key = segment_key(name)
    if not key:
        raise SegmentError(f"Segment name {name!r} needs at least one letter or digit.")
    if builtin:
        if name not in BUILTIN_KEYS:
            raise SegmentError(
                f"{name!r} is not a built-in segment (built-ins: {', '.join(BUILTIN_KEYS)})."
            )
        return
    if key in BUILTIN_KEYS:
        raise SegmentError(f"The name {name!r} is reserved for the built-in segment {key!r}.")
    for other in existing_names:
        if segment_key(other) == key:
            same = "" if other == name else f" (same as {other!r} ignoring case and separators)"
            raise SegmentError(f"A segment named {name!r} already exists{same}.")


def validate_definition(
    seg: SegmentDef,
    *,
    known_properties: Collection[str] | None = None,
    existing_names: Iterable[str] = (),
) -> None:
    """Check a whole definition: name, colour, description, rule. Raises `SegmentError`.

    ``existing_names`` are the other segments' names (duplicates by key are refused);
    ``known_properties`` (field names such as ``properties.country``, or bare property names)
    makes an unknown property an error; ``None`` accepts any well-formed property name.
    """
    if not isinstance(seg, SegmentDef):
        raise SegmentError("Expected a SegmentDef.")
    validate_name(seg.name, builtin=seg.builtin, existing_names=existing_names)
    if not isinstance(seg.colour, str) or not _COLOUR.fullmatch(seg.colour):
        raise SegmentError(
            f'Segment {seg.name!r}: colour must look like "#4C78A8", got {seg.colour!r}.'
        )
    if not isinstance(seg.description, str) or len(seg.description) > model.MAX_VALUE_LENGTH:
        raise SegmentError(
            f"Segment {seg.name!r}: description must be text of at most {model.MAX_VALUE_LENGTH} characters."
        )
    try:
        validate_rule(seg.rule, known_properties=known_properties)
    except SegmentError as exc:
        raise SegmentError(f"Segment {seg.name!r}: {exc}") from None


def validate_rule(
    rule: Group | Condition, *, known_properties: Collection[str] | None = None
) -> None:
    """Check a rule's shape, fields, ops and values. Raises `SegmentError` naming the place."""
    known = None if known_properties is None else _known_property_names(known_properties)
    count = [0]
    if isinstance(rule, Condition):
        _validate_condition(rule, "1", known)
    else:
        _validate_group(rule, "", 1, known, count)


def _known_property_names(fields: Collection[str]) -> set[str]:
    return {f.removeprefix(PROPERTY_PREFIX) for f in fields}


def _validate_group(
    group: Any, path: str, depth: int, known: set[str] | None, count: list[int]
) -> None:
    label = f"Group {path}" if path else "The rule"
    if not isinstance(group, Group):
        raise SegmentError(f"{label}: expected a group of conditions.")
    if depth > model.MAX_DEPTH:
        raise SegmentError(f"{label}: groups are nested more than {model.MAX_DEPTH} deep.")
    if group.match not in MATCHES:
        raise SegmentError(f"{label}: match must be 'all' or 'any', got {group.match!r}.")
    if not isinstance(group.items, list) or not group.items:
        raise SegmentError(f"{label} is empty: add at least one condition.")
    for index, item in enumerate(group.items, start=1):
        here = f"{path}.{index}" if path else str(index)
        if isinstance(item, Group):
            _validate_group(item, here, depth + 1, known, count)
        elif isinstance(item, Condition):
            count[0] += 1
            if count[0] > model.MAX_CONDITIONS:
                raise SegmentError(f"The rule has more than {model.MAX_CONDITIONS} conditions.")
            _validate_condition(item, here, known)
        else:
            raise SegmentError(f"Item {here}: expected a condition or a group.")


def _validate_condition(cond: Any, path: str, known: set[str] | None) -> None:
    if not isinstance(cond, Condition):
        raise SegmentError(f"Condition {path}: expected a condition.")
    try:
        _check_condition(cond, known)
    except SegmentError as exc:
        raise SegmentError(f"Condition {path} ({cond.field} {cond.op}): {exc}") from None


def _check_condition(cond: Condition, known: set[str] | None) -> None:
    kind = field_kind(cond.field)
    if kind == "property" and known is not None:
        prop = cond.field[len(PROPERTY_PREFIX) :]
        if prop not in known:
            hint = difflib.get_close_matches(prop, sorted(known), n=1)
            suggestion = f"; did you mean 'properties.{hint[0]}'?" if hint else ""
            raise SegmentError(
                f"unknown property {prop!r} (not among the synced properties){suggestion}"
            )
    op = cond.op
    if op not in OPS:
        raise SegmentError(f"unknown op {op!r}: use one of {', '.join(OPS)}")
    value, value2 = cond.value, cond.value2
    if op != "between" and value2 is not None:
        raise SegmentError(f"value2 is only used by 'between', got {value2!r}")
    if kind == "list" or op == "in_list":
        if kind != "list" or op != "in_list":
            raise SegmentError(
                f"list membership is written as field '{LIST_FIELD}' with op 'in_list'"
            )
        if not isinstance(value, str) or not _LIST_ID.fullmatch(value):
            raise SegmentError(f"value must be a HubSpot list id (digits, as text), got {value!r}")
        return
    if op in ("is_empty", "is_not_empty"):
        if value is not None:
            raise SegmentError(f"takes no value, got {value!r}")
        return
    if op in ("within_last_days", "more_than_days_ago"):
        if kind == "text":
            raise SegmentError("day windows apply to created_at, updated_at and date properties")
        check_days(value, "N days")
        return
    if op in ("contains", "starts_with", "in") and kind == "date":
        raise SegmentError(f"'{op}' does not apply to a date field")
    if op in ("contains", "starts_with"):
        _check_text(value)
        return
    if op == "in":
        if not isinstance(value, list) or not value:
            raise SegmentError(f"value must be a non-empty list of texts, got {value!r}")
        if len(value) > model.MAX_IN_VALUES:
            raise SegmentError(f"value lists at most {model.MAX_IN_VALUES} texts, got {len(value)}")
        for item in value:
            _check_text(item)
        return
    if op in ("eq", "neq"):
        if kind == "date":
            parse_date(value)
        elif not is_number(value):
            _check_text(value)
        return
    # gt, lt, between: numbers or dates
    if kind == "date":
        _check_dates(op, value, value2)
        return
    if is_number(value):
        if op == "between":
            if not is_number(value2):
                raise SegmentError(f"value2 must be a number like value, got {value2!r}")
            if value2 < value:
                raise SegmentError(f"between needs value <= value2, got {value!r} and {value2!r}")
        return
    if isinstance(value, str):
        _check_dates(op, value, value2)
        return
    raise SegmentError(f"value must be a number or a date (YYYY-MM-DD), got {value!r}")


def _check_text(value: Any) -> None:
    if not isinstance(value, str) or value == "":
        raise SegmentError(f"value must be non-empty text, got {value!r}")
    if len(value) > model.MAX_VALUE_LENGTH:
        raise SegmentError(f"value is longer than {model.MAX_VALUE_LENGTH} characters")


def _check_dates(op: str, value: Any, value2: Any) -> None:
    """`value` (and for between `value2`, not before it) must be dates."""
    first = parse_date(value)
    if op == "between":
        second = parse_date(value2)
        if upper_bound(value2, second) < first:
            raise SegmentError(f"between needs value <= value2, got {value!r} and {value2!r}")
