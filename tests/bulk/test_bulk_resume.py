"""5 % injected faults and a SIGKILL half-way through a bulk update (a real `hubsync bulk set`
process), then `hubsync bulk resume`: every contact holds the new value and no batch whose
result was committed was ever sent again (the sandbox records every write request)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path

import sqlalchemy as sa

import hubsync_core
from hubsync_core.bulk import audit
from hubsync_core.bulk.models import BulkBatch
from hubsync_core.hubspot import endpoints
from hubsync_core.sandbox import Sandbox, SandboxConfig

from .helpers import synced_service

BATCHES = BulkBatch.__table__  # type: ignore[attr-defined]
REPO = Path(hubsync_core.__file__).resolve().parents[1]
FAULTS = ("500", "503", "reset", "truncated", "429")


def _cli(args: list[str], env: dict[str, str], cwd: Path, name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "hubsync_core.cli", *args],
        env=env,
        cwd=cwd,
        stdout=open(cwd / f"{name}.out", "wb"),
        stderr=open(cwd / f"{name}.err", "wb"),
        stdin=subprocess.DEVNULL,
    )


def test_sigkill_half_way_then_resume_writes_everything_and_never_resends_a_committed_batch(
    tmp_path: Path,
) -> None:
    config = SandboxConfig(contacts=1000, seed=5, rate_limit=0, search_rate_limit=0, latency_ms=10)
    with Sandbox(config) as sandbox:
        db_path = tmp_path / "bulk.db"
        with synced_service(sandbox, db_path) as service:
            db = service.db
            env = {
                "PATH": os.environ.get("PATH", ""),
                "HOME": str(tmp_path),
                "PYTHONPATH": str(REPO),
                "HUBSPOT_ACCESS_TOKEN": sandbox.token,
                "HUBSPOT_BASE_URL": sandbox.base_url,
                "DATABASE_URL": f"sqlite:///{db_path}",
                "HUBSYNC_DATA_DIR": str(tmp_path / "data"),
                "HUBSYNC_MAX_RETRIES": "8",
            }
            sandbox.set_faults(0.05, FAULTS)
            proc = _cli(
                ["bulk", "set", "lead_score=77", "--query", "", "--yes"], env, tmp_path, "set"
            )

            def done_batches() -> tuple[int, int, list[dict]]:
                with db.connect() as conn:
                    rows = [dict(r._mapping) for r in conn.execute(sa.select(BATCHES)).all()]
                return sum(r["status"] == "done" for r in rows), len(rows), rows

            # Kill once half the batches are committed, ideally while one is applied in
            # HubSpot but its result not yet committed (the window resume must reconcile).
            deadline = time.monotonic() + 120
            caught_in_window = False
            while proc.poll() is None:
                assert time.monotonic() < deadline, "the bulk job neither got half-way nor ended"
                done, total, rows = done_batches()
                if total and done >= total // 2:
                    sending = [r for r in rows if r["status"] == "sending"]
                    first = sending[0]["ids"][0] if sending else None
                    applied = (
                        first and sandbox.portal.contact(first)["properties"]["lead_score"] == "77"
                    )
                    # Not caught in the window within two batches: kill anyway (still mid-run).
                    if applied or done >= total // 2 + 2:
                        caught_in_window = bool(applied)
                        proc.send_signal(signal.SIGKILL)
                        break
                time.sleep(0.002)  # the watcher's polling interval, not a synchronisation
            assert proc.wait(timeout=30) == -signal.SIGKILL, "the job ended before the kill"

            op = audit.list_operations(db)[0]
            assert op.status == "running"  # as the killed process left it
            _done, total, _rows = done_batches()

            resume = _cli(["bulk", "resume"], env, tmp_path, "resume")
            code = resume.wait(timeout=120)
            assert code == 0, (tmp_path / "resume.err").read_text()

            sandbox.clear_faults()
            op = audit.get_operation(db, op.id)
            assert op.status == "succeeded" and op.failed == 0
            items = audit.items(db, op.id, ["written"])
            assert len(items) == op.total
            for item in items:
                assert sandbox.portal.contact(item.hubspot_id)["properties"]["lead_score"] == "77"

            batches = audit.batches(db, op.id)
            assert len(batches) == total and all(b["status"] == "done" for b in batches)
            done_at = {b["seq"]: b["done_at"].replace(tzinfo=UTC).timestamp() for b in batches}
            batch_of = {cid: b["seq"] for b in batches for cid in b["ids"]}
            writes = [
                w
                for w in sandbox.writes.items()
                if w.path == endpoints.DEFAULT.contacts_batch("update")
            ]
            assert writes
            for request in writes:
                seq = batch_of[request.ids[0]]
                assert {batch_of[cid] for cid in request.ids} == {seq}
                # Retries of one call happen before its result is committed; nothing after.
                assert request.at < done_at[seq], (
                    f"batch {seq} was sent after its result was committed"
                )
            if caught_in_window:
                reconciled = [b for b in batches if b["attempts"] > 1 or b["note"]]
                assert reconciled and "found already applied" in reconciled[0]["note"]
