"""The audit through its faces: after every incremental sync, the CLI, the facade."""

from __future__ import annotations

import json

import pytest

from hubsync_core import cli
from hubsync_core.audit import DRIFT, IN_SYNC
from hubsync_core.sandbox import Sandbox, SandboxConfig
from hubsync_core.service import HubSyncService
from hubsync_core.store import runs
from hubsync_core.sync.engine import HIGH_WATER_MARK, run_sync
from hubsync_core.sync.model import SyncOptions

from .conftest import Audited


def test_an_incremental_sync_is_followed_by_an_audit_counted_in_its_calls(
    audited: Audited,
) -> None:
    portal = audited.sandbox.portal
    portal.update_contact(portal.live_ids()[5], {"company": "Synced GmbH"})
    settings = audited.settings.with_overrides(incremental_lag_minutes=0, index_lag_seconds=0)
    before = audited.sandbox.stats

    stats = run_sync(settings, audited.db, audited.client, SyncOptions(mode="incremental"))

    report = HubSyncService(settings, database=audited.db, client=audited.client).last_audit()
    assert stats.status == "succeeded" and report is not None
    assert report["status"] == IN_SYNC, report["verdict"]
    assert stats.api_calls == audited.sandbox.stats.requests - before.requests
    assert stats.api_calls >= report["apiCalls"] + 1 == 2 * report["ranges"] + 1


def test_an_incremental_sync_that_missed_changes_reports_drift_as_a_warning(
    audited: Audited,
) -> None:
    portal = audited.sandbox.portal
    missed = portal.live_ids()[7]
    portal.update_contact(missed, {"company": "Missed AG"})
    with audited.db.transaction() as conn:  # the mark moved past the change
        runs.set_state(conn, HIGH_WATER_MARK, "2100-01-01T00:00:00")
    settings = audited.settings.with_overrides(index_lag_seconds=0)

    stats = run_sync(settings, audited.db, audited.client, SyncOptions(mode="incremental"))

    assert stats.status == "succeeded"
    assert any("1 stale" in warning for warning in stats.warnings), stats.warnings


@pytest.fixture
def cli_portal(monkeypatch, tmp_path) -> Sandbox:
    with Sandbox(SandboxConfig(contacts=800, seed=4, rate_limit=0, search_rate_limit=0)) as sb:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", sb.token)
        monkeypatch.setenv("HUBSPOT_BASE_URL", sb.base_url)
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
        monkeypatch.setenv("HUBSYNC_INDEX_LAG_SECONDS", "0")
        yield sb


def test_cli_audit_exits_0_in_sync_and_1_on_drift(cli_portal: Sandbox, capsys) -> None:
    assert cli.main(["audit"]) == 2  # nothing synced yet
    assert "run a full sync first" in capsys.readouterr().err
    assert cli.main(["sync", "--mode", "full", "--json"]) == 0
    capsys.readouterr()

    assert cli.main(["audit"]) == 0
    live = cli_portal.portal.live_count()
    assert capsys.readouterr().out.startswith(f"in sync: {live:,} of {live:,}; checked ")

    changed = cli_portal.portal.live_ids()[3]
    cli_portal.portal.update_contact(changed, {"jobtitle": "Unsynced"})
    assert cli.main(["audit", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["status"], report["stale"], report["differences"]) == (DRIFT, [changed], 1)
