"""The nightly audit's timing and its thread (a fake clock; stopping is immediate)."""

from __future__ import annotations

import threading
from datetime import datetime

from hubsync_core.audit.nightly import NightlyAudit, next_run


def test_next_run_is_the_next_time_of_day_strictly_after_now() -> None:
    assert next_run(datetime(2026, 12, 5, 1, 0), "03:00") == datetime(2026, 12, 5, 3, 0)
    assert next_run(datetime(2026, 12, 5, 3, 0), "03:00") == datetime(2026, 12, 6, 3, 0)
    assert next_run(datetime(2026, 12, 5, 23, 59, 59), "00:00") == datetime(2026, 12, 6, 0, 0)


def test_the_thread_audits_when_the_time_has_come_and_stops_at_once() -> None:
    ran = threading.Event()
    nightly = NightlyAudit(ran.set, "03:00", clock=lambda: datetime(2026, 12, 5, 3, 0, 0))
    nightly.start()  # the clock stands still at 03:00: the next run is a day away
    nightly.stop()
    assert not ran.is_set()

    times = iter([datetime(2026, 12, 5, 2, 59, 59, 999_000)] * 2 + [datetime(2026, 12, 5, 3)] * 9)
    due = NightlyAudit(ran.set, "03:00", clock=lambda: next(times))
    due.start()
    assert ran.wait(5)
    due.stop()
