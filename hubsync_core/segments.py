"""Segments: a rule model, its validation, its evaluation in Python and in SQL, and portability.

A segment is a name, a colour and a rule. A rule is a `Group` of `Condition`s (and nested
groups) combined with ``all`` (AND) or ``any`` (OR). The four built-in segments are defined in
the same model (`builtin_segments`), so there is one mechanism for all of them.

Fields a condition can name:

- a contact column: ``email firstname lastname company phone jobtitle lifecyclestage hubspot_id``
  (text) or ``created_at updated_at`` (naive UTC datetimes);
- ``properties.<name>``: any synced HubSpot property, read from the JSON column
  ``contacts.properties`` (``json_extract`` on SQLite, ``json_extract_path_text`` on PostgreSQL);
- ``list``: list membership, with the single op ``in_list`` and a HubSpot list id.

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

Names and keys: the name is shown as typed ("EU leads"); membership is stored under a stable key,
the slug of the name (`segment_key`: ASCII-lowercased, runs of spaces, ``-`` and ``_`` turned into
one ``_`` → "eu_leads"). Two names with the same key are duplicates. Built-in names
(chainge, engaged, cold, high_value) are their own keys and are reserved.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import tomllib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Float,
    Table,
    Text,
    and_,
    case,
    cast,
    collate,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.sql import column, table


class SegmentError(ValueError):
    """A segment definition or rule HubSync cannot use; the message says what and where."""


class ContactSegment(StrEnum):
    """The built-in segments (the original spec's SDK name); values are their storage keys."""

    CHAINGE = "chainge"
    ENGAGED = "engaged"
    COLD = "cold"
    HIGH_VALUE = "high_value"


BUILTIN_KEYS: tuple[str, ...] = tuple(s.value for s in ContactSegment)

TEXT_COLUMNS: tuple[str, ...] = (
    "email",
    "firstname",
    "lastname",
    "company",
    "phone",
    "jobtitle",
    "lifecyclestage",
    "hubspot_id",
)
DATE_COLUMNS: tuple[str, ...] = ("created_at", "updated_at")
#: Every contact column a rule can name, in display order.
CONTACT_FIELDS: tuple[str, ...] = (
    "email",
    "firstname",
    "lastname",
    "company",
    "phone",
    "jobtitle",
    "lifecyclestage",
    "created_at",
    "updated_at",
    "hubspot_id",
)
LIST_FIELD = "list"
PROPERTY_PREFIX = "properties."

OPS: tuple[str, ...] = (
    "eq",
    "neq",
    "contains",
    "starts_with",
    "in",
    "is_empty",
    "is_not_empty",
    "gt",
    "lt",
    "between",
    "within_last_days",
    "more_than_days_ago",
    "in_list",
)
MATCHES: tuple[str, ...] = ("all", "any")

MAX_DEPTH = 5  # groups nested at most this deep (the rule itself is depth 1)
MAX_CONDITIONS = 200  # keeps a rule's SQL a reasonable size
MAX_NAME_LENGTH = 60
MAX_DAYS = 36_500
MAX_IN_VALUES = 1_000
MAX_VALUE_LENGTH = 1_000
DEFAULT_COLOUR = "#4C78A8"
FILE_FORMAT = 1

_PROPERTY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,99}")
_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
_LIST_ID = re.compile(r"[0-9]{1,20}")
_NUMERIC = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_VALUE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}.*)?")
#: A stored property counts as a date when it matches this at its start (see module docstring).
_STORED_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:\Z|[T ][0-9]{2}:[0-9]{2}:[0-9]{2})")
_PG_STORED_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}($|[T ][0-9]{2}:[0-9]{2}:[0-9]{2})"
_PG_NUMERIC = r"^-?[0-9]+(\.[0-9]+)?$"
_D = "[0-9]"
_GLOB_DATE = f"{_D * 4}-{_D * 2}-{_D * 2}"
_GLOB_DATETIME = f"{_GLOB_DATE}[T ]{_D * 2}:{_D * 2}:{_D * 2}*"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

# The list-membership table, named without importing the store (this module stays pure).
_LIST_MEMBERSHIPS = table("list_memberships", column("list_id"), column("hubspot_id"))


# --------------------------------------------------------------------------------------------
# The model


@dataclass
class Condition:
    """One test on one field: ``Condition("company", "contains", "chainge")``."""

    field: str
    op: str
    value: Any = None
    value2: Any = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "op": self.op}
        if self.value is not None:
            out["value"] = list(self.value) if isinstance(self.value, list) else self.value
        if self.value2 is not None:
            out["value2"] = self.value2
        return out


@dataclass
class Group:
    """Conditions and groups combined: ``all`` (every item) or ``any`` (at least one)."""

    match: Literal["all", "any"]
    items: list[Condition | Group] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"match": self.match, "items": [item.to_dict() for item in self.items]}


@dataclass
class SegmentDef:
    """A segment: display name, colour (``#RRGGBB``), rule; ``key`` is its storage key."""

    name: str
    colour: str
    rule: Group
    builtin: bool = False
    description: str = ""

    @property
    def key(self) -> str:
        return segment_key(self.name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "colour": self.colour,
            "description": self.description,
            "builtin": self.builtin,
            "rule": self.rule.to_dict(),
        }


def segment_key(name: str) -> str:
    """The storage key of a segment name: "EU leads" → "eu_leads" (see the module docstring)."""
    return re.sub(r"[\s_-]+", "_", name.strip().translate(_ASCII_LOWER)).strip("_")


def rule_from_dict(data: Any, where: str = "rule") -> Group:
    """Parse a rule from its dict form (as stored and exported); raises `SegmentError`."""
    if not isinstance(data, Mapping):
        raise SegmentError(f"{where}: must be a table with 'match' and 'items'")
    unknown = set(data) - {"match", "items"}
    if unknown:
        raise SegmentError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    match = data.get("match")
    items = data.get("items")
    if not isinstance(items, list):
        raise SegmentError(f"{where}: 'items' must be a list")
    parsed: list[Condition | Group] = []
    for index, item in enumerate(items, start=1):
        here = f"{where}.items[{index}]"
        if isinstance(item, Mapping) and "match" in item:
            parsed.append(rule_from_dict(item, here))
        elif isinstance(item, Mapping):
            unknown = set(item) - {"field", "op", "value", "value2"}
            if unknown:
                raise SegmentError(f"{here}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
            if not isinstance(item.get("field"), str) or not isinstance(item.get("op"), str):
                raise SegmentError(f"{here}: a condition needs a 'field' and an 'op' (text)")
            value = item.get("value")
            parsed.append(
                Condition(
                    item["field"],
                    item["op"],
                    list(value) if isinstance(value, list) else value,
                    item.get("value2"),
                )
            )
        else:
            raise SegmentError(f"{here}: must be a condition or a group")
    return Group(match, parsed)  # type: ignore[arg-type]  # validated later


def definition_from_dict(data: Any, where: str = "segment") -> SegmentDef:
    """Parse a segment from its dict form; raises `SegmentError` (shape only; see `validate`)."""
    if not isinstance(data, Mapping):
        raise SegmentError(f"{where}: must be a table")
    unknown = set(data) - {"name", "colour", "description", "builtin", "rule"}
    if unknown:
        raise SegmentError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    name = data.get("name")
    if not isinstance(name, str):
        raise SegmentError(f"{where}: 'name' must be text")
    where = f"segment {name!r}"
    colour = data.get("colour", DEFAULT_COLOUR)
    description = data.get("description", "")
    builtin = data.get("builtin", False)
    if not isinstance(colour, str):
        raise SegmentError(f"{where}: 'colour' must be text like \"#4C78A8\"")
    if not isinstance(description, str):
        raise SegmentError(f"{where}: 'description' must be text")
    if not isinstance(builtin, bool):
        raise SegmentError(f"{where}: 'builtin' must be true or false")
    if "rule" not in data:
        raise SegmentError(f"{where}: has no 'rule'")
    return SegmentDef(
        name, colour, rule_from_dict(data["rule"], f"{where}: rule"), builtin, description
    )


# --------------------------------------------------------------------------------------------
# Built-in segments


@dataclass(frozen=True)
class BuiltinParams:
    """What the built-in rules depend on (`Settings` carries the same attributes)."""

    engaged_days: int = 30
    cold_days: int = 90
    chainge_list_id: str | None = None


_BUILTIN_STYLE = {
    "chainge": ("#F58518", 'Company contains "chainge" (any case), or member of the CHAINge list.'),
    "engaged": ("#54A24B", "Modified in HubSpot within the last {days} days."),
    "cold": ("#4C78A8", "Not modified in HubSpot for {days} days or more."),
    "high_value": ("#E45756", "Lifecycle stage customer, evangelist or opportunity."),
}


def builtin_segments(settings_or_params: Any = None) -> list[SegmentDef]:
    """The four built-in segments, from `Settings`, `BuiltinParams` or a mapping of the same.

    chainge = company contains "chainge" OR (with ``chainge_list_id``) in that list;
    engaged = updated_at within the last ``engaged_days``; cold = updated_at ``cold_days`` or
    more days ago; high_value = lifecyclestage in (customer, evangelist, opportunity).
    """
    source = settings_or_params if settings_or_params is not None else BuiltinParams()

    def get(name: str, default: Any) -> Any:
        if isinstance(source, Mapping):
            return source.get(name, default)
        return getattr(source, name, default)

    engaged = get("engaged_days", 30)
    cold = get("cold_days", 90)
    list_id = get("chainge_list_id", None)
    for label, days in (("engaged_days", engaged), ("cold_days", cold)):
        _check_days(days, f"built-in {label}")
    chainge_items: list[Condition | Group] = [Condition("company", "contains", "chainge")]
    if list_id:
        chainge_items.append(Condition(LIST_FIELD, "in_list", str(list_id)))

    def make(key: str, rule: Group, days: int | None = None) -> SegmentDef:
        colour, text = _BUILTIN_STYLE[key]
        return SegmentDef(key, colour, rule, True, text.format(days=days))

    return [
        make("chainge", Group("any", chainge_items)),
        make(
            "engaged", Group("all", [Condition("updated_at", "within_last_days", engaged)]), engaged
        ),
        make("cold", Group("all", [Condition("updated_at", "more_than_days_ago", cold)]), cold),
        make(
            "high_value",
            Group(
                "all",
                [Condition("lifecyclestage", "in", ["customer", "evangelist", "opportunity"])],
            ),
        ),
    ]


# --------------------------------------------------------------------------------------------
# Validation


def validate_name(name: Any, *, builtin: bool = False, existing_names: Iterable[str] = ()) -> None:
    """Check a segment name: not empty, letters/digits/spaces/``_-``, <= 60, not a duplicate."""
    if not isinstance(name, str) or not name.strip():
        raise SegmentError("The segment name is empty.")
    if name != name.strip():
        raise SegmentError(f"Segment name {name!r} must not start or end with a space.")
    if len(name) > MAX_NAME_LENGTH:
        raise SegmentError(f"Segment name {name!r} is longer than {MAX_NAME_LENGTH} characters.")
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
    if not isinstance(seg.description, str) or len(seg.description) > MAX_VALUE_LENGTH:
        raise SegmentError(
            f"Segment {seg.name!r}: description must be text of at most {MAX_VALUE_LENGTH} characters."
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
    if depth > MAX_DEPTH:
        raise SegmentError(f"{label}: groups are nested more than {MAX_DEPTH} deep.")
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
            if count[0] > MAX_CONDITIONS:
                raise SegmentError(f"The rule has more than {MAX_CONDITIONS} conditions.")
            _validate_condition(item, here, known)
        else:
            raise SegmentError(f"Item {here}: expected a condition or a group.")


def _field_kind(name: Any) -> str:
    """'text', 'date', 'property' or 'list'; raises for an unknown or malformed field."""
    if not isinstance(name, str):
        raise SegmentError(f"field must be text, got {name!r}")
    if name in TEXT_COLUMNS:
        return "text"
    if name in DATE_COLUMNS:
        return "date"
    if name == LIST_FIELD:
        return "list"
    if name.startswith(PROPERTY_PREFIX):
        prop = name[len(PROPERTY_PREFIX) :]
        if not _PROPERTY_NAME.fullmatch(prop):
            raise SegmentError(
                f"{name!r} is not a property name (letters, digits, '_' and '-' only)"
            )
        return "property"
    raise SegmentError(
        f"unknown field {name!r}: use one of {', '.join(CONTACT_FIELDS)}, "
        f"'{LIST_FIELD}', or 'properties.<name>'"
    )


def _validate_condition(cond: Any, path: str, known: set[str] | None) -> None:
    if not isinstance(cond, Condition):
        raise SegmentError(f"Condition {path}: expected a condition.")
    try:
        _check_condition(cond, known)
    except SegmentError as exc:
        raise SegmentError(f"Condition {path} ({cond.field} {cond.op}): {exc}") from None


def _check_condition(cond: Condition, known: set[str] | None) -> None:
    kind = _field_kind(cond.field)
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
        _check_days(value, "N days")
        return
    if op in ("contains", "starts_with", "in") and kind == "date":
        raise SegmentError(f"'{op}' does not apply to a date field")
    if op in ("contains", "starts_with"):
        _check_text(value)
        return
    if op == "in":
        if not isinstance(value, list) or not value:
            raise SegmentError(f"value must be a non-empty list of texts, got {value!r}")
        if len(value) > MAX_IN_VALUES:
            raise SegmentError(f"value lists at most {MAX_IN_VALUES} texts, got {len(value)}")
        for item in value:
            _check_text(item)
        return
    if op in ("eq", "neq"):
        if kind == "date":
            _parse_date(value)
        elif not _is_number(value):
            _check_text(value)
        return
    # gt, lt, between: numbers or dates
    if kind == "date":
        first = _parse_date(value)
        if op == "between":
            second = _parse_date(value2)
            if _upper_bound(value2, second) < first:
                raise SegmentError(f"between needs value <= value2, got {value!r} and {value2!r}")
        return
    if _is_number(value):
        if op == "between":
            if not _is_number(value2):
                raise SegmentError(f"value2 must be a number like value, got {value2!r}")
            if value2 < value:
                raise SegmentError(f"between needs value <= value2, got {value!r} and {value2!r}")
        return
    if isinstance(value, str):
        first = _parse_date(value)
        if op == "between":
            second = _parse_date(value2)
            if _upper_bound(value2, second) < first:
                raise SegmentError(f"between needs value <= value2, got {value!r} and {value2!r}")
        return
    raise SegmentError(f"value must be a number or a date (YYYY-MM-DD), got {value!r}")


def _check_days(value: Any, label: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
        raise SegmentError(
            f"{label} must be a whole number of days from 1 to {MAX_DAYS}, got {value!r}"
        )


def _check_text(value: Any) -> None:
    if not isinstance(value, str) or value == "":
        raise SegmentError(f"value must be non-empty text, got {value!r}")
    if len(value) > MAX_VALUE_LENGTH:
        raise SegmentError(f"value is longer than {MAX_VALUE_LENGTH} characters")


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) < 1e300
    )


def _parse_date(value: Any) -> datetime:
    """A rule's date value as a naive UTC datetime; raises `SegmentError` for a bad date."""
    if not isinstance(value, str) or not _DATE_VALUE.fullmatch(value):
        raise SegmentError(
            f"bad date {value!r}: use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC unless an offset is given)"
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise SegmentError(f"bad date {value!r}: no such date or time") from None
    return _naive_utc(parsed)


def _upper_bound(raw: str, parsed: datetime) -> datetime:
    """The exclusive-or-inclusive upper instant for between: a date alone covers its whole day."""
    return parsed + timedelta(days=1) if _DATE_ONLY.fullmatch(raw) else parsed


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


# --------------------------------------------------------------------------------------------
# Evaluation in Python


def _fold(text: str) -> str:
    return text.translate(_ASCII_LOWER)


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _as_number(text: str | None) -> float | None:
    return float(text) if text is not None and _NUMERIC.fullmatch(text) else None


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
            return _naive_utc(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def _moment_key(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


Predicate = Callable[[Mapping[str, Any], Collection[str]], bool]


def predicate(rule: Group | Condition, ref: datetime) -> Predicate:
    """Compile a rule once into a Python test ``(contact, list_ids) -> bool`` at time ``ref``."""
    validate_rule(rule)
    return _py(rule, _naive_utc(ref))


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
    kind = _field_kind(cond.field)
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
    first = _parse_date(value)
    if op in ("eq", "neq"):
        if _DATE_ONLY.fullmatch(value):
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
    second = _parse_date(value2)
    if _DATE_ONLY.fullmatch(value2):
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
        if _is_number(value):
            number = float(value)

            def eq(s: str | None) -> bool:
                n = _as_number(s)
                return n is not None and n == number
        else:
            folded = _fold(value)

            def eq(s: str | None) -> bool:
                return s is not None and _fold(s) == folded

        return eq if op == "eq" else (lambda s: not eq(s))
    if op == "contains":
        needle = _fold(value)
        return lambda s: s is not None and needle in _fold(s)
    if op == "starts_with":
        prefix = _fold(value)
        return lambda s: s is not None and _fold(s).startswith(prefix)
    if op == "in":
        options = {_fold(v) for v in value}
        return lambda s: s is not None and _fold(s) in options
    if op in ("within_last_days", "more_than_days_ago"):
        cutoff_key = _moment_key(ref - timedelta(days=value))
        if op == "within_last_days":
            return lambda s: (k := _stored_date_key(s)) is not None and k >= cutoff_key
        return lambda s: (k := _stored_date_key(s)) is not None and k <= cutoff_key
    # gt, lt, between
    if _is_number(value):
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
    low_key = _moment_key(_parse_date(value))
    high_key, inclusive = "", True
    if op == "between":
        high_key = _moment_key(_upper_bound(value2, _parse_date(value2)))
        inclusive = not _DATE_ONLY.fullmatch(value2)  # a date alone: before the next midnight

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


# --------------------------------------------------------------------------------------------
# Evaluation in SQL


def compile_rule(
    rule: Group | Condition,
    ref: datetime,
    contacts_table: Table,
    dialect_name: str,
) -> ColumnElement[bool]:
    """The rule as a SQLAlchemy boolean expression over ``contacts_table`` at time ``ref``.

    Every value is a bound parameter (LIKE wildcards escaped), so quotes, ``%``, ``_`` or
    ``;--`` in a value are plain text. ``dialect_name`` is "sqlite" or "postgresql".
    Archived contacts are not excluded here (the caller adds that).
    """
    if dialect_name not in ("sqlite", "postgresql"):
        raise SegmentError(f"Segments support SQLite and PostgreSQL, not {dialect_name!r}.")
    validate_rule(rule)  # also guards the property names that reach a JSON path
    return _sql(rule, _naive_utc(ref), contacts_table, dialect_name)


def _sql(
    rule: Group | Condition, ref: datetime, contacts: Table, dialect: str
) -> ColumnElement[bool]:
    if isinstance(rule, Group):
        parts = [_sql(item, ref, contacts, dialect) for item in rule.items]
        return and_(*parts) if rule.match == "all" else or_(*parts)
    return _sql_condition(rule, ref, contacts, dialect)


def _sql_condition(
    cond: Condition, ref: datetime, contacts: Table, dialect: str
) -> ColumnElement[bool]:
    kind = _field_kind(cond.field)
    op, value, value2 = cond.op, cond.value, cond.value2
    if kind == "list":
        lm = _LIST_MEMBERSHIPS
        return exists(
            select(literal(1))
            .select_from(lm)
            .where(lm.c.list_id == literal(value, Text), lm.c.hubspot_id == contacts.c.hubspot_id)
            .correlate(contacts)
        )
    if kind == "date":
        return _sql_date(contacts.c[cond.field], op, value, value2, ref)
    if kind == "text":
        expr: ColumnElement[Any] = contacts.c[cond.field]
    else:
        prop = cond.field[len(PROPERTY_PREFIX) :]
        if dialect == "sqlite":
            # A quoted JSON path label; the name is validated and the path is a bound value.
            expr = func.json_extract(
                contacts.c.properties, literal(f'$."{prop}"', Text), type_=Text
            )
        else:
            expr = func.json_extract_path_text(
                contacts.c.properties, literal(prop, Text), type_=Text
            )
    return _sql_text(expr, op, value, value2, ref, dialect)


def _null_safe_not(expr: ColumnElement[bool]) -> ColumnElement[bool]:
    # NOT NULL is NULL; an unknown "equal" must count as "not equal" as in Python.
    return not_(func.coalesce(expr, false()))


def _sql_date(
    col: ColumnElement[Any], op: str, value: Any, value2: Any, ref: datetime
) -> ColumnElement[bool]:
    def at(moment: datetime) -> ColumnElement[Any]:
        return literal(moment, DateTime())

    if op == "is_empty":
        return col.is_(None)
    if op == "is_not_empty":
        return col.is_not(None)
    if op == "within_last_days":
        return col >= at(ref - timedelta(days=value))
    if op == "more_than_days_ago":
        return col <= at(ref - timedelta(days=value))
    first = _parse_date(value)
    if op in ("eq", "neq"):
        if _DATE_ONLY.fullmatch(value):
            eq = and_(col >= at(first), col < at(first + timedelta(days=1)))
        else:
            eq = col == at(first)
        return eq if op == "eq" else _null_safe_not(eq)
    if op == "gt":
        return col > at(first)
    if op == "lt":
        return col < at(first)
    second = _parse_date(value2)
    if _DATE_ONLY.fullmatch(value2):
        return and_(col >= at(first), col < at(second + timedelta(days=1)))
    return and_(col >= at(first), col <= at(second))


def _sql_text(
    expr: ColumnElement[Any], op: str, value: Any, value2: Any, ref: datetime, dialect: str
) -> ColumnElement[bool]:
    def fold(e: ColumnElement[Any]) -> ColumnElement[Any]:
        # SQLite's lower() folds ASCII only; "C" collation makes PostgreSQL's do the same.
        return func.lower(e) if dialect == "sqlite" else func.lower(collate(e, "C"))

    def text_param(v: str) -> ColumnElement[Any]:
        return literal(v, Text)

    if op == "is_empty":
        return or_(expr.is_(None), expr == text_param(""))
    if op == "is_not_empty":
        return and_(expr.is_not(None), expr != text_param(""))
    if op in ("eq", "neq"):
        if _is_number(value):
            eq = _sql_number(expr, dialect) == literal(float(value), Float)
        else:
            eq = fold(expr) == text_param(_fold(value))
        return eq if op == "eq" else _null_safe_not(eq)
    if op == "contains":
        return fold(expr).contains(_fold(value), autoescape=True)
    if op == "starts_with":
        return fold(expr).startswith(_fold(value), autoescape=True)
    if op == "in":
        return fold(expr).in_(sorted({_fold(v) for v in value}))
    if op in ("within_last_days", "more_than_days_ago"):
        key = _sql_date_key(expr, dialect)
        cutoff = text_param(_moment_key(ref - timedelta(days=value)))
        return key >= cutoff if op == "within_last_days" else key <= cutoff
    if _is_number(value):
        number = _sql_number(expr, dialect)
        if op == "gt":
            return number > literal(float(value), Float)
        if op == "lt":
            return number < literal(float(value), Float)
        return number.between(literal(float(value), Float), literal(float(value2), Float))
    key = _sql_date_key(expr, dialect)
    low = text_param(_moment_key(_parse_date(value)))
    if op == "gt":
        return key > low
    if op == "lt":
        return key < low
    second = _parse_date(value2)
    high = text_param(_moment_key(_upper_bound(value2, second)))
    return and_(key >= low, key <= high if not _DATE_ONLY.fullmatch(value2) else key < high)


def _glob(expr: ColumnElement[Any], pattern: str) -> ColumnElement[bool]:
    return expr.op("GLOB", is_comparison=True)(literal(pattern, Text))


def _sql_number(expr: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """The value as a float where it looks like ``-?[0-9]+(.[0-9]+)?``, else NULL (no error)."""
    if dialect == "sqlite":
        looks_numeric = and_(
            not_(_glob(expr, "*[^0-9.-]*")),
            or_(_glob(expr, "[0-9]*"), _glob(expr, "-[0-9]*")),
            _glob(expr, "*[0-9]"),
            not_(_glob(expr, "?*-*")),
            not_(_glob(expr, "*.*.*")),
        )
    else:
        looks_numeric = expr.regexp_match(_PG_NUMERIC)
    # CASE guarantees the cast only sees numeric text (PostgreSQL would raise otherwise).
    return case((looks_numeric, cast(expr, Float)), else_=None)


def _sql_date_key(expr: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """A date-looking value as ``YYYY-MM-DDTHH:MM:SS`` text, else NULL (mirrors `_stored_date_key`)."""
    if dialect == "sqlite":
        looks_dated = or_(_glob(expr, _GLOB_DATE), _glob(expr, _GLOB_DATETIME))
    else:
        looks_dated = expr.regexp_match(_PG_STORED_DATE)
    day = func.substr(expr, 1, 10, type_=Text)
    time = case(
        (func.length(expr) == 10, literal("00:00:00", Text)),
        else_=func.substr(expr, 12, 8, type_=Text),
    )
    key = case((looks_dated, day.concat(literal("T", Text)).concat(time)), else_=None)
    # Byte order, not the database's locale order, so PostgreSQL compares like SQLite and Python.
    return key if dialect == "sqlite" else collate(key, "C")


# --------------------------------------------------------------------------------------------
# Description and portability


def describe_rule(rule: Group | Condition) -> str:
    """A one-line human reading of a rule: ``company contains 'chainge' OR in list 123``."""
    if isinstance(rule, Condition):
        if rule.op == "in_list":
            return f"in list {rule.value}"
        if rule.op in ("is_empty", "is_not_empty"):
            return f"{rule.field} {rule.op.replace('_', ' ')}"
        if rule.op == "between":
            return f"{rule.field} between {rule.value!r} and {rule.value2!r}"
        if rule.op == "within_last_days":
            return f"{rule.field} within the last {rule.value} days"
        if rule.op == "more_than_days_ago":
            return f"{rule.field} {rule.value} or more days ago"
        return f"{rule.field} {rule.op.replace('_', ' ')} {rule.value!r}"
    joiner = " AND " if rule.match == "all" else " OR "
    parts = [
        f"({describe_rule(item)})"
        if isinstance(item, Group) and len(item.items) > 1
        else describe_rule(item)
        for item in rule.items
    ]
    return joiner.join(parts)


def dump_definitions(defs: Sequence[SegmentDef], format: str = "toml") -> str:
    """Segment definitions as a TOML or JSON document that `load_definitions` reads back exactly."""
    if format == "json":
        doc = {"format": FILE_FORMAT, "segments": [seg.to_dict() for seg in defs]}
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if format != "toml":
        raise SegmentError(f"Unknown format {format!r}: use 'toml' or 'json'.")
    lines = ["# HubSync segment definitions", f"format = {FILE_FORMAT}"]
    for seg in defs:
        lines += ["", "[[segments]]"]
        lines.append(f"name = {_toml_value(seg.name)}")
        lines.append(f"colour = {_toml_value(seg.colour)}")
        lines.append(f"description = {_toml_value(seg.description)}")
        lines.append(f"builtin = {_toml_value(seg.builtin)}")
        _toml_group(lines, "segments.rule", seg.rule, array=False)
    return "\n".join(lines) + "\n"


def _toml_group(lines: list[str], header: str, group: Group, *, array: bool) -> None:
    lines += ["", f"[[{header}]]" if array else f"[{header}]"]
    lines.append(f"match = {_toml_value(group.match)}")
    if not group.items:
        lines.append("items = []")
    for item in group.items:
        if isinstance(item, Group):
            # A nested array of tables attaches to the element just opened above it.
            _toml_group(lines, f"{header}.items", item, array=True)
        else:
            lines += ["", f"[[{header}.items]]"]
            for key, val in item.to_dict().items():
                lines.append(f"{key} = {_toml_value(val)}")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SegmentError(f"Cannot write the number {value!r}.")
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise SegmentError(f"Cannot write the value {value!r} to TOML.")


_TOML_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _toml_string(text: str) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:
            raise SegmentError(f"Cannot write text with an unpaired surrogate: {text!r}.")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def load_definitions(text: str, format: str = "toml") -> list[SegmentDef]:
    """Read definitions written by `dump_definitions` (or by hand); validates each one.

    Properties are not checked against the synced ones here (`segment_store` does that on save).
    """
    if format == "toml":
        try:
            doc: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SegmentError(f"Not valid TOML: {exc}.") from None
    elif format == "json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SegmentError(f"Not valid JSON: {exc}.") from None
        if isinstance(doc, list):
            doc = {"segments": doc}
    else:
        raise SegmentError(f"Unknown format {format!r}: use 'toml' or 'json'.")
    if not isinstance(doc, dict) or not isinstance(doc.get("segments", []), list):
        raise SegmentError("The file must hold a list 'segments' of segment definitions.")
    version = doc.get("format", FILE_FORMAT)
    if version != FILE_FORMAT:
        raise SegmentError(
            f"Unsupported segment file format {version!r} (this HubSync reads {FILE_FORMAT})."
        )
    defs: list[SegmentDef] = []
    for index, item in enumerate(doc.get("segments", []), start=1):
        seg = definition_from_dict(item, f"segment {index}")
        validate_definition(seg, existing_names=[d.name for d in defs if not seg.builtin])
        if seg.builtin and any(d.name == seg.name for d in defs):
            raise SegmentError(f"The built-in segment {seg.name!r} appears twice.")
        defs.append(seg)
    return defs


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
    if op in ("gt", "lt", "between") and _NUMERIC.fullmatch(raw):
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
