"""The nightly full audit (`HUBSYNC_AUDIT_NIGHTLY_AT`, HH:MM UTC) for long-lived processes.

`hubsync api` starts one `NightlyAudit` thread when the setting is on; it waits on an event, so
stopping it is immediate. A sync holding the lock at the planned time delays the audit by
`RETRY_SECONDS`, not by a day.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from hubsync_core.clock import utcnow

log = logging.getLogger("hubsync.audit")

RETRY_SECONDS = 300.0


def next_run(now: datetime, at: str) -> datetime:
    """The next `at` ("HH:MM", UTC) strictly after `now` (naive UTC)."""
    hour, minute = (int(part) for part in at.split(":"))
    planned = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return planned if planned > now else planned + timedelta(days=1)


class NightlyAudit:
    """Runs `audit()` every day at `at`; `stop()` ends the thread at once."""

    def __init__(
        self,
        audit: Callable[[], object],
        at: str,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._audit, self._at, self._clock = audit, at, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="hubsync-nightly-audit", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        wait = (next_run(self._clock(), self._at) - self._clock()).total_seconds()
        while not self._stop.wait(max(wait, 0.0)):
            try:
                self._audit()
            except Exception as exc:  # a sync holding the lock, HubSpot down: try again soon
                log.warning("nightly audit did not run: %s", exc)
                wait = RETRY_SECONDS
                continue
            wait = (next_run(self._clock(), self._at) - self._clock()).total_seconds()
