"""Contact writes: bulk upsert rules, archival, the vanished sweep, lists, rejections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import event, func, select

from hubsync_core.hubspot.models import ListInfo
from hubsync_core.store import contacts as store
from hubsync_core.store import runs
from hubsync_core.store.database import Database

from .contact_data import stored_rows

T0 = datetime(2026, 11, 1, 9, 30, 0, 123456)
T1 = T0 + timedelta(hours=1)
T2 = T0 + timedelta(days=2)


def row(hubspot_id: str, updated_at: datetime | None = T0, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "hubspot_id": hubspot_id,
        "email": f"c{hubspot_id}@example.com",
        "firstname": "Ada",
        "lastname": f"Lovelace {hubspot_id}",
        "company": "Chainge Ltd",
        "phone": "+44 20 7946 0000",
        "jobtitle": "Analyst",
        "lifecyclestage": "lead",
        "properties": {"email": f"c{hubspot_id}@example.com", "hs_object_id": hubspot_id},
        "created_at": T0 - timedelta(days=30),
        "updated_at": updated_at,
        "synced_at": T1,
        "archived": False,
        "archived_at": None,
        "archived_reason": None,
    }
    base.update(changes)
    return base


def upsert(db: Database, rows: list[dict[str, Any]], generation: int | None = None) -> int:
    with db.transaction() as conn:
        return store.upsert_contacts(conn, rows, generation=generation)


def test_upsert_inserts_every_column_including_contacts_without_email(db: Database) -> None:
    written = upsert(db, [row("1"), row("2", email=None, properties={"email": None})])

    assert written == 2
    contacts = stored_rows(db)
    assert set(contacts) == {"1", "2"}
    first = contacts["1"]
    assert first["email"] == "c1@example.com"
    assert first["properties"] == {"email": "c1@example.com", "hs_object_id": "1"}
    assert first["updated_at"] == T0
    assert first["created_at"] == T0 - timedelta(days=30)
    assert first["synced_at"] == T1
    assert first["archived"] is False
    assert first["seen_generation"] == 0
    assert contacts["2"]["email"] is None


def test_upsert_replaces_a_row_when_incoming_is_newer_or_equally_new(db: Database) -> None:
    upsert(db, [row("1"), row("2")])

    written = upsert(
        db, [row("1", updated_at=T1, company="New Co"), row("2", synced_at=T2, firstname="B")]
    )

    assert written == 2
    contacts = stored_rows(db)
    assert contacts["1"]["company"] == "New Co"
    assert contacts["1"]["updated_at"] == T1
    assert contacts["2"]["firstname"] == "B"
    assert contacts["2"]["synced_at"] == T2


def test_upsert_never_replaces_a_row_stored_with_a_newer_updated_at(db: Database) -> None:
    upsert(db, [row("1", updated_at=T2, company="Newest")])

    written = upsert(db, [row("1", updated_at=T1, company="Stale")])

    assert written == 0
    contacts = stored_rows(db)
    assert contacts["1"]["company"] == "Newest"
    assert contacts["1"]["updated_at"] == T2


def test_upsert_treats_a_missing_updated_at_as_older_than_any_known_one(db: Database) -> None:
    upsert(db, [row("dated", updated_at=T1, company="Dated"), row("undated", updated_at=None)])

    upsert(
        db,
        [
            row("dated", updated_at=None, company="Unknown age"),
            row("undated", updated_at=T0, company="Now dated"),
        ],
    )

    contacts = stored_rows(db)
    assert contacts["dated"]["company"] == "Dated"
    assert contacts["undated"]["company"] == "Now dated"


def test_incoming_live_row_unarchives_the_contact(db: Database) -> None:
    upsert(db, [row("1")])
    with db.transaction() as conn:
        store.mark_archived(conn, [("1", T0)])
    assert stored_rows(db)["1"]["archived"] is True

    upsert(db, [row("1", updated_at=T1)])

    contact = stored_rows(db)["1"]
    assert contact["archived"] is False
    assert contact["archived_at"] is None
    assert contact["archived_reason"] is None


def test_generation_stamps_every_incoming_id_even_rows_kept_as_newer(db: Database) -> None:
    upsert(db, [row("1", updated_at=T2), row("2")], generation=1)

    upsert(db, [row("1", updated_at=T0), row("2", updated_at=T1), row("3")], generation=2)

    contacts = stored_rows(db)
    assert {k: v["seen_generation"] for k, v in contacts.items()} == {"1": 2, "2": 2, "3": 2}
    assert contacts["1"]["updated_at"] == T2  # data kept, but seen


def test_upsert_without_generation_leaves_seen_generation_alone(db: Database) -> None:
    upsert(db, [row("1")], generation=4)

    upsert(db, [row("1", updated_at=T1)])

    assert stored_rows(db)["1"]["seen_generation"] == 4


def test_vanished_sweep_archives_live_contacts_the_generation_did_not_see(db: Database) -> None:
    upsert(db, [row("1"), row("2"), row("3")], generation=1)
    with db.transaction() as conn:
        store.mark_archived(conn, [("3", T0)])
    upsert(db, [row("1")], generation=2)

    with db.transaction() as conn:
        gone = store.mark_vanished(conn, 2)

    assert gone == 1
    contacts = stored_rows(db)
    assert contacts["1"]["archived"] is False
    assert contacts["2"]["archived"] is True
    assert contacts["2"]["archived_reason"] == "vanished"
    assert contacts["2"]["archived_at"] is not None
    assert contacts["3"]["archived_reason"] == "archived"  # already archived: untouched


def test_mark_seen_and_count_seen_follow_the_generation(db: Database) -> None:
    upsert(db, [row("1"), row("2"), row("3")], generation=1)

    with db.transaction() as conn:
        changed = store.mark_seen(conn, ["1", "2", "404"], 2)

    assert changed == 2
    assert store.count_seen(db, 2) == 2
    assert store.count_seen(db, 1) == 1
    assert store.count_seen(db, None) == 0


def test_mark_archived_archives_known_ids_and_records_unknown_ones(db: Database) -> None:
    upsert(db, [row("1")])

    with db.transaction() as conn:
        marked = store.mark_archived(conn, [("1", T1), ("99", None)])

    assert marked == 2
    contacts = stored_rows(db)
    assert contacts["1"]["archived"] is True
    assert contacts["1"]["archived_at"] == T1
    assert contacts["1"]["email"] == "c1@example.com"  # the data stays
    unknown = contacts["99"]
    assert unknown["archived"] is True
    assert unknown["archived_reason"] == "archived"
    assert unknown["archived_at"] is not None
    assert unknown["properties"] == {}
    assert unknown["email"] is None


def test_mark_merged_archives_losers_naming_the_winner(db: Database) -> None:
    upsert(db, [row("10"), row("11"), row("12")])

    with db.transaction() as conn:
        marked = store.mark_merged(conn, ["11", "12", "10"], "10")

    assert marked == 2
    contacts = stored_rows(db)
    assert contacts["10"]["archived"] is False
    assert contacts["11"]["archived_reason"] == "merged into 10"
    assert contacts["12"]["archived"] is True


def test_mark_merges_archives_every_loser_in_one_statement_later_winner_last(
    db: Database,
) -> None:
    upsert(db, [row(str(i)) for i in range(20, 27)])
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    with db.transaction() as conn:
        marked = store.mark_merges(conn, [("20", ["21", "22", "20"]), ("23", ["22", "24", "99"])])

    assert len([s for s in statements if "INSERT" in s.upper()]) == 1
    assert marked == 4  # 21, 22, 24 and the unknown 99 (recorded as merged)
    contacts = stored_rows(db)
    assert contacts["20"]["archived"] is False and contacts["23"]["archived"] is False
    assert contacts["21"]["archived_reason"] == "merged into 20"
    # Named by two winners: merged into the later one, as two mark_merged calls would leave it.
    assert contacts["22"]["archived_reason"] == "merged into 23"
    assert contacts["24"]["archived_reason"] == "merged into 23"
    assert (
        contacts["99"]["archived"] is True and contacts["99"]["archived_reason"] == "merged into 23"
    )
    assert contacts["25"]["archived"] is False


def test_clear_contacts_removes_memberships_but_keeps_sync_runs(db: Database) -> None:
    upsert(db, [row("1"), row("2")])
    run = runs.create_run(db, "full", "cli@host:1", {})
    with db.transaction() as conn:
        conn.execute(store.SEGMENTS.insert(), [{"segment": "chainge", "hubspot_id": "1"}])
        store.replace_lists(conn, [ListInfo("7", "Customers", 2)])
        store.replace_list_members(conn, "7", ["1", "2"])

    with db.transaction() as conn:
        deleted = store.clear_contacts(conn)

    assert deleted == 2
    with db.connect() as conn:
        for table in (store.CONTACTS, store.SEGMENTS, store.MEMBERS):
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 0
    assert runs.get_run(db, run.id) is not None


def test_upsert_keeps_the_newest_copy_when_a_page_repeats_an_id(db: Database) -> None:
    written = upsert(
        db,
        [
            row("1", updated_at=T1, company="Newer"),
            row("1", updated_at=T0, company="Older"),
            row("2", company="First"),
            row("2", company="Second"),
        ],
    )

    assert written == 2
    contacts = stored_rows(db)
    assert contacts["1"]["company"] == "Newer"
    assert contacts["2"]["company"] == "Second"


def test_upsert_strips_nul_bytes_from_text_and_properties(db: Database) -> None:
    upsert(
        db,
        [row("1", firstname="A\x00da", properties={"note": "x\x00y", "k\x00": "v", "n": None})],
    )

    contact = stored_rows(db)["1"]
    assert contact["firstname"] == "Ada"
    assert contact["properties"] == {"note": "xy", "k": "v", "n": None}


def test_upsert_stores_aware_datetimes_as_naive_utc(db: Database) -> None:
    plus_two = timezone(timedelta(hours=2))
    upsert(db, [row("1", updated_at=T1.replace(tzinfo=plus_two))])

    assert stored_rows(db)["1"]["updated_at"] == T1 - timedelta(hours=2)


def test_upsert_stores_hostile_values_verbatim(db: Database) -> None:
    hostile = {
        "huge": "x" * 100_000,
        "rtl": "\u202eمرحبا",
        "emoji": "🦄👩‍💻",
        "sql": "'); DROP TABLE contacts; --",
        "formula": '=HYPERLINK("http://x")',
    }
    upsert(db, [row("18446744073709551616", company=hostile["sql"], properties=hostile)])

    contact = stored_rows(db)["18446744073709551616"]
    assert contact["properties"] == hostile
    assert contact["company"] == hostile["sql"]


def test_upsert_is_one_statement_per_page_not_one_per_row(db: Database) -> None:
    upsert(db, [row(str(i), updated_at=T2) for i in range(50)], generation=1)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        page = [row(str(i), updated_at=T1) for i in range(300)]  # 50 kept as newer
        with db.transaction() as conn:
            statements.clear()
            written = store.upsert_contacts(conn, page, generation=2)
            upserts = [s for s in statements if "INSERT" in s.upper()]
    finally:
        event.remove(db.engine, "before_cursor_execute", count)

    assert written == 250
    assert len(upserts) == 1
    assert len(statements) == 2  # the upsert, and the seen stamp for the 50 kept rows
    assert store.count_seen(db, 2) == 300


def test_replace_lists_drops_gone_lists_with_their_members(db: Database) -> None:
    with db.transaction() as conn:
        store.replace_lists(conn, [ListInfo("1", "One"), {"list_id": "2", "name": "Two"}])
        store.replace_list_members(conn, "1", ["10", "11"])
        store.replace_list_members(conn, "2", ["10"])

    with db.transaction() as conn:
        kept = store.replace_lists(conn, [ListInfo("2", "Two renamed", 5, "DYNAMIC")])

    assert kept == 1
    with db.connect() as conn:
        lists = conn.execute(select(store.LISTS)).mappings().all()
        members = conn.execute(select(store.MEMBERS.c.list_id, store.MEMBERS.c.hubspot_id)).all()
    assert [(r["list_id"], r["name"], r["size"], r["processing_type"]) for r in lists] == [
        ("2", "Two renamed", 5, "DYNAMIC")
    ]
    assert [tuple(m) for m in members] == [("2", "10")]


def test_replace_list_members_streams_ids_and_replaces_the_old_set(db: Database) -> None:
    with db.transaction() as conn:
        store.replace_lists(conn, [ListInfo("5", "Big")])
        store.replace_list_members(conn, "5", ["old"])
    consumed: list[int] = []

    def ids() -> Any:
        for i in range(2 * store.CHUNK + 10):
            consumed.append(i)
            yield str(i)
        yield "0"  # a repeated id is stored once

    with db.transaction() as conn:
        stored_count = store.replace_list_members(conn, "5", ids())

    assert stored_count == 2 * store.CHUNK + 10
    with db.connect() as conn:
        members = set(
            conn.execute(
                select(store.MEMBERS.c.hubspot_id).where(store.MEMBERS.c.list_id == "5")
            ).scalars()
        )
    assert "old" not in members
    assert len(members) == 2 * store.CHUNK + 10


@dataclass(frozen=True)
class Refusal:
    hubspot_id: str | None
    reason: str
    sample: str | None = None


def test_record_rejections_accepts_objects_dicts_and_tuples(db: Database) -> None:
    run = runs.create_run(db, "full", "cli@host:1", {})

    with db.transaction() as conn:
        count = store.record_rejections(
            conn,
            run.id,
            [
                Refusal("1", "email is not text", "z" * 5000),
                {"hubspot_id": None, "reason": "record without id"},
                ("3", "NUL bytes removed", "a\x00b"),
            ],
        )

    assert count == 3
    with db.connect() as conn:
        rows = conn.execute(select(store.REJECTED).order_by(store.REJECTED.c.id)).mappings().all()
    assert [(r["run_id"], r["hubspot_id"], r["reason"]) for r in rows] == [
        (run.id, "1", "email is not text"),
        (run.id, None, "record without id"),
        (run.id, "3", "NUL bytes removed"),
    ]
    assert len(rows[0]["sample"]) == store.SAMPLE_CHARS
    assert rows[2]["sample"] == "ab"
    assert all(r["recorded_at"] <= datetime.now(UTC).replace(tzinfo=None) for r in rows)
