"""`/segments`, `/healthz`, `/readyz`, and the one error shape for 404/405/500."""

from __future__ import annotations

import sqlalchemy as sa

from .conftest import BASE, TOKEN


def test_segments_list_every_definition_with_its_live_size(synced):
    segments = synced.get(f"{BASE}/segments").json()["segments"]
    keys = [s["key"] for s in segments]
    assert keys[:4] == ["chainge", "engaged", "cold", "high_value"]
    for segment in segments:
        total = synced.get(f"{BASE}/contacts", params={"segment": segment["key"], "limit": 1})
        assert segment["contacts"] == total.json()["total"], segment["key"]
        assert segment["builtin"] and segment["rule"]["items"]


def test_readyz_reports_the_database_and_the_last_sync(api, synced):
    ready = synced.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready" and body["database"] == "ok"
    assert body["sync_running"] is False
    assert body["last_sync"]["status"] == "succeeded" and body["last_sync"]["age_seconds"] >= 0


def test_readyz_before_any_sync_is_ready_without_a_last_sync(api):
    assert api.get("/readyz").json()["last_sync"] is None


def test_readyz_is_503_when_the_database_cannot_be_reached(api, service, monkeypatch):
    def unreachable() -> None:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(service, "check_database", unreachable)
    answer = api.get("/readyz")
    assert answer.status_code == 503
    assert (
        answer.json()["status"] == "not_ready" and "OperationalError" in answer.json()["database"]
    )


def test_unknown_routes_and_methods_answer_the_error_shape(api):
    missing = api.get(f"{BASE}/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["status"] == 404 and "/docs" in missing.json()["hint"]
    wrong = api.put(f"{BASE}/contacts")
    assert wrong.status_code == 405 and wrong.json()["status"] == 405


def test_an_unexpected_error_is_500_json_with_a_correlation_id_not_a_traceback(
    api, service, monkeypatch, caplog
):
    def broken() -> dict[str, int]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(service, "segment_sizes", broken)
    answer = api.get(f"{BASE}/segments")
    assert answer.status_code == 500
    body = answer.json()
    assert body["status"] == 500 and body["message"] == "Unexpected error: RuntimeError"
    assert "disk on fire" not in answer.text and "Traceback" not in answer.text
    assert body["correlation_id"] in caplog.text
    assert TOKEN not in caplog.text


def test_readyz_and_sync_stats_carry_the_last_audits_verdict(api, synced, service):
    assert synced.get("/readyz").json()["audit"] is None
    report = service.audit()

    ready = synced.get("/readyz").json()["audit"]
    stats = synced.get(f"{BASE}/sync/stats").json()["audit"]
    assert ready == stats
    assert (ready["status"], ready["differences"]) == ("in_sync", 0)
    assert ready["verdict"] == report.verdict()
