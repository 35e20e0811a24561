"""How rule fields and values are read (package-private): field kinds, dates, numbers, case.

Validation, the Python evaluator and the SQL compiler share these, so the three agree on what a
value means; see `hubsync_core.segments.evaluate` for the semantics they implement.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any

from hubsync_core.clock import naive_utc
from hubsync_core.segments.model import (
    _ASCII_LOWER,
    CONTACT_FIELDS,
    DATE_COLUMNS,
    LIST_FIELD,
    MAX_DAYS,
    PROPERTY_PREFIX,
    TEXT_COLUMNS,
    SegmentError,
)

_PROPERTY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,99}")
NUMERIC = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_VALUE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}.*)?")


def field_kind(name: Any) -> str:
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


def check_days(value: Any, label: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
        raise SegmentError(
            f"{label} must be a whole number of days from 1 to {MAX_DAYS}, got {value!r}"
        )


def is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) < 1e300
    )


def parse_date(value: Any) -> datetime:
    """A rule's date value as a naive UTC datetime; raises `SegmentError` for a bad date."""
    if not isinstance(value, str) or not _DATE_VALUE.fullmatch(value):
        raise SegmentError(
            f"bad date {value!r}: use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC unless an offset is given)"
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise SegmentError(f"bad date {value!r}: no such date or time") from None
    return naive_utc(parsed)


def upper_bound(raw: str, parsed: datetime) -> datetime:
    """The exclusive-or-inclusive upper instant for between: a date alone covers its whole day."""
    return parsed + timedelta(days=1) if DATE_ONLY.fullmatch(raw) else parsed


def fold(text: str) -> str:
    return text.translate(_ASCII_LOWER)


def moment_key(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
