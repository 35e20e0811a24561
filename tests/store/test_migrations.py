"""Schema versions: a version-1 database opens intact; upgrades are ordered, once, and safe
when two processes open a fresh database together."""

from __future__ import annotations

import multiprocessing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, inspect, select, text
from sqlmodel import SQLModel

from hubsync_core.store import contacts, explorer, migrations, runs
from hubsync_core.store.database import Database
from hubsync_core.store.models import SyncRun

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "schema_v1"


def load_v1(url: str) -> None:
    """Write the version-1 fixture (schema + data) into an empty database."""
    engine = create_engine(url)
    script = (FIXTURES / f"{engine.dialect.name}.sql").read_text(encoding="utf-8")
    script += "\n" + (FIXTURES / "data.sql").read_text(encoding="utf-8")
    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "sqlite":
            raw.driver_connection.executescript(script)  # type: ignore[union-attr]
        else:
            with raw.cursor() as cursor:
                cursor.execute(script)
        raw.commit()
    finally:
        raw.close()
        engine.dispose()


def snapshot(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    """Every row of every version-1 table, read through the current table definitions."""
    found: dict[str, list[dict[str, Any]]] = {}
    for table in SQLModel.metadata.sorted_tables:
        if not inspect(conn).has_table(table.name):
            continue
        key = list(table.primary_key.columns)
        rows = conn.execute(select(table).order_by(*key)).mappings().all()
        found[table.name] = [dict(r) for r in rows]
    return found


def test_version_1_database_opens_with_every_contact_and_run_intact(
    empty_database_url: str,
) -> None:
    load_v1(empty_database_url)
    engine = create_engine(empty_database_url)
    with engine.connect() as conn:
        before = snapshot(conn)
        assert migrations.current_version(conn) == 1
    engine.dispose()

    db = Database(empty_database_url)
    try:
        with db.connect() as conn:
            after = snapshot(conn)
            assert migrations.current_version(conn) == migrations.CURRENT_VERSION
        for name, rows in before.items():
            if name == "sync_state":
                rows = [r for r in rows if r["key"] != migrations.SCHEMA_VERSION_KEY]
                after[name] = [r for r in after[name] if r["key"] != migrations.SCHEMA_VERSION_KEY]
            assert after[name] == rows, name
        assert [c["hubspot_id"] for c in after["contacts"]] == ["101", "102", "103", "104", "105"]
        zoe = after["contacts"][2]
        assert (zoe["firstname"], zoe["lastname"], zoe["company"]) == (
            "Zoë",
            "Ωmega 🦄",
            "مرحبا Corp",
        )
        assert zoe["properties"]["notes"] == 'línea 1\nlínea 2 — "quoted"'
        assert after["contacts"][1]["email"] is None
        assert after["contacts"][3]["archived_reason"] == "merged into 101"
        assert after["contacts"][0]["synced_at"] == datetime(2026, 11, 20, 8, 0, 5, 123456)
        assert [r["status"] for r in after["sync_runs"]] == ["succeeded", "partial", "interrupted"]

        # The upgraded database works: the partial run resumes, new rows get fresh ids.
        resumable = runs.resumable_run(db, "full")
        assert resumable is not None
        assert resumable.checkpoint["after"] == "200"
        run = runs.create_run(db, "full", "cli@host:1", {}, resumed_from=resumable.id)
        assert run.id == 4
        with db.transaction() as conn:
            contacts.upsert_contacts(
                conn,
                [{"hubspot_id": "106", "updated_at": datetime(2026, 11, 28), "properties": {}}],
            )
        assert [r.id for r in runs.history(db)] == [4, 3, 2, 1]
    finally:
        db.dispose()


def _index_names(conn: Connection, table: str) -> set[str]:
    if conn.dialect.name == "sqlite":
        found = conn.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"),
            {"t": table},
        )
    else:
        found = conn.execute(
            text("SELECT indexname FROM pg_indexes WHERE tablename = :t"), {"t": table}
        )
    return set(found.scalars())


def test_version_1_database_gets_the_explorer_indexes_and_search_works(
    empty_database_url: str,
) -> None:
    load_v1(empty_database_url)
    db = Database(empty_database_url)
    try:
        with db.connect() as conn:
            contact_indexes = _index_names(conn, "contacts")
            segment_indexes = _index_names(conn, "contact_segments")
            list_indexes = _index_names(conn, "list_memberships")
        # The version-1 indexes are replaced by wider ones under new names.
        assert not contact_indexes & {"ix_contacts_live_updated", "ix_contacts_email"}
        date_indexes = (
            {"ix_contacts_archived_updated", "ix_contacts_archived_created"}
            if db.is_sqlite
            else {"ix_contacts_updated_desc", "ix_contacts_created_desc"}
        )
        assert contact_indexes >= date_indexes | {
            "ix_contacts_id_facets",
            "ix_contacts_email_live",
            "ix_contacts_search",  # the test server has pg_trgm (contrib)
        }
        assert "ix_contact_segments_member" in segment_indexes
        assert "ix_list_memberships_member" in list_indexes

        # Search, pages and facets work on the upgraded data.
        def found(**kwargs: Any) -> list[str]:
            flt = explorer.ContactFilter(**kwargs)
            return [r["hubspot_id"] for r in explorer.query_contacts(db, flt).rows]

        assert found(search="LOVELACE") == ["101"]
        assert found(search="ωMEGA 🦄") == ["103"]
        assert found(search="zoë ω") == ["103"]
        assert found(search="ived", archived="include") == ["105"]
        explored = explorer.explore(db, explorer.ContactFilter(search="e"), facets=explorer.FACETS)
        assert explored.page.total == 3
        segments = {f.value: f.count for f in explored.facets["segment"]}
        assert (segments["engaged"], segments["cold"], segments["high_value"]) == (2, 1, 2)
        assert [(f.value, f.count) for f in explored.facets["list"]] == [("7", 2)]
    finally:
        db.dispose()


@pytest.mark.postgres
def test_without_pg_trgm_the_upgrade_completes_and_search_still_works(
    postgres_server: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    url = postgres_server.create_database(migrated=False)
    try:
        load_v1(url)
        monkeypatch.setattr(
            migrations, "PG_TRGM_SQL", "CREATE EXTENSION IF NOT EXISTS hubsync_no_such_extension"
        )
        db = Database(url)
        try:
            with db.connect() as conn:
                assert migrations.current_version(conn) == migrations.CURRENT_VERSION
                indexes = _index_names(conn, "contacts")
            assert "ix_contacts_search" not in indexes
            assert "ix_contacts_id_facets" in indexes
            assert "pg_trgm is not available" in caplog.text
            page = explorer.query_contacts(db, explorer.ContactFilter(search="lovelace"))
            assert [r["hubspot_id"] for r in page.rows] == ["101"]
        finally:
            db.dispose()
    finally:
        postgres_server.drop_database(url)


def test_upgrade_runs_each_new_step_once_in_order(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_v1(empty_database_url)
    applied: list[str] = []
    real = list(migrations.STEPS[1:])

    def record(name: str, step: Any) -> Any:
        def run(conn: Connection) -> None:
            applied.append(name)
            step(conn)

        return run

    def later(conn: Connection) -> None:
        conn.execute(text("UPDATE sync_state SET value = value || '!' WHERE key = 'generation'"))

    steps = [
        migrations.STEPS[0],
        *(record(f"v{i + 2}", step) for i, step in enumerate(real)),
        record("later", later),
        record("last", lambda conn: None),
    ]
    monkeypatch.setattr(migrations, "STEPS", steps)
    monkeypatch.setattr(migrations, "CURRENT_VERSION", len(steps))

    first = Database(empty_database_url)
    second = Database(empty_database_url)
    try:
        assert applied == [*(f"v{i + 2}" for i in range(len(real))), "later", "last"]
        with first.connect() as conn:
            assert migrations.current_version(conn) == len(steps)
        assert runs.get_state(second, "generation") == "2!"
    finally:
        first.dispose()
        second.dispose()


def test_a_database_from_a_newer_release_is_refused(database_url: str) -> None:
    db = Database(database_url)
    with db.transaction() as conn:
        runs.set_state(conn, migrations.SCHEMA_VERSION_KEY, "99")
    db.dispose()

    with pytest.raises(migrations.SchemaTooNew, match="schema version 99"):
        Database(database_url)


def _open(url: str, barrier: Any, results: Any) -> None:
    try:
        barrier.wait(timeout=30)
        db = Database(url)
        with db.connect() as conn:
            results.put(("ok", migrations.current_version(conn)))
        db.dispose()
    except Exception as exc:  # reported to the parent, which asserts on it
        results.put(("error", repr(exc)))


def test_processes_opening_a_fresh_database_together_all_succeed(
    empty_database_url: str,
) -> None:
    ctx = multiprocessing.get_context("fork")
    count = 4
    barrier, results = ctx.Barrier(count), ctx.Queue()
    workers = [
        ctx.Process(target=_open, args=(empty_database_url, barrier, results)) for _ in range(count)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)

    assert outcomes == [("ok", migrations.CURRENT_VERSION)] * count
    db = Database(empty_database_url)
    try:
        with db.connect() as conn:
            versions = conn.execute(
                text("SELECT value FROM sync_state WHERE key = :k"),
                {"k": migrations.SCHEMA_VERSION_KEY},
            ).all()
        assert versions == [(str(migrations.CURRENT_VERSION),)]
        assert runs.create_run(db, "full", "cli@h:1", {}).id == 1
        assert isinstance(runs.get_run(db, 1), SyncRun)
    finally:
        db.dispose()


def test_version_3_adds_the_id_order_index_that_id_sorted_pages_walk(db: Database) -> None:
    from hubsync_core.store.models import ID_ORDER_INDEX

    with db.connect() as conn:
        if db.dialect == "sqlite":
            found = conn.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'index' AND name = :n"),
                {"n": ID_ORDER_INDEX},
            ).all()
        else:
            found = conn.execute(
                text("SELECT indexname FROM pg_indexes WHERE indexname = :n"),
                {"n": ID_ORDER_INDEX},
            ).all()
    assert found == [(ID_ORDER_INDEX,)]
