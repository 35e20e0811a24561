"""`hubsync sync --every 5m`: a foreground scheduler for systemd: it stores the schedule,
syncs at once, keeps the schedule running, and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
from pathlib import Path

from sync_helpers import cli_env, finish_cli, quiet_sandbox, start_cli, wait_for

from hubsync_core.store import runs, schedule_store
from hubsync_core.store.database import Database


def test_sync_every_syncs_now_keeps_the_schedule_and_stops_on_sigterm(tmp_path: Path) -> None:
    sandbox = quiet_sandbox(200, seed=9)
    url = f"sqlite:///{tmp_path / 'every.db'}"
    try:
        env = cli_env(sandbox, url, str(tmp_path / "data"))
        proc = start_cli(["sync", "--every", "5m"], env, str(tmp_path), "every")
        db = Database(url)
        try:
            job = wait_for(
                lambda: (j := schedule_store.get(db, "sync")) and j.last_status and j,
                timeout=60,
                interval=0.1,
            )
            assert job.every_minutes == 5 and job.last_status == "succeeded", job
            run = runs.latest_run(db)
            assert run is not None and run.status == "succeeded"
            assert run.owner.startswith("schedule@")
            proc.send_signal(signal.SIGTERM)
            code, _, err = finish_cli(proc, timeout=60)
            assert code == 0, err
            assert "every 5 min" in err
        finally:
            if proc.poll() is None:
                proc.kill()
            db.dispose()
    finally:
        sandbox.stop()
