"""`POST .../sync` (the spec's body and answer), 202 + Location, 409, failures, stats, runs."""

from __future__ import annotations

import socket
import threading
from datetime import datetime

from sync_helpers import expected_live, quiet_sandbox, sandbox_settings

from hubsync_core.service import HubSyncService
from hubsync_core.store import lock, runs

from .conftest import BASE, api_client

SPEC_STATS = (
    "total_synced",
    "total_pages",
    "by_segment",
    "errors",
    "duration_seconds",
    "timestamp",
)
SPEC_BODY = {"batch_size": 100, "max_contacts": None, "sync_type": "all"}


def test_the_spec_body_syncs_and_answers_the_specs_stats(api, portal):
    answer = api.post(f"{BASE}/sync", json=SPEC_BODY)
    assert answer.status_code == 200
    stats = answer.json()
    assert list(stats)[: len(SPEC_STATS)] == list(SPEC_STATS)
    assert stats["status"] == "succeeded" and stats["run_id"] == 1
    live = len(expected_live(portal, []))
    assert stats["total_synced"] >= live > 300 and stats["total_pages"] >= 4
    assert set(stats["by_segment"]) >= {"chainge", "engaged", "cold", "high_value"}
    assert stats["timestamp"].endswith("Z") and parse_z(stats["timestamp"]).tzinfo is not None
    listed = api.get(f"{BASE}/contacts", params={"limit": 1}).json()
    assert listed["total"] == live


def test_max_contacts_and_batch_size_are_honoured(api):
    stats = api.post(f"{BASE}/sync", json={"batch_size": 50, "max_contacts": 120}).json()
    assert stats["total_synced"] == 120 and stats["total_pages"] == 3


def test_no_body_means_the_defaults(api):
    assert api.post(f"{BASE}/sync").json()["status"] == "succeeded"


def test_chainge_sync_type_syncs_only_chainge_contacts(api):
    stats = api.post(f"{BASE}/sync", json={"sync_type": "chainge"}).json()
    assert stats["mode"] == "chainge" and stats["status"] == "succeeded"
    contacts = api.get(f"{BASE}/contacts", params={"limit": 1000}).json()["contacts"]
    assert contacts and all("chainge" in c["segments"] for c in contacts)


def test_wait_false_answers_202_with_a_location_to_the_runs_progress(api, service):
    answer = api.post(f"{BASE}/sync", json={"wait": False, "mode": "full"})
    assert answer.status_code == 202
    body = answer.json()
    assert answer.headers["Location"] == f"{BASE}/sync/runs/{body['run_id']}" == body["location"]
    run = api.get(answer.headers["Location"]).json()
    assert run["id"] == body["run_id"] and run["owner"].startswith("api@")
    assert set(run["progress"]) >= {
        "phase",
        "contacts",
        "pages",
        "contacts_per_second",
        "eta_seconds",
    }
    api.app.state.hubsync.jobs.wait(60)
    done = api.get(answer.headers["Location"]).json()
    assert done["status"] == "succeeded" and done["progress"]["contacts"] == done["contacts"] > 0


def test_a_sync_held_by_another_process_answers_409_with_holder_and_run(api, service):
    owner = "cli@elsewhere:4242"
    lock.acquire(service.db, owner, 77)
    try:
        for body in ({}, {"wait": False}):
            answer = api.post(f"{BASE}/sync", json=body)
            assert answer.status_code == 409
            error = answer.json()
            assert error["status"] == 409 and error["run_id"] == 77
            assert error["holder"] == "cli on elsewhere pid 4242"
            assert "already running" in error["message"] and "/sync/runs/77" in error["hint"]
        cleared = api.delete(f"{BASE}/contacts", params={"confirm": "true"})
        assert (
            cleared.status_code == 409 and cleared.json()["holder"] == "cli on elsewhere pid 4242"
        )
    finally:
        lock.release(service.db, owner)


def test_two_concurrent_posts_start_exactly_one_run(tmp_path):
    # Two apps on one database behave like two API processes; each has its own jobs. The
    # portal answers slowly (150 ms a request) so the first sync still runs when the
    # second request arrives, whatever the machine's load.
    slow = quiet_sandbox(300, seed=3, latency_ms=150)
    try:
        settings = sandbox_settings(slow, f"sqlite:///{tmp_path / 'two.db'}")
        with (
            HubSyncService(settings, owner="api") as one,
            HubSyncService(settings, owner="api") as other,
            api_client(one) as first,
            api_client(other) as second,
        ):
            answers: list[int] = []
            barrier = threading.Barrier(2)

            def post(client) -> None:
                barrier.wait()
                answers.append(client.post(f"{BASE}/sync", json={"wait": False}).status_code)

            threads = [threading.Thread(target=post, args=(c,)) for c in (first, second)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert sorted(answers) == [202, 409]
            runs_page = first.get(f"{BASE}/sync/runs").json()
            assert runs_page["total"] == 1
            for client in (first, second):
                client.app.state.hubsync.jobs.cancel()  # no need to wait for the slow portal
                client.app.state.hubsync.jobs.wait(60)
    finally:
        slow.stop()


def test_a_failed_sync_answers_status_message_hint_and_correlation_id(tmp_path):
    sandbox = quiet_sandbox(50, seed=1)
    try:
        bad = sandbox_settings(
            sandbox,
            f"sqlite:///{tmp_path / 'f.db'}",
            HUBSPOT_ACCESS_TOKEN="pat-na1-wrong-token",
            HUBSYNC_MAX_RETRIES="0",
        )
        with HubSyncService(bad, owner="api") as svc, api_client(svc) as client:
            answer = client.post(f"{BASE}/sync", json={})
            assert answer.status_code == 502
            body = answer.json()
            assert body["status"] == "failed" and body["run_id"] == 1
            assert body["message"] and body["hint"] and body["correlation_id"]
            assert "pat-na1-wrong-token" not in answer.text
            stats = client.get(f"{BASE}/sync/stats").json()
            assert stats["status"] == "failed" and stats["correlation_id"] == body["correlation_id"]
    finally:
        sandbox.stop()


def test_incremental_before_any_full_sync_is_refused_with_the_reason(api):
    answer = api.post(f"{BASE}/sync", json={"mode": "incremental"})
    assert answer.status_code == 409
    assert answer.json()["status"] == "failed" and "full sync" in answer.json()["message"]


def test_bad_bodies_get_422_naming_the_field(api):
    cases = {
        "batch_size": {"batch_size": 101},
        "max_contacts": {"max_contacts": 0},
        "sync_type": {"sync_type": "some"},
        "mode": {"mode": "fast"},
        "wiat": {"wiat": False},
    }
    for field, body in cases.items():
        answer = api.post(f"{BASE}/sync", json=body)
        assert answer.status_code == 422, field
        assert answer.json()["parameter"] == field and field in answer.json()["message"]
    broken = api.post(f"{BASE}/sync", content=b"{", headers={"Content-Type": "application/json"})
    assert broken.status_code == 422 and broken.json()["status"] == 422


def test_stats_are_404_json_before_any_sync_then_the_last_runs(api):
    missing = api.get(f"{BASE}/sync/stats")
    assert missing.status_code == 404
    assert missing.json()["status"] == 404 and "POST" in missing.json()["hint"]
    ran = api.post(f"{BASE}/sync", json={}).json()
    stats = api.get(f"{BASE}/sync/stats").json()
    for key in ("total_synced", "total_pages", "by_segment", "errors", "run_id", "status"):
        assert stats[key] == ran[key], key
    # The answer's timestamp is the engine's start, the stored one the run row's: same moment.
    assert abs(parse_z(stats["timestamp"]) - parse_z(ran["timestamp"])).total_seconds() < 1


def parse_z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_runs_are_paged_newest_first(api):
    for _ in range(3):
        api.post(f"{BASE}/sync", json={"max_contacts": 10, "mode": "full"})
    page = api.get(f"{BASE}/sync/runs", params={"limit": 2, "offset": 1}).json()
    assert page["total"] == 3 and page["limit"] == 2 and page["offset"] == 1
    assert [r["id"] for r in page["runs"]] == [2, 1]
    assert api.get(f"{BASE}/sync/runs", params={"limit": 0}).json()["parameter"] == "limit"


def test_an_unknown_run_is_404_and_a_bad_id_422(api):
    assert api.get(f"{BASE}/sync/runs/999").status_code == 404
    bad = api.get(f"{BASE}/sync/runs/abc")
    assert bad.status_code == 422 and bad.json()["parameter"] == "run_id"


def test_a_run_whose_process_died_shows_interrupted(api, service):
    owner = f"api@{socket.gethostname()}:999999"  # this host, no such pid
    lock.acquire(service.db, owner, None)
    run = runs.create_run(service.db, "full", owner, {})
    lock.attach_run(service.db, owner, run.id)
    shown = api.get(f"{BASE}/sync/runs/{run.id}").json()
    assert shown["status"] == "interrupted"
    assert api.post(f"{BASE}/sync", json={}).json()["status"] == "succeeded"
