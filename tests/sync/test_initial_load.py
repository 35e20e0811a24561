"""A first full sync loads into an empty table without the explorer's indexes and ends with
every one of them built, the data exact; a load killed half-way is repaired by the next run."""

from __future__ import annotations

from store.contact_data import contact_indexes
from sync_helpers import assert_db_equals_sandbox, synced_properties

from hubsync_core.store import bulk_load, runs


def test_first_full_sync_is_exact_and_ends_with_every_index(sandbox, make_service, db):
    before = contact_indexes(db)
    assert len(before) >= 6
    service = make_service()

    stats = service.sync_all_contacts(mode="full")

    assert stats.status == "succeeded", stats.message
    assert contact_indexes(db) == before
    assert runs.get_state(db, bulk_load.DEFERRED_KEY) is None
    assert_db_equals_sandbox(db, sandbox, synced_properties(service.settings, sandbox))


def test_the_run_after_a_killed_initial_load_builds_the_indexes(sandbox, make_service, db):
    before = contact_indexes(db)
    assert bulk_load.defer_indexes(db)  # a first load killed before its end
    service = make_service()

    stats = service.sync_all_contacts(mode="full")

    assert stats.status == "succeeded", stats.message
    assert contact_indexes(db) == before
    assert runs.get_state(db, bulk_load.DEFERRED_KEY) is None
