"""The column registry agrees with the table it describes and with what a sync requests."""

from __future__ import annotations

from hubsync_core import columns
from hubsync_core.store.models import Contact
from hubsync_core.sync.records import CORE_PROPERTIES


def test_stored_columns_are_exactly_the_contacts_table_columns() -> None:
    table = {c.name for c in Contact.__table__.columns}  # type: ignore[attr-defined]
    assert set(columns.STORED) == table - {"properties", "seen_generation"}
    assert not set(columns.MEMBERSHIPS) & table


def test_every_list_is_drawn_from_the_registry_in_display_order() -> None:
    for derived in (columns.SORTABLE, columns.SHOWN, columns.BRIEF, columns.SDK, columns.STORED):
        assert list(derived) == [n for n in columns.NAMES if n in derived]
    assert set(columns.SORTABLE) <= set(columns.STORED)
    assert len({columns.label(n) for n in columns.NAMES}) == len(columns.NAMES)
    assert columns.label("country") == "country"


def test_a_sync_requests_every_property_a_column_is_read_from() -> None:
    assert set(columns.HUBSPOT_PROPERTIES) <= set(CORE_PROPERTIES)
    assert columns.BY_NAME["created_at"].hubspot_property == "createdate"
