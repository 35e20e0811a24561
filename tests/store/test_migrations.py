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

from hubsync_core.store import contacts, migrations, runs
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


def test_upgrade_runs_each_new_step_once_in_order(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_v1(empty_database_url)
    applied: list[int] = []

    def v2(conn: Connection) -> None:
        applied.append(2)
        conn.execute(text("UPDATE sync_state SET value = value || '!' WHERE key = 'generation'"))

    def v3(conn: Connection) -> None:
        applied.append(3)

    monkeypatch.setattr(migrations, "STEPS", [*migrations.STEPS, v2, v3])
    monkeypatch.setattr(migrations, "CURRENT_VERSION", 3)

    first = Database(empty_database_url)
    second = Database(empty_database_url)
    try:
        assert applied == [2, 3]
        with first.connect() as conn:
            assert migrations.current_version(conn) == 3
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
