"""The statuses of a bulk operation, its batches and its contacts.

`StrEnum`s like `hubsync_core.run_status.RunStatus`, so stored values and JSON stay plain
strings. An operation ends the way a sync run does (the same words), and starts `PLANNED`.
"""

from __future__ import annotations

from enum import StrEnum

from hubsync_core.run_status import RunStatus

#: A bulk operation's status (`bulk_operations.status`): `PLANNED` (saved, not started), then
#: a sync run's statuses, the same words. `RUNNING`: a runner holds the lock (or died holding
#: it: `resume` finds out); the rest are final, but `INTERRUPTED` and `CANCELLED` may be resumed.
BulkStatus = StrEnum(  # type: ignore[misc]
    "BulkStatus", {"PLANNED": "planned", **{status.name: status.value for status in RunStatus}}
)


#: Every contact was sent (some may have failed): running it again would do nothing.
DONE: tuple[BulkStatus, ...] = (BulkStatus.SUCCEEDED, BulkStatus.PARTIAL)
#: An operation `resume` continues: not started, or stopped before its last batch.
RESUMABLE: tuple[BulkStatus, ...] = (
    BulkStatus.RUNNING,
    BulkStatus.INTERRUPTED,
    BulkStatus.CANCELLED,
    BulkStatus.PLANNED,
)


class BatchStatus(StrEnum):
    """A write batch (`bulk_batches.status`): its intent is committed before it is sent."""

    PENDING = "pending"  # not sent
    SENDING = "sending"  # intent committed, result not yet: resume reconciles it
    DONE = "done"  # result committed: never sent again


class ItemStatus(StrEnum):
    """One contact of an operation (`bulk_items.status`)."""

    PENDING = "pending"
    WRITTEN = "written"
    FAILED = "failed"
    SKIPPED = "skipped"
