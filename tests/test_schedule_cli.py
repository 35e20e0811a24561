"""`hubsync schedule set|show` and `hubsync events status|apply` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-not-used-by-these-commands")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    return tmp_path


def test_schedule_is_off_for_a_real_portal_until_set(env: Path, capsys) -> None:
    assert run_cli(capsys, "schedule", "show")[1].strip() == "Sync schedule: off"
    code, out, _ = run_cli(capsys, "schedule", "set", "15m")
    assert code == 0 and "every 15 min, next sync in 15 min" in out
    code, out, _ = run_cli(capsys, "schedule", "show", "--json")
    assert json.loads(out)["every_minutes"] == 15
    assert run_cli(capsys, "schedule", "set", "off")[1].strip() == "Sync schedule: off"


def test_schedule_show_names_the_nightly_audit_when_one_is_set(
    env: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "Nightly audit" not in run_cli(capsys, "schedule", "show")[1]
    monkeypatch.setenv("HUBSYNC_AUDIT_NIGHTLY_AT", "03:00")
    code, out, _ = run_cli(capsys, "schedule", "show")
    assert code == 0
    assert "Nightly audit: every night at 03:00 UTC, next " in out.splitlines()[1]


def test_a_period_under_five_minutes_is_refused(env: Path, capsys) -> None:
    code, _, err = run_cli(capsys, "schedule", "set", "2m")
    assert code == 2 and "at least 5 minutes" in err


def test_events_status_and_stats_show_live_updates(env: Path, capsys) -> None:
    code, out, _ = run_cli(capsys, "events", "status")
    assert code == 0 and out.startswith("Live updates: 0 events in the last hour")
    code, out, _ = run_cli(capsys, "stats", "--json")
    assert json.loads(out)["live_updates"]["pending"] == 0
