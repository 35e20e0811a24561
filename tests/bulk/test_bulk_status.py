"""The bulk statuses speak the sync run's words."""

from __future__ import annotations

from hubsync_core.bulk.status import DONE, RESUMABLE, BulkStatus
from hubsync_core.run_status import RunStatus


def test_an_operation_ends_in_the_words_a_sync_run_does_and_starts_planned() -> None:
    assert [s.value for s in BulkStatus] == ["planned", *(s.value for s in RunStatus)]
    assert BulkStatus.FAILED == RunStatus.FAILED == "failed"
    assert not set(DONE) & set(RESUMABLE)
