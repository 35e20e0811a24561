"""SIGKILL of `hubsync api` after webhooks were acknowledged and before they were applied:
the restarted process applies every acknowledged event (nothing lives only in memory)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import httpx
from sync_helpers import fast_client, quiet_sandbox, sandbox_settings, wait_for

from api.test_api_process import API_TOKEN, base_env, start_server
from hubsync_core.service import HubSyncService
from hubsync_core.sync.model import SyncOptions
from hubsync_core.webhooks.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_v3

PUBLIC = "https://hooks.example.test/api/integrations/hubspot/webhooks"
BATCH_READ = "/crm/v3/objects/contacts/batch/read"


def pending(db_file: Path) -> int:
    with sqlite3.connect(db_file) as conn:
        return conn.execute("SELECT count(*) FROM event_inbox WHERE applied_at IS NULL").fetchone()[
            0
        ]


def jobtitles(db_file: Path, ids: list[str]) -> dict[str, str | None]:
    with sqlite3.connect(db_file) as conn:
        marks = ",".join("?" * len(ids))
        rows = conn.execute(
            f"SELECT hubspot_id, jobtitle FROM contacts WHERE hubspot_id IN ({marks})", ids
        ).fetchall()
    return dict(rows)


def test_events_acknowledged_before_a_sigkill_are_applied_after_the_restart(tmp_path: Path):
    sandbox = quiet_sandbox(300, seed=5)
    db_file = tmp_path / "hooks.db"
    try:
        url = f"sqlite:///{db_file}"
        with HubSyncService(sandbox_settings(sandbox, url), client=fast_client(sandbox)) as svc:
            svc.sync(SyncOptions(mode="full")).raise_for_status()
        env = base_env(
            tmp_path,
            HUBSPOT_ACCESS_TOKEN=sandbox.token,
            HUBSPOT_BASE_URL=sandbox.base_url,
            DATABASE_URL=url,
            HUBSYNC_API_TOKEN=API_TOKEN,
            HUBSPOT_CLIENT_SECRET=sandbox.config.client_secret,
            HUBSYNC_WEBHOOK_PUBLIC_URL=PUBLIC,
            HUBSYNC_MAX_RETRIES="0",
        )
        # HubSpot's batch read fails while the first process runs: it acknowledges the
        # events (they are stored) but cannot apply them.
        sandbox.fail_next("503", count=100_000, path=BATCH_READ)
        ids = sandbox.portal.live_ids()[:5]
        now = int(time.time() * 1000)
        events = []
        for n, contact_id in enumerate(ids):
            sandbox.portal.update_contact(contact_id, {"jobtitle": f"Kill test {n}"})
            events.append(
                {
                    "eventId": 700 + n,
                    "subscriptionId": 1002,
                    "portalId": sandbox.config.portal_id,
                    "appId": 1,
                    "occurredAt": now,
                    "subscriptionType": "contact.propertyChange",
                    "attemptNumber": 0,
                    "objectId": int(contact_id),
                    "changeSource": "CRM",
                    "propertyName": "jobtitle",
                    "propertyValue": f"Kill test {n}",
                }
            )
        body = json.dumps(events).encode()
        servers = start_server(env, tmp_path)
        server = next(servers)
        stamp = int(time.time() * 1000)
        answer = httpx.post(
            f"http://127.0.0.1:{server.port}/api/integrations/hubspot/webhooks",
            content=body,
            headers={
                SIGNATURE_HEADER: sign_v3(
                    sandbox.config.client_secret, "POST", PUBLIC, body, stamp
                ),
                TIMESTAMP_HEADER: str(stamp),
                "Content-Type": "application/json",
            },
            timeout=30,
        )
        assert answer.status_code == 200 and answer.json()["stored"] == 5, answer.text
        assert pending(db_file) == 5
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(30)
        servers.close()
        assert pending(db_file) == 5
        assert all(not (t or "").startswith("Kill test") for t in jobtitles(db_file, ids).values())

        sandbox.clear_faults()
        servers = start_server(env, tmp_path)
        next(servers)
        try:
            wait_for(lambda: pending(db_file) == 0, timeout=60, interval=0.1)
        finally:
            servers.close()
        assert jobtitles(db_file, ids) == {i: f"Kill test {n}" for n, i in enumerate(ids)}
    finally:
        sandbox.stop()
