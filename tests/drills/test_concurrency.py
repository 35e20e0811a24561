"""Concurrency at the core level (issue 8 item 3): a CLI sync and a dashboard sync (SyncJobs)
started together on one database: exactly one runs, the other is refused with "A sync is
already running"; threads racing for the lock; readers never see a half-written page.

The winner is held at its first HubSpot call (a gate in the sandbox, which runs in this
process) until the loser has been refused, so the outcome never depends on timing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sync_helpers import (
    Harness,
    HarnessFactory,
    all_runs,
    cli_env,
    fast_client,
    finish_cli,
    lock_rows,
    start_cli,
    wait_for,
)

from hubsync_core.jobs import SyncJobs
from hubsync_core.service import HubSyncService
from hubsync_core.store import lock
from hubsync_core.store.lock import SyncAlreadyRunning
from hubsync_core.sync.engine import run_sync
from hubsync_core.sync.model import SyncOptions, SyncProgress

BUSY = "A sync is already running"


class Gate:
    """Holds every request for the account details (a fresh database's first call) until
    opened; `entered` counts the requests that arrived."""

    def __init__(self, sync_harness: Harness) -> None:
        self._open = threading.Event()
        self._lock = threading.Lock()
        self.entered = 0
        sandbox = sync_harness.sandbox
        original = sandbox.account_details

        def gated() -> dict[str, Any]:
            with self._lock:
                self.entered += 1
            assert self._open.wait(60), "the gate was never opened"
            return original()

        sandbox.account_details = gated  # type: ignore[method-assign]

    def open(self) -> None:
        self._open.set()


@pytest.fixture
def sync_harness(make_harness: HarnessFactory) -> Harness:
    return make_harness(1000, seed=801)


@pytest.fixture
def jobs(sync_harness: Harness) -> Iterator[SyncJobs]:
    service = HubSyncService(
        sync_harness.settings,
        database=sync_harness.db,
        client=fast_client(sync_harness.sandbox),
        owner="dashboard",
    )
    yield SyncJobs(service)
    service.client.close()


def _jobs_refusal(jobs: SyncJobs, refusal: str | None) -> str | None:
    """Why the dashboard's start was refused (at once, or by its worker), if it was."""
    if refusal is not None:
        return refusal
    if jobs.wait(0):
        return jobs.status().error
    return None


def test_cli_and_dashboard_started_together_exactly_one_runs(
    sync_harness: Harness, jobs: SyncJobs, tmp_path: Path
) -> None:
    gate = Gate(sync_harness)
    env = cli_env(sync_harness.sandbox, sync_harness.db.url, str(tmp_path / "data"))

    proc = start_cli(["sync", "--json"], env, str(tmp_path), "cli")
    refusal = jobs.start(SyncOptions(owner="dashboard"))

    # Both have tried once one of them is at the gate and the other has given up.
    wait_for(
        lambda: (
            gate.entered == 1
            and (proc.poll() is not None or _jobs_refusal(jobs, refusal) is not None)
        ),
        timeout=120,
    )
    gate.open()
    code, _, err = finish_cli(proc)
    assert jobs.wait(120)
    dashboard_refusal = _jobs_refusal(jobs, refusal)
    cli_refused = code == 3
    assert cli_refused != (dashboard_refusal is not None), (code, err, dashboard_refusal)
    if cli_refused:
        assert BUSY in err and "dashboard on" in err
        assert jobs.status().result is not None and jobs.status().result.ok
    else:
        assert code == 0, err
        assert BUSY in dashboard_refusal and "cli on" in dashboard_refusal  # type: ignore[operator]
    assert gate.entered == 1
    assert len(all_runs(sync_harness.db)) == 1
    assert lock_rows(sync_harness.db) == []
    sync_harness.assert_exact()


def test_dashboard_is_refused_while_a_cli_sync_holds_the_lock(
    make_sqlite_harness: HarnessFactory, tmp_path: Path
) -> None:
    sync_harness = make_sqlite_harness(1000, seed=802)
    service = HubSyncService(
        sync_harness.settings, database=sync_harness.db, client=sync_harness.client
    )
    jobs = SyncJobs(service)
    gate = Gate(sync_harness)
    env = cli_env(sync_harness.sandbox, sync_harness.db.url, str(tmp_path / "data"))
    proc = start_cli(["sync"], env, str(tmp_path), "cli")
    wait_for(lambda: gate.entered == 1, timeout=120)  # the CLI holds the lock, at the gate

    refusal = jobs.start(SyncOptions(owner="dashboard"))

    assert refusal is not None and BUSY in refusal and "cli on" in refusal
    holder = lock.current_holder(sync_harness.db)
    assert holder is not None and holder.owner.startswith("cli@")
    gate.open()
    code, _, err = finish_cli(proc)
    assert code == 0, err
    assert [r.owner.split("@")[0] for r in all_runs(sync_harness.db)] == ["cli"]
    assert lock_rows(sync_harness.db) == []


def test_threads_racing_for_the_lock_only_one_runs(sync_harness: Harness) -> None:
    gate = Gate(sync_harness)
    contenders = 6
    start = threading.Barrier(contenders)
    outcomes: list[Any] = [None] * contenders

    def contend(n: int) -> None:
        client = fast_client(sync_harness.sandbox)
        start.wait()
        try:
            outcomes[n] = run_sync(
                sync_harness.settings, sync_harness.db, client, SyncOptions(owner=f"thread{n}")
            )
        except SyncAlreadyRunning as exc:
            outcomes[n] = exc
        finally:
            client.close()

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(contenders)]
    for thread in threads:
        thread.start()
    wait_for(lambda: gate.entered == 1 and sum(o is not None for o in outcomes) == contenders - 1)
    gate.open()
    for thread in threads:
        thread.join(120)

    refused = [o for o in outcomes if isinstance(o, SyncAlreadyRunning)]
    ran = [o for o in outcomes if not isinstance(o, SyncAlreadyRunning)]
    assert len(refused) == contenders - 1 and all(BUSY in str(o) for o in refused)
    assert len(ran) == 1 and ran[0].status == "succeeded"
    assert len(all_runs(sync_harness.db)) == 1
    sync_harness.assert_exact()


def test_readers_never_see_a_half_written_page(sync_harness: Harness) -> None:
    """A reader polls, in one statement (one snapshot), the live contacts and the running
    run's counter: they always agree and only ever grow by whole pages. The sync waits after
    each page until the reader has looked, so every page boundary is observed; the samples in
    between land inside page transactions."""
    cond = threading.Condition()
    state = {"committed": 0, "seen": 0, "done": False}
    samples: list[tuple[int, int | None]] = []
    probe = sa.text(
        "SELECT (SELECT count(*) FROM contacts WHERE archived = :no),"
        " (SELECT contacts FROM sync_runs WHERE status = 'running' ORDER BY id DESC LIMIT 1)"
    )

    def reader() -> None:
        while True:
            with cond:
                committed, done = state["committed"], state["done"]
            if done:
                return
            with sync_harness.db.connect() as conn:
                live, counted = conn.execute(probe, {"no": False}).one()
            samples.append((live, counted))
            with cond:
                state["seen"] = max(state["seen"], committed)
                cond.notify_all()

    def after_page(progress: SyncProgress) -> None:
        if progress.phase != "contacts" or progress.status != "running":
            return
        with cond:
            state["committed"] += 1
            target = state["committed"]
            assert cond.wait_for(lambda: state["seen"] >= target, timeout=30)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        stats = sync_harness.run("full", on_progress=after_page)
    finally:
        with cond:
            state["done"] = True
        thread.join(30)

    assert stats.status == "succeeded"
    total = stats.total_synced
    assert state["seen"] >= total // 100
    during = [(live, counted) for live, counted in samples if counted is not None]
    assert during, "the reader saw the sync running"
    for live, counted in during:
        assert live == counted, (live, counted)
    assert {live for live, _ in samples} <= set(range(0, total, 100)) | {total}
    assert samples[-1][0] == total
