"""CPU seconds per 10,000 contacts of each process of an ingest: the sync and the sandbox.

Load-independent enough to compare code on a shared machine (wall clock is not): one sandbox
process (zero latency, no rate limit), then full syncs into fresh SQLite files, alternating
between source trees so that each sees the same load, every run checked to have stored
exactly the portal's live contacts.

    python -m benchmarks.ingest_cpu --contacts 50000 --rounds 2 [TREE ...]

TREE: a checkout whose `hubsync_core` the sync runs (default: this one), e.g. an exported
older commit (`git archive <commit> | tar -x -C /tmp/before`). The sandbox always runs from
this checkout. Sync CPU is the child's `getrusage` over the sync call; sandbox CPU is the
change in its `/proc/<pid>/stat` user + system time over the run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from benchmarks.infra import REPO, BenchError, SandboxProcess, child_env


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _sync(sandbox: SandboxProcess, tree: str) -> tuple[dict[str, float], int]:
    with tempfile.TemporaryDirectory(prefix="hubsync-cpu-") as workdir:
        env = child_env({**sandbox.env(), "DATABASE_URL": f"sqlite:///{workdir}/ingest.db"})
        env["PYTHONPATH"] = tree
        before = _cpu_seconds(sandbox.process.pid)
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.child", "sync", "--mode", "full"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        sandbox_cpu = _cpu_seconds(sandbox.process.pid) - before
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise BenchError(f"sync failed: {(done.stderr or done.stdout)[-2000:]}")
    result = json.loads(lines[-1])
    synced = int(result["total_synced"])
    per = synced / 10_000
    return {
        "sync": result["cpu_seconds"] / per,
        "sandbox": sandbox_cpu / per,
        "rate": synced / result["duration_seconds"],
    }, synced


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("trees", nargs="*", default=[str(REPO)])
    args = parser.parse_args(argv)
    sandbox = SandboxProcess.start(args.contacts)
    runs: dict[str, list[dict[str, float]]] = {tree: [] for tree in args.trees}
    try:
        live = sandbox.live_contacts()
        for _ in range(args.rounds):
            for tree in args.trees:
                figures, synced = _sync(sandbox, tree)
                if synced != live:
                    raise BenchError(f"{tree}: stored {synced} of {live} live contacts")
                runs[tree].append(figures)
                print(
                    f"{tree}: load {os.getloadavg()[0]:.1f}, sync {figures['sync']:.3f} + "
                    f"sandbox {figures['sandbox']:.3f} CPU s/10k, {figures['rate']:,.0f}/s",
                    flush=True,
                )
    finally:
        sandbox.stop()
    for tree, rows in runs.items():
        sync = statistics.median(r["sync"] for r in rows)
        served = statistics.median(r["sandbox"] for r in rows)
        print(f"{tree}: median sync {sync:.3f} + sandbox {served:.3f} CPU s/10k")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
