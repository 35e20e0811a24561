"""The bulk-update scenario: contacts written to HubSpot per second by `hubsync bulk set`
(batch update, 100 inputs a call, each batch's intent and result committed), at HubSpot
Starter's burst limit (100 requests per 10 s: the batch endpoint's ceiling is 1,000 contacts/s)
and at 250 ms per request (sequential batches cap at 100 / 0.25 s = 400 contacts/s).

The child (`python -m benchmarks.child bulk`) syncs nothing: the suite fills the database with
one `sync` child first, then times only the operation's run (the preview's reads are reported
apart).
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from benchmarks.infra import BenchError, SandboxProcess, run_child

if TYPE_CHECKING:
    from benchmarks.infra import Databases
    from benchmarks.run import Suite

#: The batch endpoint's ceiling at 100 requests per 10 s.
CEILING = 1_000.0


def cmd_bulk(args: argparse.Namespace) -> dict[str, Any]:
    """Child: preview, save and run `set PROPERTY=VALUE` on every live contact; its figures."""
    from hubsync_core.bulk.selection import Selection
    from hubsync_core.config import Settings
    from hubsync_core.service import HubSyncService

    settings = Settings.load(dotenv_path=None, secrets_path=None)
    with HubSyncService(settings, owner="cli") as service:
        started = time.perf_counter()
        preview = service.preview_bulk_set(Selection(query=""), {args.property: args.value})
        previewed = time.perf_counter() - started
        if preview.refused:
            raise SystemExit("; ".join(preview.refusals))
        op_id = service.save_bulk(preview, actor="os:bench", confirmation=preview.confirmation)
        started = time.perf_counter()
        op = service.run_bulk(op_id)
        wall = time.perf_counter() - started
    return {
        "status": op.status,
        "written": op.written,
        "failed": op.failed,
        "calls": op.calls,
        "run_seconds": wall,
        "preview_seconds": previewed,
        "estimated_seconds": preview.seconds,
        "contacts_per_s": op.written / max(wall, 1e-9),
    }


def run(suite: Suite, databases: Databases, contacts: int, slow_ms: int) -> None:
    """Add the two bulk rows (per backend) to the suite: no latency, then `slow_ms`."""
    from benchmarks.run import Row

    for latency_ms, label in (
        (0, "bulk update, 100 req/10 s"),
        (slow_ms, "bulk update, latency"),
    ):
        sandbox = SandboxProcess.start(contacts, latency_ms=latency_ms, rate_limit=100)
        try:
            for backend in suite.backends:
                url = databases.new(backend, "bulk")
                try:
                    suite.sync(sandbox, url)
                    before = sandbox.stats()
                    env = {**sandbox.env(), "DATABASE_URL": url}
                    # A value no contact holds yet (each run on one portal changes them all).
                    value = str(time.time_ns() % 1_000_000_007)
                    result = run_child(["bulk", "--value", value], env)
                    after = sandbox.stats()
                finally:
                    databases.drop(url)
                if result["status"] != "succeeded" or not result["written"]:
                    raise BenchError(f"bulk ended {result['status']}: {result}")
                rate = result["contacts_per_s"]
                cap = CEILING if latency_ms == 0 else min(CEILING, 100 / (latency_ms / 1000))
                row = Row(
                    label,
                    backend,
                    result["written"],
                    seconds=result["run_seconds"],
                    contacts_per_s=rate,
                    api_calls=after["requests"] - before["requests"],
                    rate_limited=after["rateLimited"] - before["rateLimited"],
                    note=(
                        f"{latency_ms} ms latency; {rate / cap:.0%} of the {cap:,.0f}/s ceiling; {result['calls']} batch "
                        f"calls; preview {result['preview_seconds']:.1f} s, estimated "
                        f"{result['estimated_seconds']:.1f} s"
                    ),
                    runs=[result],
                )
                suite.add(row)
        finally:
            sandbox.stop()
