"""Segments: a rule model, its validation, its evaluation in Python and in SQL, and portability.

A segment is a name, a colour and a rule. A rule is a `Group` of `Condition`s (and nested
groups) combined with ``all`` (AND) or ``any`` (OR); a condition tests one field (a contact
column, ``properties.<name>`` or ``list``) with one op. The four built-in segments are defined in
the same model (`builtin_segments`), so there is one mechanism for all of them.

Decisions that hold throughout (the details live in the module named):

- **Names and keys** (`model`): the name is shown as typed ("EU leads"); membership is stored
  under a stable key, its slug (`segment_key` → "eu_leads"). Two names with the same key are
  duplicates; the built-in names are their own keys and are reserved.
- **Case** (`evaluate`): string comparisons ignore ASCII case only ("A" = "a", "Ä" ≠ "ä"),
  identically in Python, SQLite and PostgreSQL.
- **Windows** (`evaluate`): at the reference time ``ref``, ``within_last_days N`` is
  ``value >= ref − N days`` and ``more_than_days_ago N`` is ``value <= ref − N days``: both
  include their boundary, future values are "within", and no value is in neither.
- **One semantics, two evaluators**: `matches` (Python) and `compile_rule` (SQL) agree, and the
  tests hold them to it on SQLite and PostgreSQL.

Modules: `model` (fields, ops, limits, the dataclasses, keys, dict form), `builtins` (the
built-in segments), `validation` (``validate_*``), `evaluate` (Python), `sql` (SQLAlchemy),
`files` (TOML/JSON definition files), `text` (a rule read aloud; typed text to rule values).
Import the public names from here, `hubsync_core.segments`.
"""

from __future__ import annotations

from hubsync_core.segments.builtins import (
    BUILTIN_KEYS,
    BuiltinParams,
    ContactSegment,
    builtin_segments,
)
from hubsync_core.segments.evaluate import Predicate, matches, predicate, segments_for
from hubsync_core.segments.files import FILE_FORMAT, dump_definitions, load_definitions
from hubsync_core.segments.model import (
    CONTACT_FIELDS,
    DATE_COLUMNS,
    DEFAULT_COLOUR,
    LIST_FIELD,
    MATCHES,
    MAX_CONDITIONS,
    MAX_DAYS,
    MAX_DEPTH,
    MAX_IN_VALUES,
    MAX_NAME_LENGTH,
    MAX_VALUE_LENGTH,
    OPS,
    PROPERTY_PREFIX,
    TEXT_COLUMNS,
    Condition,
    Group,
    SegmentDef,
    SegmentError,
    definition_from_dict,
    rule_from_dict,
    segment_key,
)
from hubsync_core.segments.sql import compile_rule
from hubsync_core.segments.text import describe_rule, parse_condition, parse_value
from hubsync_core.segments.validation import validate_definition, validate_name, validate_rule

__all__ = [
    "BUILTIN_KEYS",
    "CONTACT_FIELDS",
    "DATE_COLUMNS",
    "DEFAULT_COLOUR",
    "FILE_FORMAT",
    "LIST_FIELD",
    "MATCHES",
    "MAX_CONDITIONS",
    "MAX_DAYS",
    "MAX_DEPTH",
    "MAX_IN_VALUES",
    "MAX_NAME_LENGTH",
    "MAX_VALUE_LENGTH",
    "OPS",
    "PROPERTY_PREFIX",
    "TEXT_COLUMNS",
    "BuiltinParams",
    "Condition",
    "ContactSegment",
    "Group",
    "Predicate",
    "SegmentDef",
    "SegmentError",
    "builtin_segments",
    "compile_rule",
    "definition_from_dict",
    "describe_rule",
    "dump_definitions",
    "load_definitions",
    "matches",
    "parse_condition",
    "parse_value",
    "predicate",
    "rule_from_dict",
    "segment_key",
    "segments_for",
    "validate_definition",
    "validate_name",
    "validate_rule",
]
