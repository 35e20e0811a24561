"""A first full sync loads into an empty table without the explorer's indexes and ends with
every one of them built, the data exact; a load killed half-way is repaired by the next run."""

from __future__ import annotations

from sqlalchemy import text
from sync_helpers import assert_db_equals_sandbox, synced_properties

from hubsync_core.store import bulk_load, runs
from hubsync_core.store.database import Database


def contact_indexes(db: Database) -> set[str]:
    sql = (
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contacts' "
        "AND sql IS NOT NULL"
        if db.is_sqlite
        else "SELECT indexname FROM pg_indexes WHERE tablename = 'contacts' "
        "AND indexname <> 'contacts_pkey'"
    )
    with db.connect() as conn:
        return {str(name) for (name,) in conn.execute(text(sql))}


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
