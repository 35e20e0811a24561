"""The clock's conventions: naive UTC inside, ISO 8601 with a Z outside."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hubsync_core.clock import iso_z


def test_iso_z_writes_utc_with_a_z() -> None:
    assert iso_z(datetime(2024, 1, 23, 10, 0)) == "2024-01-23T10:00:00Z"
    assert iso_z(datetime(2024, 1, 23, 10, 0, 0, 123456)) == "2024-01-23T10:00:00.123Z"
    assert iso_z(datetime(2024, 1, 23, 11, 0, tzinfo=timezone(timedelta(hours=1)))) == (
        "2024-01-23T10:00:00Z"
    )
    assert iso_z(None) is None
