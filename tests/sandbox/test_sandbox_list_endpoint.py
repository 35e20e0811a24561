"""`GET /crm/v3/objects/contacts`: paging, properties, archived, shapes."""

from __future__ import annotations

import re

from sandbox_testkit import Api

from hubsync_core.sandbox import Sandbox

ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
DEFAULTS = {"createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"}


def test_paging_returns_every_live_contact_exactly_once_in_id_order(
    shared_api: Api, shared_sandbox: Sandbox
) -> None:
    ids = [c["id"] for c in shared_api.list_all()]
    assert ids == shared_sandbox.portal.live_ids()
    assert len(ids) == len(set(ids))
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)


def test_ids_cross_digit_boundaries_so_string_order_differs_from_numeric(
    shared_sandbox: Sandbox,
) -> None:
    ids = shared_sandbox.portal.live_ids()
    assert len(ids[0]) < len(ids[-1])
    assert sorted(ids) != ids


def test_after_cursor_is_opaque_and_not_the_last_id(shared_api: Api) -> None:
    page = shared_api.get("/crm/v3/objects/contacts", limit=100).json()
    after = page["paging"]["next"]["after"]
    assert not after.isdigit()
    assert after != page["results"][-1]["id"]
    following = shared_api.get("/crm/v3/objects/contacts", limit=100, after=after).json()
    assert int(following["results"][0]["id"]) > int(page["results"][-1]["id"])


def test_only_the_last_page_lacks_paging(shared_api: Api, shared_sandbox: Sandbox) -> None:
    pages = []
    after = None
    while True:
        params = {"limit": 100, **({"after": after} if after else {})}
        page = shared_api.get("/crm/v3/objects/contacts", **params).json()
        pages.append(page)
        if "paging" not in page:
            break
        after = page["paging"]["next"]["after"]
    assert all("paging" in p for p in pages[:-1])
    assert pages[-1]["results"][-1]["id"] == shared_sandbox.portal.live_ids()[-1]


def test_limit_above_100_or_below_1_is_rejected(shared_api: Api) -> None:
    for limit in (101, 0, "x"):
        r = shared_api.get("/crm/v3/objects/contacts", limit=limit)
        assert r.status_code == 400
        body = r.json()
        assert body["status"] == "error" and body["correlationId"]
        assert body["category"] == "VALIDATION_ERROR"


def test_garbage_cursor_is_rejected_with_400(shared_api: Api) -> None:
    r = shared_api.get("/crm/v3/objects/contacts", after="not-a-cursor!")
    assert r.status_code == 400


def test_without_properties_only_the_defaults_come_back(shared_api: Api) -> None:
    page = shared_api.get("/crm/v3/objects/contacts", limit=20).json()
    for contact in page["results"]:
        assert set(contact["properties"]) == DEFAULTS


def test_named_properties_comma_separated_and_repeated_are_all_returned(
    shared_api: Api,
) -> None:
    r = shared_api.session.get(
        shared_api.base + "/crm/v3/objects/contacts",
        params=[("limit", 5), ("properties", "email,company"), ("properties", "phone,no_such")],
    )
    for contact in r.json()["results"]:
        # Unknown names are ignored; HubSpot always adds the three system properties.
        assert set(contact["properties"]) == {
            "email",
            "company",
            "phone",
            "hs_object_id",
            "createdate",
            "lastmodifieddate",
        }
        assert contact["properties"]["hs_object_id"] == contact["id"]


def test_values_are_strings_or_null_and_timestamps_iso_with_ms_and_z(
    shared_api: Api, shared_sandbox: Sandbox
) -> None:
    names = ",".join(shared_sandbox.portal.property_names())
    page = shared_api.get("/crm/v3/objects/contacts", limit=100, properties=names).json()
    nulls = 0
    for contact in page["results"]:
        assert set(contact) == {"id", "properties", "createdAt", "updatedAt", "archived"}
        assert contact["archived"] is False
        assert ISO_MS_Z.match(contact["createdAt"]) and ISO_MS_Z.match(contact["updatedAt"])
        assert contact["properties"]["createdate"] == contact["createdAt"]
        assert contact["properties"]["lastmodifieddate"] == contact["updatedAt"]
        for value in contact["properties"].values():
            assert value is None or isinstance(value, str)
            nulls += value is None
    assert nulls > 0  # requested properties without a value come back as null


def test_archived_true_returns_only_archived_contacts_with_archived_at(
    shared_api: Api, shared_sandbox: Sandbox
) -> None:
    archived = shared_api.list_all(archived="true")
    assert [c["id"] for c in archived] == shared_sandbox.portal.archived_ids()
    assert archived
    for contact in archived:
        assert contact["archived"] is True
        assert ISO_MS_Z.match(contact["archivedAt"])
        assert contact["updatedAt"] == contact["archivedAt"]
    live = set(shared_sandbox.portal.live_ids())
    assert not live & {c["id"] for c in archived}


def test_merged_losers_vanish_and_winners_list_them(
    shared_api: Api, shared_sandbox: Sandbox
) -> None:
    portal = shared_sandbox.portal
    winners = [
        c
        for c in portal.live_contacts(["hs_merged_object_ids"])
        if c["properties"]["hs_merged_object_ids"]
    ]
    assert winners
    known = set(portal.live_ids()) | set(portal.archived_ids())
    for winner in winners:
        for loser in winner["properties"]["hs_merged_object_ids"].split(";"):
            assert loser not in known
            # Reading a merged-away id answers with the winner, as HubSpot does.
            r = shared_api.get(f"/crm/v3/objects/contacts/{loser}")
            assert r.status_code == 200 and r.json()["id"] == winner["id"]


def test_single_contact_read_and_unknown_id_404(shared_api: Api, shared_sandbox: Sandbox) -> None:
    first = shared_sandbox.portal.live_ids()[0]
    r = shared_api.get(f"/crm/v3/objects/contacts/{first}", properties="email")
    assert r.status_code == 200 and r.json()["id"] == first
    missing = shared_api.get("/crm/v3/objects/contacts/999999999")
    assert missing.status_code == 404
    assert missing.json()["correlationId"]
