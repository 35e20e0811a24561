"""`hubsync bulk ...` from the outside: exit codes, refusals before anything is sent, the
read-only installation, a busy database, partial failures listed, and the audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import run_cli

from hubsync_core.sandbox import Sandbox, SandboxConfig
from hubsync_core.sandbox.config import READ_SCOPES
from hubsync_core.store import lock

from .helpers import synced_service


def _portal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **config: object) -> Iterator[Sandbox]:
    options = {"contacts": 300, "seed": 9, "rate_limit": 0, "search_rate_limit": 0, **config}
    with Sandbox(SandboxConfig(**options)) as sb:  # type: ignore[arg-type]
        path = tmp_path / "cli.db"
        synced_service(sb, path).close()
        monkeypatch.chdir(tmp_path)  # no stray .env
        for name in ("HUBSPOT_API_KEY", "CHAINGE_LIST_ID", "HUBSYNC_PROPERTIES"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", sb.token)
        monkeypatch.setenv("HUBSPOT_BASE_URL", sb.base_url)
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
        monkeypatch.setenv("HUBSYNC_MAX_RETRIES", "1")
        sb.writes.clear()
        yield sb


@pytest.fixture
def env_portal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Sandbox]:
    yield from _portal(monkeypatch, tmp_path)


@pytest.fixture
def read_only_portal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Sandbox]:
    yield from _portal(monkeypatch, tmp_path, scopes=READ_SCOPES)


def _id_arg(sandbox: Sandbox, start: int, count: int) -> str:
    """`--ids` for `count` live contacts from the `start`th: comma-separated."""
    return ",".join(sandbox.portal.live_ids()[start : start + count])


@pytest.mark.parametrize(
    ("assignment", "reason"),
    [
        ("lifecyclestage=champion", "'champion' is not an option of Lifecycle Stage"),
        ("hs_object_id=12", "read-only"),
        ("favourite_colour=blue", "Unknown property 'favourite_colour'"),
    ],
    ids=["invalid-enum", "read-only-property", "unknown-property"],
)
def test_a_bad_value_is_refused_in_the_preview_and_nothing_is_sent(
    env_portal, capsys, assignment, reason
):
    code, out, _err = run_cli(
        capsys, "bulk", "set", assignment, "--ids", _id_arg(env_portal, 0, 5), "--yes"
    )
    assert code == 2
    assert "REFUSED" in out and reason in out
    assert env_portal.writes.items() == []
    assert run_cli(capsys, "bulk", "log", "--json")[1].strip() == "[]"


def test_enumeration_options_are_listed_by_label_when_refused(env_portal, capsys):
    _code, out, _err = run_cli(
        capsys, "bulk", "set", "lifecyclestage=champion", "--ids", "1", "--dry-run"
    )
    assert "Marketing Qualified Lead (marketingqualifiedlead)" in out


def test_a_read_only_token_is_refused_naming_the_scope_and_reads_keep_working(
    read_only_portal, capsys
):
    code, out, _err = run_cli(
        capsys, "bulk", "set", "jobtitle=CTO", "--ids", _id_arg(read_only_portal, 0, 3), "--yes"
    )
    assert code == 2
    assert "crm.objects.contacts.write" in out
    code, out, _err = run_cli(
        capsys, "bulk", "list-add", "57", "--ids", _id_arg(read_only_portal, 0, 3), "--yes"
    )
    assert code == 2 and "crm.lists.write" in out
    assert read_only_portal.writes.items() == []
    # The read-only installation is untouched: syncing and querying still work.
    assert run_cli(capsys, "sync", "--json")[0] == 0
    assert run_cli(capsys, "contacts", "--limit", "3")[0] == 0


def test_dry_run_prints_the_preview_and_sends_nothing(env_portal, capsys):
    code, out, _err = run_cli(
        capsys, "bulk", "set", "jobtitle=CTO", "--ids", _id_arg(env_portal, 0, 4), "--dry-run"
    )
    assert code == 0
    assert "4 contacts will change" in out and "→ jobtitle: CTO" in out
    assert "write call(s)" in out
    assert env_portal.writes.items() == []


def test_archive_without_the_typed_word_is_refused(env_portal, capsys):
    ids = _id_arg(env_portal, 0, 3)
    code, out, err = run_cli(capsys, "bulk", "archive", "--ids", ids)
    assert code == 2 and "--confirm ARCHIVE" in err
    assert "90 days" in out
    assert run_cli(capsys, "bulk", "archive", "--ids", ids, "--confirm", "archive please")[0] == 2
    assert env_portal.writes.items() == []
    assert run_cli(capsys, "bulk", "archive", "--ids", ids, "--confirm", "ARCHIVE")[0] == 0
    assert all(env_portal.portal.contact(i)["archived"] for i in ids.split(","))


def test_a_held_database_exits_3_and_sends_nothing(env_portal, capsys, tmp_path):
    from hubsync_core.store.database import Database

    db = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    try:
        lock.acquire(db, lock.make_owner("sync"))
        code, _out, err = run_cli(
            capsys, "bulk", "set", "jobtitle=CTO", "--ids", _id_arg(env_portal, 0, 2), "--yes"
        )
        assert code == 3 and "busy" in err
        assert env_portal.writes.items() == []
        # The refused operation is recorded, not lost: resume sends it once the database is free.
        lock.release(db, lock.make_owner("sync"))
        code, out, _err = run_cli(capsys, "bulk", "resume")
        assert code == 0 and "2 written" in out
    finally:
        db.dispose()


def test_contacts_gone_from_hubspot_fail_are_listed_exit_1_and_can_be_retried(env_portal, capsys):
    ids = _id_arg(env_portal, 10, 6).split(",")
    for gone in ids[:2]:
        env_portal.portal.archive_contact(gone)  # archived in HubSpot after the last sync
    code, out, _err = run_cli(
        capsys, "bulk", "set", "jobtitle=Buyer", "--ids", ",".join(ids), "--yes"
    )
    assert code == 1
    for gone in ids[:2]:
        assert f"failed {gone}: OBJECT_NOT_FOUND" in out
    log = json.loads(run_cli(capsys, "bulk", "log", "--json")[1])
    assert log[0]["status"] == "partial" and log[0]["written"] == 4 and log[0]["failed"] == 2
    assert log[0]["actor"].startswith("os:")
    assert log[0]["source"].startswith("ids: ")
    env_portal.portal.restore_contact(ids[0])
    code, out, _err = run_cli(capsys, "bulk", "retry", str(log[0]["id"]), "--yes")
    assert code == 1  # ids[1] is still archived
    assert env_portal.portal.contact(ids[0])["properties"]["jobtitle"] == "Buyer"


def test_log_of_one_operation_lists_previous_values(env_portal, capsys):
    ids = _id_arg(env_portal, 0, 2).split(",")
    before = {i: env_portal.portal.contact(i)["properties"]["jobtitle"] for i in ids}
    assert (
        run_cli(capsys, "bulk", "set", "jobtitle=Chief Tester", "--ids", ",".join(ids), "--yes")[0]
        == 0
    )
    data = json.loads(run_cli(capsys, "bulk", "log", "1", "--json")[1])
    assert {i["hubspot_id"]: i["before"]["jobtitle"] for i in data["items"]} == before
    assert all(i["after"] == {"jobtitle": "Chief Tester"} for i in data["items"])
