"""401 / 403 / 429 answers, rate-limit headers, unknown paths, stats."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from sandbox_testkit import Api

from hubsync_core.sandbox import Sandbox, SandboxConfig, limits

CONTACTS = "/crm/v3/objects/contacts"


def _is_uuid(text: str) -> bool:
    uuid.UUID(text)
    return True


def test_missing_or_wrong_token_gets_hubspots_401_body(shared_sandbox: Sandbox) -> None:
    url = shared_sandbox.base_url + CONTACTS
    for headers in ({}, {"Authorization": "Bearer pat-na1-wrong"}, {"Authorization": "Basic x"}):
        r = requests.get(url, headers=headers, timeout=10)
        assert r.status_code == 401
        body = r.json()
        assert set(body) == {"status", "message", "correlationId", "category"}
        assert body["status"] == "error"
        assert body["message"].startswith("Authentication credentials not found")
        assert body["category"] == "INVALID_AUTHENTICATION"
        assert _is_uuid(body["correlationId"])
        assert r.headers["X-HubSpot-Correlation-Id"] == body["correlationId"]


def test_revoked_token_answers_401_until_restored(api: Api, sandbox: Sandbox) -> None:
    sandbox.revoke_token()
    assert api.get(CONTACTS).status_code == 401
    assert api.get("/account-info/v3/details").status_code == 401
    sandbox.restore_token()
    assert api.get(CONTACTS).status_code == 200


def test_token_without_a_scope_gets_403_naming_it(make_sandbox: Any, api_for: Any) -> None:
    api = api_for(make_sandbox(scopes=("crm.objects.contacts.read",)))
    assert api.get(CONTACTS, limit=1).status_code == 200
    for r in (
        api.get("/crm/v3/lists/12"),
        api.post("/crm/v3/lists/search", {"query": ""}),
        api.get("/crm/v3/lists/12/memberships"),
    ):
        assert r.status_code == 403
        body = r.json()
        assert body["category"] == "MISSING_SCOPES"
        assert body["context"] == {"missingScopes": ["crm.lists.read"]}
        assert body["correlationId"]


def test_contacts_scope_missing_blocks_list_and_search(make_sandbox: Any, api_for: Any) -> None:
    api = api_for(make_sandbox(scopes=("crm.lists.read",)))
    for r in (api.get(CONTACTS), api.search({})):
        assert r.status_code == 403
        assert r.json()["context"]["missingScopes"] == ["crm.objects.contacts.read"]


def test_rate_limit_headers_count_down_then_429_with_hubspots_body(
    make_sandbox: Any, api_for: Any
) -> None:
    sandbox = make_sandbox(rate_limit=5)
    api = api_for(sandbox)
    remaining = []
    for _ in range(5):
        r = api.get(CONTACTS, limit=1)
        assert r.status_code == 200
        assert r.headers["X-HubSpot-RateLimit-Max"] == "5"
        assert r.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert int(r.headers["X-HubSpot-RateLimit-Daily"]) > 0
        assert int(r.headers["X-HubSpot-RateLimit-Daily-Remaining"]) > 0
        remaining.append(int(r.headers["X-HubSpot-RateLimit-Remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    r = api.get(CONTACTS, limit=1)
    assert r.status_code == 429
    body = r.json()
    assert body["status"] == "error"
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert _is_uuid(body["correlationId"])
    assert r.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert sandbox.stats.rate_limited == 1


def test_every_non_search_endpoint_carries_rate_limit_headers(
    make_sandbox: Any, api_for: Any
) -> None:
    api = api_for(make_sandbox(rate_limit=100))
    for r in (
        api.get(CONTACTS, limit=1),
        api.get("/crm/v3/properties/contacts"),
        api.post("/crm/v3/lists/search", {}),
        api.get("/crm/v3/lists/12"),
        api.get("/crm/v3/lists/12/memberships"),
        api.get("/account-info/v3/details"),
        api.get(CONTACTS, limit=500),  # a 400 too
    ):
        assert "X-HubSpot-RateLimit-Max" in r.headers, r.url
        assert "X-HubSpot-RateLimit-Daily-Remaining" in r.headers


def test_daily_quota_answers_429_daily(make_sandbox: Any, api_for: Any) -> None:
    api = api_for(make_sandbox(daily_limit=3))
    assert [api.get(CONTACTS, limit=1).status_code for _ in range(3)] == [200] * 3
    r = api.get(CONTACTS, limit=1)
    assert r.status_code == 429
    assert r.json()["policyName"] == "DAILY"
    assert "Retry-After" not in r.headers


def test_unknown_path_is_a_hubspot_style_404(shared_api: Api) -> None:
    r = shared_api.get("/crm/v3/objects/widgets")
    assert r.status_code == 404
    body = r.json()
    assert body["status"] == "error" and body["correlationId"] and body["message"]


def test_wrong_method_is_405(shared_api: Api) -> None:
    r = shared_api.session.delete(shared_api.base + "/crm/v3/properties/contacts", timeout=10)
    assert r.status_code == 405
    assert r.json()["correlationId"]


def test_overlong_url_is_414(shared_api: Api) -> None:
    r = shared_api.get(CONTACTS, properties=",".join(["email"] * 3000))
    assert r.status_code == 414
    assert r.json()["correlationId"]


def test_stats_count_requests_searches_and_statuses(api: Api, sandbox: Sandbox) -> None:
    api.get(CONTACTS)
    api.search({})
    api.get("/nope")
    requests.get(sandbox.base_url + CONTACTS, timeout=10)
    api.get("/_sandbox/stats")  # the admin path is not counted
    stats = sandbox.stats
    assert stats.requests == 4
    assert stats.search_requests == 1
    assert stats.responses == {200: 2, 404: 1, 401: 1}


def test_keep_alive_serves_many_requests_on_one_connection(shared_api: Api) -> None:
    first = shared_api.get(CONTACTS, limit=1)
    assert first.headers.get("Connection", "keep-alive").lower() != "close"
    for _ in range(20):
        assert shared_api.get(CONTACTS, limit=1).status_code == 200


@pytest.mark.parametrize(("tier", "burst"), [("starter", 100), ("professional", 190)])
def test_list_and_search_budgets_are_separate_rolling_windows(
    monkeypatch: pytest.MonkeyPatch, tier: str, burst: int
) -> None:
    """The limits a backfill benchmark is held to: `burst` list-type requests in any rolling
    10 s and 5 searches in any rolling second, neither spending the other."""
    now = [100.0]
    monkeypatch.setattr(limits.time, "monotonic", lambda: now[0])
    limiter = limits.Limiter(SandboxConfig(contacts=0, rate_limit=burst, search_rate_limit=5))

    assert all(limiter.admit(False) == (None, None) for _ in range(burst))
    assert limiter.admit(False)[0] == "TEN_SECONDLY_ROLLING"
    # The burst window is full, yet search has its own five a second.
    assert all(limiter.admit(True) == (None, None) for _ in range(5))
    policy, wait = limiter.admit(True)
    assert policy == "SECONDLY" and wait == pytest.approx(1.0)
    now[0] += 1.0  # a second later: search again, the 10-s window still full
    assert limiter.admit(True) == (None, None)
    assert limiter.admit(False)[0] == "TEN_SECONDLY_ROLLING"
    now[0] += 9.0  # ten seconds after the burst: the window rolled over
    assert limiter.admit(False) == (None, None)


def test_admin_budget_reports_each_budgets_use_per_second(make_sandbox: Any, api_for: Any) -> None:
    sandbox = make_sandbox(rate_limit=100, search_rate_limit=5)
    api = api_for(sandbox)
    for _ in range(3):
        assert api.get(CONTACTS, limit=1).status_code == 200
    assert api.search({"limit": 1}).status_code == 200

    budget = requests.get(sandbox.base_url + "/_sandbox/budget", timeout=10).json()

    assert sum(row[1] for row in budget["seconds"]) == 3
    assert sum(row[2] for row in budget["seconds"]) == 1
    assert budget["now"] >= max(row[0] for row in budget["seconds"])
