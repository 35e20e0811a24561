"""`hubsync api` as a real process: the spec's curl examples, concurrency, SIGKILL + resume.

The server runs `python -m hubsync_core.cli api --port 0` from this checkout and announces
its address on stdout; `curl` talks to it over TCP exactly as the spec's users do.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from sync_helpers import expected_live, fast_client, quiet_sandbox, sandbox_settings

from hubsync_core.service import HubSyncService
from hubsync_core.store import runs
from hubsync_core.sync.model import SyncOptions

REPO = Path(__file__).resolve().parents[2]
API_TOKEN = "e2e-api-token-0123456789abcdef"

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")

# The spec's examples (original-sync-spec.md, "API Usage"), verbatim but for the contacts
# URLs: quoted for the shell (unquoted, `&` would end the command) and given the header.
SPEC_SYNC = """curl -X POST http://localhost:8000/api/integrations/hubspot/sync \\
  -H "Authorization: Bearer YOUR_TOKEN" \\
  -H "Content-Type: application/json" \\
  -d '{
    "batch_size": 100,
    "max_contacts": null,
    "sync_type": "all"
  }'"""
SPEC_ALL = """curl "http://localhost:8000/api/integrations/hubspot/contacts?limit=100" \\
  -H "Authorization: Bearer YOUR_TOKEN\""""
SPEC_SEGMENT = """curl "http://localhost:8000/api/integrations/hubspot/contacts?segment=chainge&limit=50" \\
  -H "Authorization: Bearer YOUR_TOKEN\""""
SPEC_STATS = """curl http://localhost:8000/api/integrations/hubspot/sync/stats \\
  -H "Authorization: Bearer YOUR_TOKEN\""""
SPEC_CLEAR = """curl -X DELETE http://localhost:8000/api/integrations/hubspot/contacts \\
  -H "Authorization: Bearer YOUR_TOKEN\""""


@dataclass
class Server:
    proc: subprocess.Popen[str]
    port: int
    token: str

    def curl(self, example: str, *extra: str) -> tuple[int, dict]:
        """Run a spec example with the port and token filled in; (HTTP status, JSON body)."""
        command = example.replace("localhost:8000", f"localhost:{self.port}")
        command = command.replace("YOUR_TOKEN", self.token)
        command += " -s -w '\\n%{http_code}' " + " ".join(extra)
        done = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=120, check=True
        )
        body, _, status = done.stdout.rpartition("\n")
        return int(status), json.loads(body)


def base_env(tmp_path: Path, **values: str) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env["HUBSYNC_DATA_DIR"] = str(tmp_path / "data")
    env["HUBSYNC_LOG_LEVEL"] = "WARNING"
    env["HUBSYNC_DEMO_LATENCY_MS"] = "0"  # the demo portal answers at once in tests
    env.update(values)
    return env


def start_server(env: Mapping[str, str], cwd: Path) -> Iterator[Server]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hubsync_core.cli", "api", "--port", "0"],
        env=dict(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        announced = ""
        for line in proc.stdout:  # type: ignore[union-attr]
            announced += line
            if found := re.search(r"at http://127\.0\.0\.1:(\d+)", line):
                port = int(found.group(1))
                break
        else:
            raise AssertionError(f"the API did not start: {announced}")
        token = env.get("HUBSYNC_API_TOKEN") or (Path(env["HUBSYNC_DATA_DIR"]) / "api-token")
        token = token if isinstance(token, str) else token.read_text().strip()
        assert token not in announced  # where the token is, never the token
        wait_until_healthy(port)
        yield Server(proc, port, token)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if proc.stdout:
            proc.stdout.close()


def wait_until_healthy(port: int, deadline: float = 30.0) -> None:
    import httpx

    end = time.monotonic() + deadline
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            if time.monotonic() > end:
                raise
        time.sleep(0.05)


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`hubsync api` with no HubSpot token: the built-in demo portal, a generated token."""
    folder = tmp_path_factory.mktemp("demo")
    # 100 ms per demo-portal request: a sync lasts long enough for the concurrency test.
    env = base_env(folder, HUBSYNC_DEMO_CONTACTS="300", HUBSYNC_DEMO_LATENCY_MS="100")
    yield from start_server(env, folder)


def test_the_specs_curl_examples_work_against_hubsync_api_on_the_demo_portal(demo_server):
    status, stats = demo_server.curl(SPEC_SYNC)
    assert status == 200 and stats["status"] == "succeeded"
    for key in ("total_synced", "total_pages", "by_segment", "errors", "duration_seconds"):
        assert key in stats
    assert stats["total_synced"] >= 290 and stats["timestamp"].endswith("Z")

    status, page = demo_server.curl(SPEC_ALL)
    assert status == 200 and list(page) == ["contacts", "total", "limit", "offset", "segment"]
    assert page["limit"] == 100 and len(page["contacts"]) == 100

    status, chainge = demo_server.curl(SPEC_SEGMENT)
    assert status == 200 and chainge["segment"] == "chainge" and chainge["limit"] == 50
    assert chainge["total"] == stats["by_segment"]["chainge"] > 0

    status, last = demo_server.curl(SPEC_STATS)
    assert status == 200 and last["run_id"] == stats["run_id"]

    status, refused = demo_server.curl(SPEC_CLEAR)  # the spec omits the confirmation
    assert status == 400 and refused["parameter"] == "confirm"
    status, cleared = demo_server.curl(SPEC_CLEAR.replace("/contacts ", "/contacts?confirm=true "))
    assert status == 200 and cleared["deleted"] >= page["total"] > 0  # archived ones too
    assert demo_server.curl(SPEC_ALL)[1]["total"] == 0


def test_two_concurrent_posts_to_a_real_server_start_exactly_one_run(demo_server):
    history = SPEC_STATS.replace("/sync/stats", "/sync/runs")
    before = demo_server.curl(history)[1]["total"]
    command = SPEC_SYNC.replace('"sync_type": "all"', '"sync_type": "all", "wait": false')
    command = command.replace("localhost:8000", f"localhost:{demo_server.port}")
    command = (
        command.replace("YOUR_TOKEN", demo_server.token) + " -s -o /dev/null -w '%{http_code}'"
    )
    both = [
        subprocess.Popen(["bash", "-c", command], stdout=subprocess.PIPE, text=True) for _ in "ab"
    ]
    codes = sorted(p.communicate(timeout=120)[0] for p in both)
    assert codes == ["202", "409"]
    assert demo_server.curl(history)[1]["total"] == before + 1


def test_sigkill_mid_sync_leaves_a_run_the_next_sync_resumes(tmp_path: Path):
    import httpx

    sandbox = quiet_sandbox(1500, seed=11, latency_ms=40)
    try:
        url = f"sqlite:///{tmp_path / 'kill.db'}"
        env = base_env(
            tmp_path,
            HUBSPOT_ACCESS_TOKEN=sandbox.token,
            HUBSPOT_BASE_URL=sandbox.base_url,
            DATABASE_URL=url,
            HUBSYNC_API_TOKEN=API_TOKEN,
            HUBSYNC_PARALLEL_FETCHES="1",
        )
        servers = start_server(env, tmp_path)
        server = next(servers)
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        base = f"http://127.0.0.1:{server.port}/api/integrations/hubspot"
        started = httpx.post(f"{base}/sync", json={"wait": False}, headers=headers, timeout=30)
        assert started.status_code == 202
        run_id = started.json()["run_id"]
        deadline = time.monotonic() + 60
        while True:
            run = httpx.get(f"{base}/sync/runs/{run_id}", headers=headers, timeout=30).json()
            if run["contacts"] >= 300:
                break
            assert run["status"] == "running" and time.monotonic() < deadline, run
            time.sleep(0.02)
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(30)
        servers.close()

        settings = sandbox_settings(sandbox, url)
        with HubSyncService(settings, client=fast_client(sandbox)) as service:
            stats = service.sync(SyncOptions())
            assert stats.ok, stats.message
            killed = runs.get_run(service.db, run_id)
            resumed = runs.get_run(service.db, stats.run_id)
            assert killed.status == "interrupted"
            assert resumed.resumed_from == run_id and resumed.mode == "full"
            live = service.find_contacts(limit=1)["total"]
        assert live == len(expected_live(sandbox, []))
    finally:
        sandbox.stop()
