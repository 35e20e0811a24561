"""The sandbox serves every API version's paths (and retires v3 on demand), answers token info
and the daily API usage, as HubSpot does."""

from __future__ import annotations

from collections.abc import Callable

from sandbox_testkit import Api

from hubsync_core.sandbox import Sandbox

FAMILIES = {
    "contacts": (
        "/crm/v3/objects/contacts",
        "/crm/objects/2026-03/contacts",
        "/crm/objects/2026-09/contacts",
    ),
    "properties": ("/crm/v3/properties/contacts", "/crm/properties/2026-03/contacts"),
}


def test_every_family_answers_the_same_body(make_sandbox: Callable[..., Sandbox]) -> None:
    api = Api(make_sandbox(contacts=40))
    for paths in FAMILIES.values():
        bodies = [api.get(path, limit=5).json() for path in paths]
        assert all(body == bodies[0] for body in bodies[1:]), paths
    lists = [
        api.post(p, {"count": 5}).json()
        for p in ("/crm/v3/lists/search", "/crm/lists/2026-03/search")
    ]
    assert lists[0] == lists[1]
    search = api.post("/crm/objects/2026-09/contacts/search", {"filterGroups": [], "limit": 3})
    assert search.status_code == 200 and len(search.json()["results"]) == 3


def test_retired_v3_answers_404_while_dated_paths_keep_working(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    api = Api(make_sandbox(contacts=10, retire_v3=True))
    assert api.get("/crm/v3/objects/contacts").status_code == 404
    assert api.post("/crm/v3/objects/contacts/search", {"filterGroups": []}).status_code == 404
    assert api.get("/crm/objects/2026-03/contacts").status_code == 200
    # A release HubSpot never shipped is no path either.
    assert api.get("/crm/objects/2025-01/contacts").status_code == 404
    assert api.get("/crm/lists/2026-09/search").status_code == 404


def test_token_info_names_portal_and_scopes_and_refuses_other_tokens(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox(contacts=1)
    api = Api(sandbox)
    path = "/oauth/v2/private-apps/get/access-token-info"
    info = api.post(path, {"tokenKey": sandbox.token})
    assert info.status_code == 200
    body = info.json()
    assert body["hubId"] == sandbox.config.portal_id
    assert set(body["scopes"]) == set(sandbox.config.scopes)
    assert api.post(path, {"tokenKey": "someone-elses"}).status_code == 404


def test_daily_api_usage_counts_calls(make_sandbox: Callable[..., Sandbox]) -> None:
    api = Api(make_sandbox(contacts=5, daily_limit=1000))
    path = "/account-info/v3/api-usage/daily/private-apps"
    first = api.get(path).json()["results"][0]
    api.get("/crm/objects/2026-03/contacts")
    second = api.get(path).json()["results"][0]
    assert first["usageLimit"] == second["usageLimit"] == 1000
    assert second["currentUsage"] == first["currentUsage"] + 2
