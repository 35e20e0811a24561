"""Search under an index lag, id-range totals and batch read, as HubSpot answers them."""

from __future__ import annotations

from sandbox_testkit import Api, make_config

from hubsync_core.sandbox import Sandbox


def _total(api: Api, *filters: dict) -> int:
    answer = api.search({"filterGroups": [{"filters": list(filters)}], "limit": 1})
    return int(answer.json()["total"])


def _f(prop: str, op: str, value: object) -> dict:
    return {"propertyName": prop, "operator": op, "value": str(value)}


def test_changes_reach_search_only_after_the_index_lag() -> None:
    moment = [2_000_000_000.0]
    with Sandbox(make_config(contacts=300, index_lag_seconds=60)) as sb:
        api = Api(sb)
        sb.portal.clock = lambda: moment[0]
        target = sb.portal.live_ids()[5]
        before = sb.portal.contact(target)["properties"]["lastmodifieddate"]
        live = _total(api)
        sb.portal.update_contact(target, {"company": "Lagging GmbH"})
        created = sb.portal.create_contact({"email": "late@example.com"})
        recent = _f("lastmodifieddate", "GTE", int(moment[0] * 1000) - 1000)

        moment[0] += 59  # still inside the lag: search shows the contact as it was
        assert _total(api) == live
        assert _total(api, recent) == 0
        same = _f("hs_object_id", "EQ", target)
        page = api.search({"filterGroups": [{"filters": [same]}], "limit": 1}).json()
        assert page["total"] == 1 and before
        assert sb.portal.contact(created) is not None  # read endpoints are not lagged

        moment[0] += 2  # the index caught up
        assert _total(api) == live + 1
        assert _total(api, recent) == 2


def test_id_range_totals_count_sparse_ids_in_half_open_ranges() -> None:
    with Sandbox(make_config(contacts=500)) as sb:
        api = Api(sb)
        ids = [int(i) for i in sb.portal.live_ids()]
        low, high = ids[100], ids[300]
        total = _total(api, _f("hs_object_id", "GTE", low), _f("hs_object_id", "LT", high))
        assert total == 200
        assert _total(api, _f("hs_object_id", "GTE", ids[-1])) == 1


def test_batch_read_answers_207_naming_unknown_ids() -> None:
    with Sandbox(make_config(contacts=100)) as sb:
        api = Api(sb)
        known = sb.portal.live_ids()[:2]
        body = {"inputs": [{"id": i} for i in [*known, "999999999"]], "properties": ["email"]}
        answer = api.post("/crm/v3/objects/contacts/batch/read", body)
        assert answer.status_code == 207
        data = answer.json()
        assert [r["id"] for r in data["results"]] == known
        assert data["errors"][0]["context"]["ids"] == ["999999999"]
        everything = api.post("/crm/v3/objects/contacts/batch/read", {"inputs": [{"id": known[0]}]})
        assert everything.status_code == 200 and everything.json()["status"] == "COMPLETE"
