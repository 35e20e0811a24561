"""Bulk routes: preview without sending, refusals (422), typed confirmation (428), a run with
its audit entry (actor: the API token), undo, and the log."""

from __future__ import annotations

from .conftest import BASE

BULK = f"{BASE}/bulk"


def _ids(portal, start: int, count: int) -> list[str]:
    return portal.portal.live_ids()[start : start + count]


def test_dry_run_answers_the_preview_and_sends_nothing(synced, portal):
    portal.writes.clear()
    answer = synced.post(
        BULK,
        json={
            "action": "set",
            "ids": _ids(portal, 0, 3),
            "properties": {"jobtitle": "API tester"},
            "dry_run": True,
        },
    )
    assert answer.status_code == 200, answer.text
    preview = answer.json()["preview"]
    assert preview["contacts"] == 3 and preview["write_calls"] == 1
    assert portal.writes.items() == []


def test_a_bad_value_is_refused_with_422_and_the_reason(synced, portal):
    portal.writes.clear()
    answer = synced.post(
        BULK,
        json={
            "action": "set",
            "query": "segment=cold",
            "properties": {"lifecyclestage": "champion"},
        },
    )
    assert answer.status_code == 422
    assert "not an option of Lifecycle Stage" in answer.json()["preview"]["refusals"][0]
    assert portal.writes.items() == []


def test_archive_needs_the_typed_word(synced, portal):
    ids = _ids(portal, 10, 2)
    answer = synced.post(BULK, json={"action": "archive", "ids": ids})
    assert answer.status_code == 428 and "ARCHIVE" in answer.json()["message"]
    answer = synced.post(BULK, json={"action": "archive", "ids": ids, "confirmation": "ARCHIVE"})
    assert answer.status_code == 200, answer.text
    assert all(portal.portal.contact(i)["archived"] for i in ids)


def test_a_run_is_audited_with_the_api_token_as_actor_and_can_be_undone(synced, portal):
    ids = _ids(portal, 20, 4)
    before = {i: portal.portal.contact(i)["properties"]["jobtitle"] for i in ids}
    answer = synced.post(
        BULK, json={"action": "set", "ids": ids, "properties": {"jobtitle": "Robot"}}
    )
    assert answer.status_code == 200, answer.text
    op = answer.json()["operation"]
    assert op["status"] == "succeeded" and op["written"] == 4 and op["actor"].startswith("api:")
    assert answer.headers["Location"].endswith(f"/bulk/operations/{op['id']}")

    detail = synced.get(f"{BULK}/operations/{op['id']}").json()
    assert {i["hubspot_id"]: i["before"]["jobtitle"] for i in detail["items"]} == before

    undone = synced.post(f"{BULK}/operations/{op['id']}/undo", json={})
    assert undone.status_code == 200, undone.text
    assert {i: portal.portal.contact(i)["properties"]["jobtitle"] for i in ids} == before
    log = synced.get(f"{BULK}/operations").json()
    assert log[0]["undo_of"] == op["id"]
