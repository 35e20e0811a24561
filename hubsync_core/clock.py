"""Time for HubSync: one convention, naive UTC.

The database stores every timestamp as a naive UTC `datetime` (`models.NAIVE_UTC`, the same
on SQLite and PostgreSQL), so every time HubSync makes or compares is naive UTC too:
`utcnow()` for "now". Conversion happens only at the edges:

- in: HubSpot's times are parsed to naive UTC (`sync.records.parse_time`), rule values
  (`segments`) likewise; anything else that may be aware goes through `naive_utc`;
- out: `iso_z` writes ISO 8601 with a `Z` (SDK rows, exports, `SyncStats.to_dict`); pages
  show naive UTC labelled "UTC".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


def utcnow() -> datetime:
    """Now, as naive UTC (what the database stores)."""
    return datetime.now(UTC).replace(tzinfo=None)


@overload
def naive_utc(value: datetime) -> datetime: ...
@overload
def naive_utc(value: None) -> None: ...
def naive_utc(value: datetime | None) -> datetime | None:
    """`value` as naive UTC: an aware time is converted, a naive one is taken as UTC."""
    if value is not None and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def iso_z(value: datetime | None) -> str | None:
    """A naive-UTC (or aware) datetime as ISO 8601 with a Z: `2024-01-23T10:00:00Z`
    (milliseconds kept when present)."""
    if value is None:
        return None
    value = naive_utc(value)
    return value.isoformat(timespec="milliseconds" if value.microsecond else "seconds") + "Z"
