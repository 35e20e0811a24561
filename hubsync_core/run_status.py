"""The statuses a sync run can have: one `StrEnum`, so stored values and JSON stay plain strings."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """A sync run's status as stored in `sync_runs.status`. Only `RUNNING` holds the
    single-flight lock; every other status is final."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


#: Ended without finishing its scope: the next run of the same mode may resume it.
RESUMABLE: tuple[RunStatus, ...] = (
    RunStatus.PARTIAL,
    RunStatus.CANCELLED,
    RunStatus.INTERRUPTED,
    RunStatus.FAILED,
)
