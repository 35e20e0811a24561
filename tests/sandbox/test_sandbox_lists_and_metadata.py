"""Lists v3, the properties endpoint and account details."""

from __future__ import annotations

from sandbox_testkit import Api

from hubsync_core.sandbox import Sandbox


def test_lists_search_shape_and_chainge_list(shared_api: Api) -> None:
    body = shared_api.post("/crm/v3/lists/search", {"query": "", "count": 500}).json()
    assert set(body) == {"lists", "hasMore", "offset", "total"}
    assert body["total"] == len(body["lists"]) >= 5
    assert body["hasMore"] is False
    for lst in body["lists"]:
        assert {"listId", "name", "processingType", "size", "objectTypeId"} <= set(lst)
        assert lst["processingType"] in ("MANUAL", "DYNAMIC", "SNAPSHOT")
    names = [lst["name"] for lst in body["lists"]]
    assert "CHAINge" in names
    found = shared_api.post("/crm/v3/lists/search", {"query": "chainge"}).json()
    assert [lst["name"] for lst in found["lists"]] == ["CHAINge"]


def test_lists_search_pages_with_offset_and_caps_count(shared_api: Api) -> None:
    first = shared_api.post("/crm/v3/lists/search", {"count": 2, "offset": 0}).json()
    assert first["hasMore"] is True and first["offset"] == 2 and len(first["lists"]) == 2
    rest = shared_api.post("/crm/v3/lists/search", {"count": 500, "offset": 2}).json()
    assert len(first["lists"]) + len(rest["lists"]) == first["total"]
    assert shared_api.post("/crm/v3/lists/search", {"count": 501}).status_code == 400


def test_get_list_and_unknown_list(shared_api: Api, shared_sandbox: Sandbox) -> None:
    body = shared_api.get("/crm/v3/lists/12").json()
    assert body["list"]["name"] == "CHAINge"
    assert body["list"]["size"] == len(shared_sandbox.portal.list_member_ids("12"))
    missing = shared_api.get("/crm/v3/lists/999999")
    assert missing.status_code == 404 and missing.json()["correlationId"]


def test_memberships_page_through_every_member_once(
    shared_api: Api, shared_sandbox: Sandbox
) -> None:
    seen: list[str] = []
    after = None
    total = None
    while True:
        params = {"limit": 250, **({"after": after} if after else {})}
        body = shared_api.get("/crm/v3/lists/15/memberships", **params).json()
        total = body["total"]
        for member in body["results"]:
            assert set(member) == {"recordId", "membershipTimestamp"}
            assert member["membershipTimestamp"].endswith("Z")
        seen += [m["recordId"] for m in body["results"]]
        after = body.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
    assert seen == shared_sandbox.portal.list_member_ids("15")
    assert total == len(seen) > 250
    assert shared_api.get("/crm/v3/lists/15/memberships", limit=251).status_code == 400


def test_chainge_list_holds_the_chainge_companies(shared_sandbox: Sandbox) -> None:
    members = set(shared_sandbox.portal.list_member_ids("12"))
    chainge = {
        c["id"]
        for c in shared_sandbox.portal.live_contacts(["company"])
        if "chainge" in (c["properties"]["company"] or "").lower()
    }
    assert members == chainge and members


def test_contact_memberships_name_its_lists(shared_api: Api, shared_sandbox: Sandbox) -> None:
    member = shared_sandbox.portal.list_member_ids("12")[0]
    body = shared_api.get(f"/crm/v3/lists/records/0-1/{member}/memberships").json()
    assert "12" in {m["listId"] for m in body["results"]}
    assert body["total"] == len(body["results"])
    assert shared_api.get("/crm/v3/lists/records/0-1/999999999/memberships").status_code == 404


def test_properties_endpoint_lists_every_property_with_its_definition(
    shared_api: Api, shared_sandbox: Sandbox
) -> None:
    results = shared_api.get("/crm/v3/properties/contacts").json()["results"]
    by_name = {p["name"]: p for p in results}
    assert set(by_name) == set(shared_sandbox.portal.property_names())
    for prop in results:
        assert {"name", "label", "type", "fieldType", "groupName", "options"} <= set(prop)
    assert {"industry_segment", "lead_score", "region"} <= set(by_name)
    assert by_name["lead_score"]["hubspotDefined"] is False
    assert by_name["lastmodifieddate"]["type"] == "datetime"
    stages = {o["value"] for o in by_name["lifecyclestage"]["options"]}
    assert {"lead", "customer", "partner"} <= stages


def test_account_details(shared_api: Api, shared_sandbox: Sandbox) -> None:
    body = shared_api.get("/account-info/v3/details").json()
    assert body["portalId"] == shared_sandbox.config.portal_id
    assert {"timeZone", "dataHostingLocation", "accountType"} <= set(body)
