"""The `hubsync` command: exit codes, output, and CSV equal to the dashboard's export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import pytest
from cli_helpers import run_cli

from hubsync_core import cli
from hubsync_core.sandbox import Sandbox, SandboxConfig
from hubsync_core.store import export, lock
from hubsync_core.store.database import Database
from hubsync_core.store.explorer import ContactFilter


@pytest.fixture
def env_portal(monkeypatch, tmp_path, database_url) -> Iterator[Sandbox]:
    """A sandbox portal configured through the environment, as an admin's cron job would."""
    with Sandbox(SandboxConfig(contacts=600, seed=3, rate_limit=0, search_rate_limit=0)) as sb:
        monkeypatch.chdir(tmp_path)  # no stray .env
        for name in ("HUBSPOT_API_KEY", "CHAINGE_LIST_ID", "HUBSYNC_PROPERTIES"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", sb.token)
        monkeypatch.setenv("HUBSPOT_BASE_URL", sb.base_url)
        monkeypatch.setenv("DATABASE_URL", database_url)
        monkeypatch.setenv("HUBSYNC_MAX_RETRIES", "1")
        yield sb


def test_sync_json_reports_the_original_specs_statistics(env_portal, capsys):
    code, out, _ = run_cli(capsys, "sync", "--json")

    assert code == 0
    stats = json.loads(out)
    assert stats["status"] == "succeeded"
    assert stats["total_synced"] == len(env_portal.portal.live_ids())
    assert set(stats) >= {
        "total_synced",
        "total_pages",
        "by_segment",
        "errors",
        "duration_seconds",
        "timestamp",
    }
    assert set(stats["by_segment"]) >= {"chainge", "engaged", "cold", "high_value"}


def test_sync_prints_a_summary_and_a_capped_run_syncs_that_many(env_portal, capsys):
    code, out, _ = run_cli(capsys, "sync", "--max-contacts", "10")

    assert code == 0
    assert "Sync complete" in out
    assert "Total synced: 10" in out


def test_a_rejected_token_exits_1_with_a_one_line_reason(env_portal, capsys):
    env_portal.revoke_token()

    code, out, err = run_cli(capsys, "sync")

    assert code == 1
    assert "HubSpot rejected the access token" in out
    assert env_portal.token not in out + err


def test_a_bad_setting_exits_2_naming_it(env_portal, capsys, monkeypatch):
    monkeypatch.setenv("HUBSYNC_COLD_DAYS", "soon")

    code, _, err = run_cli(capsys, "stats")

    assert code == 2
    assert err.strip() == "hubsync: setting HUBSYNC_COLD_DAYS: must be a whole number, got 'soon'"


def test_a_second_sync_exits_3_while_one_holds_the_lock(env_portal, capsys, database_url):
    db = Database(database_url)
    lock.acquire(db, "dashboard@elsewhere:1", None)
    try:
        code, _, err = run_cli(capsys, "sync")
    finally:
        lock.release(db, "dashboard@elsewhere:1")
        db.dispose()

    assert code == 3
    assert "A sync is already running" in err and "dashboard on elsewhere" in err


def test_contacts_csv_equals_the_dashboard_export_for_the_same_filters(
    env_portal, capsys, database_url, tmp_path
):
    run_cli(capsys, "sync")
    code, out, _ = run_cli(capsys, "contacts", "--segment", "chainge", "--format", "csv")
    assert code == 0

    db = Database(database_url)
    buffer = io.StringIO()
    export.write_csv(db, ContactFilter(segments=("chainge",)), buffer)
    db.dispose()
    rows = list(csv.reader(io.StringIO(out)))
    assert out == buffer.getvalue()
    assert len(rows) > 1 and rows[0][0] == "hubspot_id"
    assert all("chainge" in row[rows[0].index("segments")] for row in rows[1:])


def test_contacts_accepts_the_dashboards_url_filters(env_portal, capsys):
    run_cli(capsys, "sync")

    _, by_flag, _ = run_cli(capsys, "contacts", "--segment", "chainge", "--format", "json")
    _, by_url, _ = run_cli(capsys, "contacts", "--query", "segment=chainge", "--format", "json")

    assert json.loads(by_flag)["total"] == json.loads(by_url)["total"] > 0


def test_the_contacts_table_shows_option_labels_and_json_keeps_values(env_portal, capsys):
    run_cli(capsys, "sync")

    _, table, _ = run_cli(capsys, "contacts", "--query", "stage=salesqualifiedlead", "--limit", "5")
    _, raw, _ = run_cli(
        capsys, "contacts", "--query", "stage=salesqualifiedlead", "--format", "json"
    )

    assert "Sales Qualified Lead" in table and "salesqualifiedlead" not in table
    stages = {c["lifecyclestage"] for c in json.loads(raw)["contacts"]}
    assert stages == {"salesqualifiedlead"}


def test_contacts_csv_to_a_folder_gets_a_dated_file_name(env_portal, capsys, tmp_path):
    run_cli(capsys, "sync")

    code, _, err = run_cli(
        capsys, "contacts", "--segment", "chainge", "--format", "csv", "-o", str(tmp_path)
    )

    assert code == 0
    written = list(tmp_path.glob("hubspot-contacts-chainge-*.csv"))
    assert len(written) == 1 and "Wrote" in err


def test_stats_and_clear(env_portal, capsys):
    run_cli(capsys, "sync")

    code, out, _ = run_cli(capsys, "stats", "--json")
    assert code == 0
    before = json.loads(out)
    assert before["contacts"] == len(env_portal.portal.live_ids())
    assert before["last_sync"]["status"] == "succeeded"

    assert run_cli(capsys, "clear")[0] == 2  # needs --yes
    code, out, _ = run_cli(capsys, "clear", "--yes")
    assert code == 0 and f"Removed {before['contacts'] + before['archived']:,} contacts" in out

    after = json.loads(run_cli(capsys, "stats", "--json")[1])
    assert after["contacts"] == 0
    assert after["last_sync"] is not None  # history kept


def test_segments_add_list_export_import_remove(env_portal, capsys, tmp_path):
    run_cli(capsys, "sync")

    code, out, _ = run_cli(
        capsys,
        "segments",
        "add",
        "EU leads",
        "--where",
        "properties.country in Germany,France,Spain",
        "--where",
        "lifecyclestage eq lead",
    )
    assert code == 0 and "Saved segment 'EU leads'" in out

    listed = json.loads(run_cli(capsys, "segments", "list", "--json")[1])
    eu = next(s for s in listed if s["name"] == "EU leads")
    assert eu["key"] == "eu_leads" and not eu["builtin"]
    # Read with HubSpot's option label; the stored rule keeps the internal value.
    assert eu["rule"].endswith("lifecyclestage eq 'Lead'")

    target = tmp_path / "segments.toml"
    assert run_cli(capsys, "segments", "export", "--user-only", "-o", str(target))[0] == 0
    assert run_cli(capsys, "segments", "remove", "EU leads")[0] == 0
    assert all(
        s["name"] != "EU leads"
        for s in json.loads(run_cli(capsys, "segments", "list", "--json")[1])
    )

    code, out, _ = run_cli(capsys, "segments", "import", str(target))
    assert code == 0 and "1 added" in out
    again = json.loads(run_cli(capsys, "segments", "list", "--json")[1])
    assert next(s for s in again if s["name"] == "EU leads")["members"] == eu["members"]


def test_a_segment_with_an_unknown_property_is_refused_clearly(env_portal, capsys):
    code, _, err = run_cli(
        capsys, "segments", "add", "Odd", "--where", "properties.no_such_thing eq 1"
    )

    assert code == 2
    assert "unknown property 'no_such_thing'" in err


@pytest.mark.parametrize(
    "command", ["sync", "contacts", "stats", "clear", "check", "sandbox", "segments"]
)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main([command, "--help"])
    assert done.value.code == 0
    assert "usage: hubsync" in capsys.readouterr().out
