"""Mutations from Python and over the admin path; each bumps the modification time."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
import requests
from sandbox_testkit import Api, epoch_ms

from hubsync_core.sandbox import Sandbox

CONTACTS = "/crm/v3/objects/contacts"


def _read(api: Api, contact_id: str, props: str = "email,company,lastmodifieddate") -> Any:
    r = api.get(f"{CONTACTS}/{contact_id}", properties=props)
    assert r.status_code == 200, r.text
    return r.json()


def test_create_contact_appears_everywhere_with_a_higher_id(api: Api, sandbox: Sandbox) -> None:
    before = sandbox.portal.live_ids()
    new_id = sandbox.portal.create_contact(
        {"email": "new@chainge.io", "company": "CHAINge", "lead_score": 77}
    )
    assert int(new_id) > max(int(i) for i in before)
    assert sandbox.portal.live_ids() == [*before, new_id]
    contact = _read(api, new_id, "email,company,lead_score,phone")
    assert contact["properties"]["email"] == "new@chainge.io"
    assert contact["properties"]["lead_score"] == "77"
    assert contact["properties"]["phone"] is None
    assert contact["createdAt"] == contact["updatedAt"]
    listed = api.list_all(properties="email")
    assert listed[-1]["id"] == new_id
    found = api.search_all(
        [{"filters": [{"propertyName": "company", "operator": "EQ", "value": "chainge"}]}]
    )
    assert new_id in {c["id"] for c in found}
    hits = api.search_all(
        [{"filters": [{"propertyName": "lead_score", "operator": "GTE", "value": "77"}]}]
    )
    assert new_id in {c["id"] for c in hits}


def test_create_rejects_unknown_and_read_only_properties(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError):
        sandbox.portal.create_contact({"favourite_colour": "blue"})
    with pytest.raises(ValueError):
        sandbox.portal.create_contact({"hs_object_id": "5"})


def test_update_changes_values_and_bumps_modification_time(api: Api, sandbox: Sandbox) -> None:
    target = sandbox.portal.live_ids()[42]
    old = _read(api, target)
    sandbox.portal.update_contact(target, {"company": "Brand New GmbH"})
    new = _read(api, target)
    assert new["properties"]["company"] == "Brand New GmbH"
    assert epoch_ms(new["updatedAt"]) > epoch_ms(old["updatedAt"])
    assert new["properties"]["lastmodifieddate"] == new["updatedAt"]
    assert new["createdAt"] == old["createdAt"]
    found = api.search_all(
        [{"filters": [{"propertyName": "company", "operator": "CONTAINS_TOKEN", "value": "brand"}]}]
    )
    assert [c["id"] for c in found] == [target]


def test_update_to_null_clears_a_value(api: Api, sandbox: Sandbox) -> None:
    target = next(
        c["id"] for c in sandbox.portal.live_contacts(["email"]) if c["properties"]["email"]
    )
    sandbox.portal.update_contact(target, {"email": None})
    assert _read(api, target)["properties"]["email"] is None
    lacking = api.search_all(
        [{"filters": [{"propertyName": "email", "operator": "NOT_HAS_PROPERTY"}]}]
    )
    assert target in {c["id"] for c in lacking}


def test_archive_moves_a_contact_to_the_archived_listing(api: Api, sandbox: Sandbox) -> None:
    target = sandbox.portal.live_ids()[7]
    old = _read(api, target)
    sandbox.portal.archive_contact(target)
    assert target not in sandbox.portal.live_ids()
    assert target in sandbox.portal.archived_ids()
    archived = {c["id"]: c for c in api.list_all(archived="true")}
    assert archived[target]["archived"] is True
    assert epoch_ms(archived[target]["archivedAt"]) > epoch_ms(old["updatedAt"])
    assert target not in {c["id"] for c in api.list_all()}
    with pytest.raises(KeyError):
        sandbox.portal.update_contact(target, {"company": "x"})


def test_merge_makes_the_loser_vanish_and_lists_it_on_the_winner(
    api: Api, sandbox: Sandbox
) -> None:
    live = sandbox.portal.live_ids()
    winner, loser, second = live[100], live[101], live[102]
    old = _read(api, winner)
    sandbox.portal.merge_contacts(winner, loser)
    sandbox.portal.merge_contacts(winner, second)
    assert loser not in sandbox.portal.live_ids()
    assert loser not in sandbox.portal.archived_ids()
    merged = _read(api, winner, "hs_merged_object_ids")
    assert merged["properties"]["hs_merged_object_ids"].split(";")[-2:] == [loser, second]
    assert epoch_ms(merged["updatedAt"]) > epoch_ms(old["updatedAt"])
    assert _read(api, loser)["id"] == winner  # a merged id resolves to the winner
    assert loser not in {c["id"] for c in api.search_all([])}


def test_merge_fills_the_winners_empty_properties_from_the_loser(sandbox: Sandbox) -> None:
    live = sandbox.portal.live_ids()
    winner, loser = live[200], live[201]
    sandbox.portal.update_contact(winner, {"jobtitle": None})
    sandbox.portal.update_contact(loser, {"jobtitle": "Chief Merger Officer"})
    sandbox.portal.merge_contacts(winner, loser)
    contact = sandbox.portal.contact(winner)
    assert contact is not None
    assert contact["properties"]["jobtitle"] == "Chief Merger Officer"


def test_set_modified_gives_many_contacts_one_identical_time(api: Api, sandbox: Sandbox) -> None:
    ids = sandbox.portal.live_ids()[500:800]
    when = dt.datetime(2026, 9, 1, 12, 0, 0, 123000)
    assert sandbox.portal.set_modified(ids, when) == 300
    ms = int(when.replace(tzinfo=dt.UTC).timestamp() * 1000)
    found = api.search_all(
        [{"filters": [{"propertyName": "lastmodifieddate", "operator": "EQ", "value": str(ms)}]}],
        sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
    )
    assert [c["id"] for c in found] == ids
    assert {c["updatedAt"] for c in found} == {"2026-09-01T12:00:00.123Z"}


def test_list_membership_mutations(api: Api, sandbox: Sandbox) -> None:
    live = sandbox.portal.live_ids()
    outsiders = [i for i in live if i not in set(sandbox.portal.list_member_ids("12"))][:3]
    assert sandbox.portal.add_to_list("12", outsiders) == 3
    assert set(outsiders) <= set(sandbox.portal.list_member_ids("12"))
    listed = api.get(f"/crm/v3/lists/records/0-1/{outsiders[0]}/memberships").json()
    assert "12" in {m["listId"] for m in listed["results"]}
    assert sandbox.portal.remove_from_list("12", outsiders[:2]) == 2
    members = set(sandbox.portal.list_member_ids("12"))
    assert outsiders[2] in members and outsiders[0] not in members


def test_archived_members_drop_out_of_lists(sandbox: Sandbox) -> None:
    member = sandbox.portal.list_member_ids("15")[0]
    sandbox.portal.archive_contact(member)
    assert member not in sandbox.portal.list_member_ids("15")


def test_concurrent_creates_get_distinct_ids(sandbox: Sandbox) -> None:
    made: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        for i in range(50):
            new = sandbox.portal.create_contact({"firstname": f"T{i}"})
            with lock:
                made.append(new)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(made)) == 200
    assert set(made) <= set(sandbox.portal.live_ids())


def test_admin_path_mutates_without_a_token(sandbox: Sandbox) -> None:
    base = sandbox.base_url + "/_sandbox"
    r = requests.post(base + "/contacts", json={"properties": {"email": "a@b.io"}}, timeout=10)
    assert r.status_code == 201
    new_id = r.json()["id"]
    r = requests.patch(
        f"{base}/contacts/{new_id}", json={"properties": {"company": "Admin Co"}}, timeout=10
    )
    assert r.status_code == 200 and r.json()["properties"]["company"] == "Admin Co"
    other = sandbox.portal.live_ids()[3]
    r = requests.post(base + "/merge", json={"winnerId": new_id, "loserId": other}, timeout=10)
    assert r.json()["properties"]["hs_merged_object_ids"] == other
    r = requests.post(
        base + "/set-modified",
        json={"ids": [new_id], "when": "2026-01-01T00:00:00Z"},
        timeout=10,
    )
    assert r.json() == {"updated": 1}
    assert sandbox.portal.contact(new_id)["updatedAt"] == "2026-01-01T00:00:00.000Z"  # type: ignore[index]
    r = requests.post(f"{base}/contacts/{new_id}/archive", timeout=10)
    assert r.json()["archived"] is True
    assert (
        requests.post(
            f"{base}/lists/15/add", json={"ids": [sandbox.portal.live_ids()[0]]}, timeout=10
        ).status_code
        == 200
    )
    assert requests.get(f"{base}/contacts/999999999", timeout=10).status_code == 404
    assert (
        requests.post(base + "/contacts", json={"properties": {"nope": 1}}, timeout=10).status_code
        == 400
    )
    stats = requests.get(base + "/stats", timeout=10).json()
    assert set(stats) >= {"requests", "searchRequests", "rateLimited", "faultsInjected"}


def test_admin_path_controls_faults_and_token(api: Api, sandbox: Sandbox) -> None:
    base = sandbox.base_url + "/_sandbox"

    def admin(path: str, body: dict[str, Any] | None = None) -> None:
        assert requests.post(base + path, json=body or {}, timeout=10).status_code == 200

    admin("/fail-next", {"kind": "502", "count": 1})
    assert api.get(CONTACTS).status_code == 502
    admin("/token/revoke")
    assert api.get(CONTACTS).status_code == 401
    admin("/token/restore")
    admin("/faults", {"rate": 1.0, "kinds": ["503"]})
    assert api.get(CONTACTS).status_code == 503
    admin("/faults", {"rate": 0})
    assert api.get(CONTACTS).status_code == 200
    assert requests.post(base + "/no-such-thing", timeout=10).status_code == 404
