"""Freshness: webhooks from the sandbox through the real API server into the database.

    python -m benchmarks --only freshness [--quick]

One scenario, in-process (sandbox, `hubsync api` under uvicorn on loopback, the API's
background applier), measuring:

- **acknowledged events/s**: signed deliveries of 100 events POSTed by 8 threads to the
  webhook route, each answered only after its events are committed to the inbox (SQLite);
- **apply latency** p50/p95: from an event's arrival in the inbox to the commit that applied
  it, for a portal changed as issue 15's acceptance says (property changes, creations,
  deletions, merges, privacy deletions, 10 % delivered twice, batches reordered);
- **API calls per 1,000 changed contacts**: the applier's batch reads, counted by the sandbox.

`run_changes` is also what `tests/webhooks/test_freshness_acceptance.py` runs at test scale.
"""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import uvicorn
from sqlalchemy import select

from hubsync_core.api import create_app
from hubsync_core.api.server import open_socket
from hubsync_core.config import Settings
from hubsync_core.sandbox import Sandbox, SandboxConfig
from hubsync_core.service import HubSyncService
from hubsync_core.store import inbox
from hubsync_core.sync.model import SyncOptions
from hubsync_core.webhooks.receiver import WEBHOOK_PATH
from hubsync_core.webhooks.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_v3


@dataclass(frozen=True)
class ChangeMix:
    """What happens in the portal (issue 15's acceptance mix by default)."""

    property_changes: int = 300
    creations: int = 50
    deletions: int = 20
    merges: int = 5
    privacy_deletions: int = 2
    duplicate_rate: float = 0.1

    @property
    def changed_contacts(self) -> int:
        return (
            self.property_changes
            + self.creations
            + self.deletions
            + 2 * self.merges
            + self.privacy_deletions
        )


@dataclass
class ChangeReport:
    contacts: int
    changed_contacts: int
    events: int
    duplicates_sent: int
    api_calls: int
    latencies_ms: list[float] = field(default_factory=list)
    erased_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def calls_per_1000(self) -> float:
        return 1000.0 * self.api_calls / max(self.changed_contacts, 1)

    def percentile(self, share: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def settings_for(sandbox: Sandbox, database_url: str, public_url: str, data_dir: Path) -> Settings:
    """Settings of a HubSync process syncing `sandbox` and receiving its webhooks."""
    env = {
        "HUBSPOT_ACCESS_TOKEN": sandbox.token,
        "HUBSPOT_BASE_URL": sandbox.base_url,
        "DATABASE_URL": database_url,
        "HUBSPOT_CLIENT_SECRET": sandbox.config.client_secret,
        "HUBSYNC_WEBHOOK_PUBLIC_URL": public_url,
        "HUBSYNC_INCREMENTAL_LAG_MINUTES": "0",
        "HUBSYNC_DATA_DIR": str(data_dir),
    }
    return Settings.load(env, dotenv_path=None, secrets_path=None)


@contextmanager
def api_server(
    make_service: Callable[[str], HubSyncService], *, background: bool = True
) -> Iterator[tuple[HubSyncService, str]]:
    """`hubsync api` under uvicorn on a free loopback port: (its service, the webhook URL)."""
    sock = open_socket("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}{WEBHOOK_PATH}"
    service = make_service(url)
    app = create_app(service, token="benchmark-token-0123456789", background=background)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    try:
        yield service, url
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
        service.close()


def change_portal(sandbox: Sandbox, mix: ChangeMix, seed: int = 15) -> list[str]:
    """Apply `mix` to the portal; returns the ids erased for privacy."""
    portal, rng = sandbox.portal, random.Random(seed)
    ids = portal.live_ids()
    rng.shuffle(ids)
    picks = iter(ids)
    for n in range(mix.property_changes):
        change = {"jobtitle": f"Title {n}"}
        if n % 3 == 0:
            change["lifecyclestage"] = rng.choice(("lead", "customer", "opportunity"))
        portal.update_contact(next(picks), change)
    for n in range(mix.creations):
        portal.create_contact({"email": f"fresh{n}@example.com", "firstname": f"Fresh {n}"})
    for _ in range(mix.deletions):
        portal.archive_contact(next(picks))
    for _ in range(mix.merges):
        portal.merge_contacts(next(picks), next(picks))
    erased = [next(picks) for _ in range(mix.privacy_deletions)]
    for contact_id in erased:
        portal.privacy_delete(contact_id)
    return erased


def run_changes(
    sandbox: Sandbox, service: HubSyncService, url: str, mix: ChangeMix
) -> ChangeReport:
    """Change the portal and wait until every delivered event is applied (the API process's
    applier does it); the sandbox's webhooks go to `url`, with duplicates and reordering."""
    options = sandbox.freshness.emitter.options
    options.url, options.duplicate_rate, options.reorder = url, mix.duplicate_rate, True
    options.retry_base = 0.2
    calls_before = sandbox.stats.requests
    started = time.perf_counter()
    erased = change_portal(sandbox, mix)
    if not sandbox.freshness.emitter.wait_idle(120):
        raise RuntimeError("the sandbox could not deliver every event")
    deadline = time.monotonic() + 120
    while inbox.pending_summary(service.db)[0]:
        if time.monotonic() > deadline:
            raise RuntimeError("events were not applied within 120 s")
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    with service.db.connect() as conn:
        rows = conn.execute(select(inbox.INBOX.c.received_at, inbox.INBOX.c.applied_at)).all()
    stats = sandbox.freshness.emitter.stats
    return ChangeReport(
        contacts=sandbox.config.contacts,
        changed_contacts=mix.changed_contacts,
        events=len(rows),
        duplicates_sent=stats.duplicates,
        api_calls=sandbox.stats.requests - calls_before,
        latencies_ms=[(a - r).total_seconds() * 1000 for r, a in rows if a is not None],
        erased_ids=erased,
        seconds=seconds,
    )


def acknowledged_per_second(url: str, secret: str, deliveries: int, threads: int = 8) -> float:
    """Events/s the webhook route acknowledges: `deliveries` signed POSTs of 100 events."""
    counter = iter(range(deliveries))
    lock = threading.Lock()
    failures: list[int] = []

    def worker() -> None:
        session = requests.Session()
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            now = int(time.time() * 1000)
            events = [
                {
                    "eventId": 10**12 + n * 100 + i,
                    "subscriptionId": 1002,
                    "portalId": 1,
                    "appId": 1,
                    "occurredAt": now,
                    "subscriptionType": "contact.propertyChange",
                    "attemptNumber": 0,
                    "objectId": 9 * 10**9 + n * 100 + i,
                    "changeSource": "CRM",
                    "propertyName": "jobtitle",
                    "propertyValue": "CTO",
                }
                for i in range(100)
            ]
            body = json.dumps(events).encode()
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign_v3(secret, "POST", url, body, now),
                TIMESTAMP_HEADER: str(now),
            }
            answer = session.post(url, data=body, headers=headers, timeout=30)
            if answer.status_code != 200:
                with lock:
                    failures.append(answer.status_code)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} deliveries failed: {sorted(set(failures))}")
    return deliveries * 100 / elapsed


def run(
    workdir: Path, contacts: int, deliveries: int, log: Callable[[str], None]
) -> dict[str, Any]:
    """The whole scenario on SQLite; returns the figures."""
    config = SandboxConfig(contacts=contacts, seed=11, rate_limit=0, search_rate_limit=0)
    with Sandbox(config) as sandbox:

        def make(url: str) -> HubSyncService:
            db = f"sqlite:///{workdir / 'freshness.db'}"
            return HubSyncService(settings_for(sandbox, db, url, workdir), owner="bench")

        with api_server(make) as (service, url):
            service.sync(SyncOptions(mode="full", owner="bench")).raise_for_status()
            log(f"  freshness: {contacts:,} contacts synced; changing the portal")
            report = run_changes(sandbox, service, url, ChangeMix())

        def make_ack(url: str) -> HubSyncService:
            db = f"sqlite:///{workdir / 'freshness-ack.db'}"
            return HubSyncService(settings_for(sandbox, db, url, workdir), owner="bench")

        with api_server(make_ack, background=False) as (_, url):
            rate = acknowledged_per_second(url, sandbox.config.client_secret, deliveries)
    return {
        "contacts": contacts,
        "changed_contacts": report.changed_contacts,
        "events_applied": report.events,
        "duplicates_sent": report.duplicates_sent,
        "api_calls": report.api_calls,
        "api_calls_per_1000_changed": round(report.calls_per_1000, 1),
        "apply_latency_p50_ms": round(report.percentile(0.5) or 0, 1),
        "apply_latency_p95_ms": round(report.percentile(0.95) or 0, 1),
        "ack_events_per_s": round(rate, 1),
        "ack_deliveries": deliveries,
        "seconds_changes_to_applied": round(report.seconds, 2),
        "latency_mean_ms": round(statistics.fmean(report.latencies_ms or [0]), 1),
    }
