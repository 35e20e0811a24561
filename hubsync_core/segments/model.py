"""The rule model: what a condition can name, `Condition`/`Group`/`SegmentDef`, keys, dict form.

A segment is a name, a colour and a rule. A rule is a `Group` of `Condition`s (and nested
groups) combined with ``all`` (AND) or ``any`` (OR).

Fields a condition can name:

- a contact column: ``email firstname lastname company phone jobtitle lifecyclestage hubspot_id``
  (text) or ``created_at updated_at`` (naive UTC datetimes);
- ``properties.<name>``: any synced HubSpot property, read from the JSON column
  ``contacts.properties`` (``json_extract`` on SQLite, ``json_extract_path_text`` on PostgreSQL);
- ``list``: list membership, with the single op ``in_list`` and a HubSpot list id.

Names and keys: the name is shown as typed ("EU leads"); membership is stored under a stable key,
the slug of the name (`segment_key`: ASCII-lowercased, runs of spaces, ``-`` and ``_`` turned into
one ``_`` → "eu_leads"). Two names with the same key are duplicates. Built-in names
(chainge, engaged, cold, high_value) are their own keys and are reserved.

This module builds and parses the model only: `validation` checks it, `evaluate` and `sql` run it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from hubsync_core import columns


class SegmentError(ValueError):
    """A segment definition or rule HubSync cannot use; the message says what and where."""


#: Every contact column a rule can name: the ones filled from a HubSpot property.
CONTACT_FIELDS: tuple[str, ...] = columns.FROM_HUBSPOT
#: Rule fields compared as text, and as times.
TEXT_COLUMNS: tuple[str, ...] = tuple(n for n in CONTACT_FIELDS if n in columns.TEXT_LIKE)
DATE_COLUMNS: tuple[str, ...] = tuple(n for n in CONTACT_FIELDS if n in columns.TIMES)
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


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


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
