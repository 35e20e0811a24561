"""The HTTP API under load: `GET .../contacts?segment=chainge&limit=100` at size.

For each backend: a database filled with synthetic contacts (`explorer.fill`), `hubsync api`
serving it in a process of its own, and N concurrent clients (`python -m benchmarks.child
load`, another process, keep-alive connections) hitting the route, first idle, then while a
sync started through the API itself (`POST .../sync`, the server's own background worker)
writes contacts from a sandbox portal into the same database. Requests/s, p50/p95/p99,
every non-200 answer, and the server's CPU milliseconds per request (from /proc: it moves
far less with a busy machine than latency does) are reported; the window during the sync
stops when the sync ends.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.infra import BenchError, Databases, SandboxProcess, child_env, run_child

ROUTE = "/api/integrations/hubspot/contacts?segment=chainge&limit=100"
API_TOKEN = "bench-api-token-0123456789abcdef"


@dataclass(frozen=True)
class ApiSizes:
    contacts: int = 200_000
    clients: int = 16
    seconds: float = 20.0
    #: Contacts of the portal synced during the second window (enough to outlast it).
    sync_contacts: int = 100_000
    warmup_requests: int = 20


QUICK_API = ApiSizes(contacts=2_000, clients=4, seconds=1.0, sync_contacts=1_500, warmup_requests=2)


@dataclass
class ApiProcess:
    """`python -m hubsync_core.cli api --port 0` on one database."""

    process: subprocess.Popen[str]
    base_url: str

    @classmethod
    def start(cls, database_url: str, portal_env: dict[str, str]) -> ApiProcess:
        env = child_env(
            {
                **portal_env,
                "DATABASE_URL": database_url,
                "HUBSYNC_API_TOKEN": API_TOKEN,
                "HUBSYNC_LOG_LEVEL": "WARNING",
            }
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "hubsync_core.cli", "api", "--port", "0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert process.stdout is not None
        for line in process.stdout:
            if found := re.search(r"at (http://127\.0\.0\.1:\d+)", line):
                server = cls(process, found.group(1))
                server.wait_healthy()
                return server
        process.kill()
        raise BenchError("hubsync api did not start")

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, json.loads(answer.read() or b"null")

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(self.base_url + "/healthz", timeout=5).read()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def cpu_seconds(self) -> float:
        """CPU seconds the server process has used (user + system, all threads)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()


def measure(database_url: str, backend: str, sizes: ApiSizes) -> list[dict[str, Any]]:
    """Idle and during-sync figures for one filled database (see the module docstring)."""
    sandbox = SandboxProcess.start(sizes.sync_contacts, seed=5)
    server = ApiProcess.start(database_url, sandbox.env())
    try:
        for _ in range(sizes.warmup_requests):
            status, page = server.call("GET", ROUTE)
            if status != 200 or not page["contacts"]:
                raise BenchError(f"warm-up answered {status} with {len(page['contacts'])} rows")
        load_args = [
            *("--url", server.base_url + ROUTE, "--token", API_TOKEN),
            *("--clients", str(sizes.clients), "--seconds", str(sizes.seconds)),
        ]
        cpu = server.cpu_seconds()
        idle = run_child(["load", *load_args])
        idle["server_cpu_ms_per_request"] = _per_request(server.cpu_seconds() - cpu, idle)
        status, started = server.call("POST", "/api/integrations/hubspot/sync", {"wait": False})
        if status != 202:
            raise BenchError(f"POST /sync answered {status}: {started}")
        cpu = server.cpu_seconds()
        busy = run_child(["load", *load_args, "--run", str(started["run_id"])])
        # Includes the sync worker's CPU (same process).
        busy["server_cpu_ms_per_request"] = _per_request(server.cpu_seconds() - cpu, busy)
        status, run = server.call("GET", f"/api/integrations/hubspot/sync/runs/{started['run_id']}")
        busy["sync_contacts_during_window"] = run["contacts"]
        busy["sync_status_at_end"] = run["status"]
    finally:
        server.stop()
        sandbox.stop()
    return [
        {"window": "idle", "backend": backend, **idle},
        {"window": "during sync", "backend": backend, **busy},
    ]


def _per_request(cpu_seconds: float, window: dict[str, Any]) -> float:
    return cpu_seconds * 1000 / max(window["requests"], 1)


def windows(
    backends: tuple[str, ...], databases: Databases, sizes: ApiSizes
) -> Iterator[dict[str, Any]]:
    """Fill a database per backend and yield its idle and during-sync windows; raises
    `BenchError` if any request under load answered anything but 200."""
    from benchmarks import explorer
    from hubsync_core.store.database import Database

    for backend in backends:
        url = databases.new(backend, "api")
        try:
            db = Database(url)
            explorer.fill(db, sizes.contacts)
            db.dispose()
            found = measure(url, backend, sizes)
        finally:
            databases.drop(url)
        for window in found:
            if window["errors"]:
                raise BenchError(f"the API answered errors under load: {window['statuses']}")
            yield window
