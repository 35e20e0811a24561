"""Fault injection: every kind, the retry after it, determinism of the random sequence."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from sandbox_testkit import Api, make_config

from hubsync_core.sandbox import FAULT_KINDS, Sandbox

CONTACTS = "/crm/v3/objects/contacts"
PARAMS = {"limit": 50, "properties": "email,company"}


def _page(api: Api) -> requests.Response:
    return api.get(CONTACTS, **PARAMS)


@pytest.mark.parametrize("kind", ["500", "502", "503", "504"])
def test_server_errors_have_bodies_and_the_retry_gets_the_right_answer(
    api: Api, sandbox: Sandbox, kind: str
) -> None:
    good = _page(api).json()
    sandbox.fail_next(kind)
    r = _page(api)
    assert r.status_code == int(kind)
    body = r.json()
    assert body["status"] == "error" and body["correlationId"] and body["message"]
    assert _page(api).json() == good
    assert sandbox.stats.faults_injected == {kind: 1}


def test_injected_429_has_no_retry_after(api: Api, sandbox: Sandbox) -> None:
    good = _page(api).json()
    sandbox.fail_next("429")
    r = _page(api)
    assert r.status_code == 429
    assert "Retry-After" not in r.headers
    body = r.json()
    assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
    assert body["correlationId"]
    assert _page(api).json() == good
    assert sandbox.stats.rate_limited == 1


def test_forced_daily_429(api: Api, sandbox: Sandbox) -> None:
    sandbox.fail_next("daily429")
    r = _page(api)
    assert r.status_code == 429 and r.json()["policyName"] == "DAILY"
    assert _page(api).status_code == 200


def test_forced_401_rejects_one_request_only(api: Api, sandbox: Sandbox) -> None:
    sandbox.fail_next("401", count=2)
    assert [_page(api).status_code for _ in range(3)] == [401, 401, 200]


def test_reset_drops_the_connection_and_the_retry_succeeds(api: Api, sandbox: Sandbox) -> None:
    good = _page(api).json()
    sandbox.fail_next("reset")
    with pytest.raises(requests.ConnectionError):
        _page(api)
    assert _page(api).json() == good
    assert sandbox.stats.faults_injected == {"reset": 1}


def test_slow_answers_late_but_correctly(make_sandbox: Any, api_for: Any) -> None:
    sandbox = make_sandbox(slow_seconds=0.3)
    api = api_for(sandbox)
    good = _page(api).json()
    sandbox.fail_next("slow")
    started = time.monotonic()
    r = _page(api)
    assert time.monotonic() - started >= 0.3
    assert r.status_code == 200 and r.json() == good


def test_slow_answer_trips_a_short_client_timeout(make_sandbox: Any, api_for: Any) -> None:
    sandbox = make_sandbox(slow_seconds=2.0)
    api = api_for(sandbox)
    sandbox.fail_next("slow")
    with pytest.raises(requests.Timeout):
        api.session.get(sandbox.base_url + CONTACTS, params=PARAMS, timeout=0.2)


def test_truncated_answer_is_a_200_with_half_the_json(api: Api, sandbox: Sandbox) -> None:
    full = _page(api).content
    sandbox.fail_next("truncated")
    r = _page(api)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert int(r.headers["Content-Length"]) == len(r.content) == len(full) // 2
    assert r.content == full[: len(full) // 2]
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)
    assert _page(api).content == full


def test_fail_next_can_target_one_path(api: Api, sandbox: Sandbox) -> None:
    sandbox.fail_next("503", path="/crm/v3/objects/contacts/search")
    assert _page(api).status_code == 200
    assert api.search({}).status_code == 503
    assert api.search({}).status_code == 200


def test_faults_never_touch_the_admin_path(api: Api, sandbox: Sandbox) -> None:
    sandbox.set_faults(1.0, ["500"])
    assert api.get("/_sandbox/stats").status_code == 200
    assert _page(api).status_code == 500


def _statuses(seed: int, count: int = 60) -> list[int]:
    with Sandbox(
        make_config(seed=seed, fault_rate=0.3, fault_kinds=("500", "503", "429", "truncated"))
    ) as sb:
        api = Api(sb)
        try:
            return [_page(api).status_code for _ in range(count)]
        finally:
            api.close()


def test_random_faults_follow_a_seeded_deterministic_sequence() -> None:
    first, again, other = _statuses(7), _statuses(7), _statuses(8)
    assert first == again
    assert first != other
    faults = sum(s != 200 for s in first)
    assert 5 < faults < 35  # ~30% of 60 (truncated answers count as 200)


def test_random_faults_change_nothing_a_retry_cannot_fix(make_sandbox: Any, api_for: Any) -> None:
    sandbox = make_sandbox(fault_rate=0.5, fault_kinds=("500", "502", "503", "504", "429"))
    api = api_for(sandbox)
    ids: list[str] = []
    after = None
    while True:
        params = {"limit": 100, **({"after": after} if after else {})}
        r = api.get(CONTACTS, **params)
        if r.status_code != 200:
            continue  # retry the same cursor
        page = r.json()
        ids += [c["id"] for c in page["results"]]
        after = page.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
    assert ids == sandbox.portal.live_ids()
    assert sum(sandbox.stats.faults_injected.values()) > 0


def test_set_faults_rejects_unknown_kinds(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError):
        sandbox.set_faults(0.1, ["418"])
    with pytest.raises(ValueError):
        sandbox.fail_next("teapot")
    assert set(FAULT_KINDS) == {
        "500",
        "502",
        "503",
        "504",
        "reset",
        "slow",
        "truncated",
        "429",
    }
