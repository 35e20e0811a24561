"""The benchmark suite's quick mode runs end to end, so the suite cannot rot.

Only what the suite produced is checked (every scenario on both backends, in the table and
the JSON) and facts that do not depend on timing: every full sync stored exactly the portal's
live contacts, nothing was rate limited without a limit, the export wrote every row. Never a
speed: CI machines differ.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXPECTED = {
    "ingest",
    "rate-bound",
    "rate-bound, search in burst",
    "budgets Starter",
    "budgets Professional",
    "latency-bound",
    "incremental",
    "incremental, lists+archived",
    "explorer 2k",
    "peer: official client + SQLModel",
    "api contacts idle",
    "api contacts during sync",
    "bulk update, 100 req/10 s",
    "bulk update, latency",
}


@pytest.fixture(scope="module")
def quick_run(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    output = tmp_path_factory.mktemp("bench") / "quick.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "HUBSYNC_"))}
    env.pop("DATABASE_URL", None)
    env["HUBSYNC_BENCH_POSTGRES_URL"] = postgres_url  # the tests' server, not a second one
    command = [sys.executable, "-m", "benchmarks", "--quick", "--backend", "both"]
    done = subprocess.run(
        [*command, "--output", str(output)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=360,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout, json.loads(output.read_text(encoding="utf-8"))


def test_quick_run_reports_every_scenario_on_both_backends(quick_run) -> None:
    stdout, report = quick_run
    pairs = {(row["scenario"], row["backend"]) for row in report["rows"]}
    assert pairs == {(s, b) for s in EXPECTED for b in ("sqlite", "postgresql")}
    table = stdout[stdout.index("scenario ") :]
    for scenario in EXPECTED:
        assert table.count(scenario) >= 2
    assert report["mode"] == "quick"
    machine = report["machine"]
    assert machine["nproc"] and machine["python"] and machine["sqlite"]
    assert machine["postgresql"]


def test_full_syncs_store_exactly_the_portals_live_contacts(quick_run) -> None:
    _, report = quick_run
    synced = [r for r in report["rows"] if "portal_live" in r["extra"]]
    assert {r["scenario"] for r in synced} >= {"ingest", "rate-bound", "latency-bound"}
    for row in synced:
        assert row["contacts"] == row["extra"]["portal_live"] > 0
        assert all(run["total_synced"] == row["contacts"] for run in row["runs"])
        assert row["api_calls"] > 0
        assert row["cpu_s_per_10k"] > 0 and row["peak_rss_mb"] > 0


def test_latency_bound_runs_say_their_end_to_end_rate_and_were_checked_exact(quick_run) -> None:
    _, report = quick_run
    rows = [r for r in report["rows"] if r["scenario"] == "latency-bound"]
    assert len(rows) == 2
    for row in rows:
        assert "end to end" in row["note"] and "exact:" in row["note"], row["note"]
        for run in row["runs"]:
            # Before the walk: the portal's details and the total, asked for together (the
            # lists search, made alongside, counts too when answered before the walk began).
            assert run["rounds"]["before"] in (1, 2), run["rounds"]
            assert run["rounds"]["overlapping"] > 0, run["rounds"]


def test_unlimited_scenarios_are_never_rate_limited(quick_run) -> None:
    _, report = quick_run
    for row in report["rows"]:
        if row["scenario"] in ("ingest", "incremental", "peer: official client + SQLModel"):
            assert row["rate_limited"] == 0, row


def test_incremental_reads_the_changed_contacts_only(quick_run) -> None:
    _, report = quick_run
    rows = [r for r in report["rows"] if r["scenario"].startswith("incremental")]
    assert len(rows) == 4
    for row in rows:
        changed, stored = row["extra"]["changed"], row["extra"]["stored"]
        assert 0 < changed <= row["contacts"] < stored


def test_an_incremental_run_without_archives_or_list_changes_costs_the_minimum(
    quick_run,
) -> None:
    """The window's one search page and the count that proves nothing was archived; besides
    them only the lists search and the run's daily-budget read: no archived listing, no list
    re-read (issue 17 item 3: at most 15 calls)."""
    _, report = quick_run
    for row in (r for r in report["rows"] if r["scenario"] == "incremental"):
        run = row["runs"][-1]
        assert run["sandbox_search_requests"] == 2, row
        assert row["api_calls"] - run["sandbox_search_requests"] <= 2, row
        assert row["api_calls"] <= 15, row


def test_explorer_exports_every_row_and_times_queries(quick_run) -> None:
    _, report = quick_run
    for row in (r for r in report["rows"] if r["scenario"].startswith("explorer")):
        assert row["extra"]["export"]["rows"] == row["contacts"]
        assert row["extra"]["export"]["bytes"] > 0
        assert 0 < row["query_p50_ms"] <= row["query_p95_ms"]
        assert row["extra"]["queries"]["samples"] > 0


def test_peer_stores_the_same_portal_and_gets_a_ratio(quick_run) -> None:
    _, report = quick_run
    for row in (r for r in report["rows"] if r["scenario"].startswith("peer")):
        assert row["contacts"] == row["extra"]["hubsync"]["total_synced"]
        assert row["extra"]["ratio"] > 0


def test_api_answers_every_request_under_load_idle_and_during_a_sync(quick_run) -> None:
    _, report = quick_run
    rows = [r for r in report["rows"] if r["scenario"].startswith("api contacts")]
    assert len(rows) == 4
    for row in rows:
        window = row["extra"]
        assert window["requests"] > 0 and window["errors"] == 0
        assert set(window["statuses"]) == {"200"}
        assert 0 < row["query_p50_ms"] <= row["query_p95_ms"]
    for row in (r for r in rows if r["scenario"] == "api contacts during sync"):
        assert row["extra"]["sync_contacts_during_window"] > 0


def test_budgets_runs_are_exact_id_for_id_and_show_each_budget_per_second(quick_run) -> None:
    """Issue 17 item 1's scenario: each tier's full syncs checked against the sandbox's ids,
    429s as a share of calls, and both budgets' use second by second (never a speed)."""
    _, report = quick_run
    rows = [r for r in report["rows"] if r["scenario"].startswith("budgets")]
    assert {r["extra"]["tier"] for r in rows} == {"Starter", "Professional"}
    for row in rows:
        extra = row["extra"]
        assert extra["database_exact"] is True
        assert row["contacts"] == extra["portal_live"] > 8_000  # large enough to run parallel
        assert 0 <= extra["share_429"] < 1
        seconds = extra["budget_seconds"]
        assert sum(s[1] for s in seconds) > 0 and sum(s[2] for s in seconds) > 0
        assert all(s[1] <= extra["burst_per_10s"] for s in seconds)
