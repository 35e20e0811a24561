"""Initial loads: the contacts' secondary indexes are deferred on an empty table and always
come back (at the end of the load, after a failed load, at the next run after a kill)."""

from __future__ import annotations

import pytest

from hubsync_core.store import bulk_load, runs
from hubsync_core.store import contacts as store
from hubsync_core.store.database import Database
from hubsync_core.store.models import SEARCH_INDEX

from .contact_data import contact_indexes


def expected_indexes(db: Database) -> set[str]:
    """What a fresh database has: the schema's indexes, the search index among them."""
    names = contact_indexes(db)
    assert len(names) >= 6
    assert SEARCH_INDEX in names or db.dialect == "postgresql"  # PostgreSQL: if pg_trgm is
    return names


def test_the_deferred_indexes_are_every_non_unique_secondary_one(db: Database) -> None:
    with db.connect() as conn:
        assert set(bulk_load.secondary_indexes(conn)) == expected_indexes(db)


def test_an_empty_table_loads_without_indexes_and_gets_them_back(db: Database) -> None:
    expected = expected_indexes(db)

    with bulk_load.initial_load(db) as deferred:
        assert deferred
        assert contact_indexes(db) == set()
        assert runs.get_state(db, bulk_load.DEFERRED_KEY) is not None
        with db.transaction() as conn:
            store.upsert_contacts(conn, [{"hubspot_id": "1", "email": "a@example.com"}])

    assert contact_indexes(db) == expected
    assert runs.get_state(db, bulk_load.DEFERRED_KEY) is None


def test_a_table_with_contacts_keeps_its_indexes(db: Database) -> None:
    with db.transaction() as conn:
        store.upsert_contacts(conn, [{"hubspot_id": "1"}])
    expected = contact_indexes(db)

    with bulk_load.initial_load(db) as deferred:
        assert not deferred
        assert contact_indexes(db) == expected

    assert contact_indexes(db) == expected


def test_a_failed_load_gets_its_indexes_back_and_keeps_its_error(db: Database) -> None:
    expected = expected_indexes(db)

    with pytest.raises(RuntimeError, match="page failed"), bulk_load.initial_load(db):
        raise RuntimeError("page failed")

    assert contact_indexes(db) == expected
    assert runs.get_state(db, bulk_load.DEFERRED_KEY) is None


def test_a_killed_load_is_repaired_by_the_next_process(db: Database) -> None:
    expected = expected_indexes(db)
    assert bulk_load.defer_indexes(db)  # ...and the process dies here
    other = Database(db.url)
    try:
        assert bulk_load.restore_pending_indexes(other)
        assert not bulk_load.restore_pending_indexes(other)  # done once
    finally:
        other.dispose()

    assert contact_indexes(db) == expected
