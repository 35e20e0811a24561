"""The bulk upsert's staging (PostgreSQL: COPY into a session's temporary table) never leaks
rows between calls, survives rolled-back transactions, and applies the same rules as SQLite."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from hubsync_core.store import contacts as store
from hubsync_core.store.database import Database

from .contact_data import stored_rows

T0 = datetime(2026, 11, 1, 9, 30, 0, 123456)


def row(hubspot_id: str, updated_at: datetime | None = T0, **changes: Any) -> dict[str, Any]:
    return {
        "hubspot_id": hubspot_id,
        "email": f"c{hubspot_id}@example.com",
        "properties": {"hs_object_id": hubspot_id, "note": 'é \\ \t tab, "quoted"'},
        "updated_at": updated_at,
        **changes,
    }


def test_two_upserts_in_one_transaction_each_write_only_their_rows(db: Database) -> None:
    with db.transaction() as conn:
        first = store.upsert_contacts(conn, [row("1"), row("2")], generation=1)
        second = store.upsert_contacts(conn, [row("3")], generation=2)

    assert (first, second) == (2, 1)
    contacts = stored_rows(db)
    assert {k: v["seen_generation"] for k, v in contacts.items()} == {"1": 1, "2": 1, "3": 2}


def test_a_rolled_back_upsert_leaves_nothing_and_the_next_one_works(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction() as conn:
        store.upsert_contacts(conn, [row("1"), row("2")])
        raise RuntimeError("page failed after the upsert")
    assert stored_rows(db) == {}

    for _ in range(3):  # the pooled connection, its staging table gone with the rollback
        with db.transaction() as conn:
            store.upsert_contacts(conn, [row("3")])

    assert set(stored_rows(db)) == {"3"}


def test_values_that_need_escaping_in_a_copy_stream_arrive_verbatim(db: Database) -> None:
    tricky = "back\\slash\ttab\nnewline \\N not null, \"quote\" 'single' ; drop"
    with db.transaction() as conn:
        store.upsert_contacts(
            conn, [row("1", company=tricky, jobtitle=None, properties={"x": tricky, "n": None})]
        )

    contact = stored_rows(db)["1"]
    assert contact["company"] == tricky
    assert contact["jobtitle"] is None
    assert contact["properties"] == {"x": tricky, "n": None}


def test_older_rows_never_replace_newer_ones_in_a_mixed_page(db: Database) -> None:
    newer, older = T0 + timedelta(hours=1), T0 - timedelta(hours=1)
    with db.transaction() as conn:
        store.upsert_contacts(conn, [row("1", company="A"), row("2", company="A")])
    page = [
        row("1", updated_at=newer, company="B"),
        row("2", updated_at=older, company="B"),
        row("3", company="B"),
    ]

    with db.transaction() as conn:
        written = store.upsert_contacts(conn, page, generation=5)

    assert written == 2
    contacts = stored_rows(db)
    assert {k: v["company"] for k, v in contacts.items()} == {"1": "B", "2": "A", "3": "B"}
    assert {k: v["seen_generation"] for k, v in contacts.items()} == {"1": 5, "2": 5, "3": 5}
