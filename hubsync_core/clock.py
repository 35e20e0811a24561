"""Time for HubSync: naive UTC everywhere inside, ISO 8601 with a Z at the edges.

The database stores timestamps as naive UTC (`models.py` declares plain `DateTime`
columns), so every time the code makes or compares is naive UTC too.
"""

from __future__ import annotations

from datetime import UTC, datetime


def naive_utc(value: datetime) -> datetime:
    """`value` as naive UTC: an aware time is converted, a naive one is taken as UTC."""
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def iso_z(value: datetime | None) -> str | None:
    """A naive-UTC (or aware) datetime as ISO 8601 with a Z: `2024-01-23T10:00:00Z`
    (milliseconds kept when present)."""
    if value is None:
        return None
    value = naive_utc(value)
    return value.isoformat(timespec="milliseconds" if value.microsecond else "seconds") + "Z"
