"""The sandbox's write endpoints answer in HubSpot's shapes: batch update (200, 207 for unknown
ids, 400 VALIDATION_ERROR for bad values), batch archive (204), static-list membership
add/remove, token info with scopes, 403 without a write scope, and a log of every write."""

from __future__ import annotations

from sandbox_testkit import Api

from hubsync_core.sandbox.config import READ_SCOPES

UPDATE = "/crm/v3/objects/contacts/batch/update"
ARCHIVE = "/crm/v3/objects/contacts/batch/archive"


def test_batch_update_writes_answers_the_objects_and_207_for_unknown_ids(make_sandbox) -> None:
    sandbox = make_sandbox(contacts=20)
    api = Api(sandbox)
    ids = sandbox.portal.live_ids()[:2]
    body = {"inputs": [{"id": i, "properties": {"jobtitle": "Tester"}} for i in [*ids, "999999"]]}
    answer = api.post(UPDATE, body)
    assert answer.status_code == 207
    data = answer.json()
    assert {r["id"] for r in data["results"]} == set(ids)
    assert all(r["properties"]["jobtitle"] == "Tester" for r in data["results"])
    assert all(r["properties"]["lastmodifieddate"] for r in data["results"])
    assert data["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert data["errors"][0]["context"]["ids"] == ["999999"]
    assert [w.ids for w in sandbox.writes.items()] == [(*ids, "999999")]


def test_bad_values_fail_the_whole_batch_with_validation_error(make_sandbox) -> None:
    sandbox = make_sandbox(contacts=5)
    api = Api(sandbox)
    cid = sandbox.portal.live_ids()[0]
    before = sandbox.portal.contact(cid)["properties"]
    for props, code in (
        ({"lifecyclestage": "champion"}, "INVALID_OPTION"),
        ({"hs_object_id": "1"}, "READ_ONLY_VALUE"),
        ({"favourite_colour": "blue"}, "PROPERTY_DOESNT_EXIST"),
        ({"lead_score": "lots"}, "INVALID_INTEGER"),
    ):
        answer = api.post(
            UPDATE, {"inputs": [{"id": cid, "properties": {"jobtitle": "X", **props}}]}
        )
        assert answer.status_code == 400
        assert answer.json()["category"] == "VALIDATION_ERROR"
        assert answer.json()["errors"][0]["code"] == code
    assert sandbox.portal.contact(cid)["properties"] == before


def test_lifecyclestage_moves_back_only_after_clearing(make_sandbox) -> None:
    sandbox = make_sandbox(contacts=5)
    api = Api(sandbox)
    cid = sandbox.portal.live_ids()[0]
    api.post(UPDATE, {"inputs": [{"id": cid, "properties": {"lifecyclestage": "customer"}}]})
    back = api.post(UPDATE, {"inputs": [{"id": cid, "properties": {"lifecyclestage": "lead"}}]})
    assert back.status_code == 207 and back.json()["errors"][0]["context"]["ids"] == [cid]
    api.post(UPDATE, {"inputs": [{"id": cid, "properties": {"lifecyclestage": ""}}]})
    again = api.post(UPDATE, {"inputs": [{"id": cid, "properties": {"lifecyclestage": "lead"}}]})
    assert again.status_code == 200
    assert sandbox.portal.contact(cid)["properties"]["lifecyclestage"] == "lead"


def test_batch_archive_answers_204_and_list_membership_changes(make_sandbox) -> None:
    sandbox = make_sandbox(contacts=10)
    api = Api(sandbox)
    ids = sandbox.portal.live_ids()[:3]
    added = api.session.put(
        f"{sandbox.base_url}/crm/v3/lists/57/memberships/add", json=[*ids, "999999"]
    )
    assert added.json() == {"recordIdsAdded": ids, "recordsIdsMissing": ["999999"]}
    removed = api.session.put(
        f"{sandbox.base_url}/crm/v3/lists/57/memberships/remove", json=ids[:1]
    )
    assert removed.json()["recordIdsRemoved"] == ids[:1]
    dynamic = api.session.put(f"{sandbox.base_url}/crm/v3/lists/12/memberships/add", json=ids)
    assert dynamic.status_code == 400
    archived = api.post(ARCHIVE, {"inputs": [{"id": ids[0]}, {"id": "999999"}]})
    assert archived.status_code == 204 and archived.content == b""
    assert sandbox.portal.contact(ids[0])["archived"]


def test_token_info_names_the_scopes_and_writes_need_a_write_scope(make_sandbox) -> None:
    sandbox = make_sandbox(contacts=5, scopes=READ_SCOPES)
    api = Api(sandbox)
    info = api.post("/oauth/v2/private-apps/get/access-token-info", {"tokenKey": sandbox.token})
    assert "crm.objects.contacts.write" not in info.json()["scopes"]
    assert "crm.objects.contacts.read" in info.json()["scopes"]
    denied = api.post(UPDATE, {"inputs": [{"id": "1", "properties": {"jobtitle": "X"}}]})
    assert denied.status_code == 403 and denied.json()["category"] == "MISSING_SCOPES"
