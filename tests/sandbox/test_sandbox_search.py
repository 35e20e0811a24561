"""`POST /crm/v3/objects/contacts/search`: operators, groups, sorting, paging, the 10k cap."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sandbox_testkit import Api, epoch_ms

from hubsync_core.sandbox import Sandbox

Props = dict[str, Any]


@pytest.fixture(scope="module")
def contacts(shared_sandbox: Sandbox) -> list[dict[str, Any]]:
    return list(shared_sandbox.portal.live_contacts())


def _expect(contacts: list[dict[str, Any]], keep: Callable[[Props], bool]) -> list[str]:
    return [c["id"] for c in contacts if keep(c["properties"])]


def _ids(api: Api, *filters: dict[str, Any]) -> list[str]:
    return [c["id"] for c in api.search_all([{"filters": list(filters)}])]


def _f(prop: str, op: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"propertyName": prop, "operator": op, **extra}
    if value is not None:
        out["value"] = value
    return out


def _num(v: str | None) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except ValueError:
        return None


def test_eq_on_enumeration(shared_api: Api, contacts: list[dict[str, Any]]) -> None:
    got = _ids(shared_api, _f("lifecyclestage", "EQ", "customer"))
    assert got == _expect(contacts, lambda p: p["lifecyclestage"] == "customer")
    assert got


def test_eq_on_strings_ignores_case(shared_api: Api, contacts: list[dict[str, Any]]) -> None:
    got = _ids(shared_api, _f("company", "EQ", "CHAINGE"))
    assert got == _expect(contacts, lambda p: (p["company"] or "").lower() == "chainge")
    assert len({c["properties"]["company"] for c in contacts if c["id"] in got}) > 1


def test_neq_includes_contacts_without_a_value(
    shared_api: Api, contacts: list[dict[str, Any]]
) -> None:
    got = _ids(shared_api, _f("lifecyclestage", "NEQ", "lead"))
    assert got == _expect(contacts, lambda p: p["lifecyclestage"] != "lead")
    assert any(c["properties"]["lifecyclestage"] is None for c in contacts if c["id"] in got)


@pytest.mark.parametrize(
    ("op", "check"),
    [
        ("GT", lambda x, v: x > v),
        ("GTE", lambda x, v: x >= v),
        ("LT", lambda x, v: x < v),
        ("LTE", lambda x, v: x <= v),
    ],
)
def test_range_operators_compare_ids_numerically(
    shared_api: Api, contacts: list[dict[str, Any]], op: str, check: Callable[[int, int], bool]
) -> None:
    pivot = 999  # "1000" < "999" as strings: a lexicographic compare would get this wrong
    got = _ids(shared_api, _f("hs_object_id", op, str(pivot)))
    assert got == _expect(contacts, lambda p: check(int(p["hs_object_id"]), pivot))


def test_number_property_compares_numerically(
    shared_api: Api, contacts: list[dict[str, Any]]
) -> None:
    got = _ids(shared_api, _f("lead_score", "GT", "50"))
    assert got == _expect(contacts, lambda p: (_num(p["lead_score"]) or -1) > 50)
    assert got


def test_dates_filter_as_epoch_milliseconds(
    shared_api: Api, shared_sandbox: Sandbox, contacts: list[dict[str, Any]]
) -> None:
    now = shared_sandbox.portal.now_ms
    since = now - 30 * 86_400_000
    got = _ids(shared_api, _f("lastmodifieddate", "GTE", str(since)))
    assert got == _expect(contacts, lambda p: epoch_ms(p["lastmodifieddate"]) >= since)
    assert 0 < len(got) < len(contacts)


def test_between_is_inclusive_on_both_ends(shared_api: Api, contacts: list[dict[str, Any]]) -> None:
    low, high = epoch_ms(contacts[100]["createdAt"]), epoch_ms(contacts[200]["createdAt"])
    low, high = min(low, high), max(low, high)
    got = _ids(shared_api, _f("createdate", "BETWEEN", str(low), highValue=str(high)))
    assert got == _expect(contacts, lambda p: low <= epoch_ms(p["createdate"]) <= high)
    assert contacts[100]["id"] in got and contacts[200]["id"] in got


def test_in_and_not_in(shared_api: Api, contacts: list[dict[str, Any]]) -> None:
    wanted = {"partner", "customer"}
    got_in = _ids(shared_api, _f("lifecyclestage", "IN", values=sorted(wanted)))
    assert got_in == _expect(contacts, lambda p: p["lifecyclestage"] in wanted)
    got_out = _ids(shared_api, _f("lifecyclestage", "NOT_IN", values=sorted(wanted)))
    assert got_out == _expect(contacts, lambda p: p["lifecyclestage"] not in wanted)


def test_in_values_must_be_lowercase_as_on_hubspot(shared_api: Api) -> None:
    assert _ids(shared_api, _f("company", "IN", values=["CHAINGE"])) == []
    assert _ids(shared_api, _f("company", "IN", values=["chainge"]))


def test_in_on_ids_compares_numbers(shared_api: Api, contacts: list[dict[str, Any]]) -> None:
    some = [contacts[5]["id"], contacts[50]["id"], "123456789"]
    assert _ids(shared_api, _f("hs_object_id", "IN", values=some)) == some[:2]


def test_contains_token_with_wildcards_matches_inside_words(
    shared_api: Api, contacts: list[dict[str, Any]]
) -> None:
    got = _ids(shared_api, _f("company", "CONTAINS_TOKEN", "*chainge*"))
    assert got == _expect(contacts, lambda p: "chainge" in (p["company"] or "").lower())
    assert len(got) > 0.04 * len(contacts)


def test_contains_token_without_wildcards_matches_whole_words(
    shared_api: Api, contacts: list[dict[str, Any]]
) -> None:
    got = _ids(shared_api, _f("company", "CONTAINS_TOKEN", "labs"))
    assert got == _expect(
        contacts, lambda p: "labs" in (p["company"] or "").lower().replace(",", " ").split()
    )
    assert got
    assert _ids(shared_api, _f("company", "CONTAINS_TOKEN", "lab")) == []


def test_not_contains_token(shared_api: Api, contacts: list[dict[str, Any]]) -> None:
    got = _ids(shared_api, _f("company", "NOT_CONTAINS_TOKEN", "*chainge*"))
    assert got == _expect(contacts, lambda p: "chainge" not in (p["company"] or "").lower())


def test_has_property_and_not_has_property(shared_api: Api, contacts: list[dict[str, Any]]) -> None:
    has = _ids(shared_api, _f("email", "HAS_PROPERTY"))
    lacks = _ids(shared_api, _f("email", "NOT_HAS_PROPERTY"))
    assert has == _expect(contacts, lambda p: bool(p["email"]))
    assert lacks == _expect(contacts, lambda p: not p["email"])
    assert 0.02 < len(lacks) / len(contacts) < 0.08  # about 5% have no email


def test_email_lookup_is_exact_and_case_insensitive(
    shared_api: Api, contacts: list[dict[str, Any]]
) -> None:
    target = next(c for c in contacts[1000:] if c["properties"]["email"])
    email = target["properties"]["email"]
    assert _ids(shared_api, _f("email", "EQ", email.upper())) == [target["id"]]
    assert _ids(shared_api, _f("email", "IN", values=[email.lower(), "x@y.z"])) == [target["id"]]


def test_filters_and_within_a_group_and_groups_or(
    shared_api: Api, contacts: list[dict[str, Any]]
) -> None:
    groups = [
        {
            "filters": [
                _f("lifecyclestage", "EQ", "customer"),
                _f("region", "EQ", "EMEA"),
            ]
        },
        {"filters": [_f("lifecyclestage", "EQ", "partner")]},
    ]
    got = [c["id"] for c in shared_api.search_all(groups)]
    assert got == _expect(
        contacts,
        lambda p: (
            (p["lifecyclestage"] == "customer" and p["region"] == "EMEA")
            or p["lifecyclestage"] == "partner"
        ),
    )


def test_sort_by_date_descending(shared_api: Api) -> None:
    results = shared_api.search_all(
        [{"filters": [_f("lifecyclestage", "EQ", "lead")]}],
        sorts=[{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}],
        properties=["lastmodifieddate"],
    )
    stamps = [epoch_ms(c["properties"]["lastmodifieddate"]) for c in results]
    assert stamps == sorted(stamps, reverse=True)


def test_sort_by_string_ascending_puts_missing_values_last(shared_api: Api) -> None:
    results = shared_api.search_all(
        [{"filters": [_f("lifecyclestage", "EQ", "customer")]}],
        sorts=[{"propertyName": "company", "direction": "ASCENDING"}],
        properties=["company"],
    )
    values = [c["properties"]["company"] for c in results]
    present = [v for v in values if v is not None]
    assert present == sorted(present, key=str.lower)
    assert values[len(present) :] == [None] * (len(values) - len(present))


def test_sort_by_id_descending(shared_api: Api, contacts: list[dict[str, Any]]) -> None:
    page = shared_api.search(
        {"sorts": [{"propertyName": "hs_object_id", "direction": "DESCENDING"}], "limit": 3}
    ).json()
    assert [c["id"] for c in page["results"]] == [c["id"] for c in contacts[-1:-4:-1]]


def test_paging_reports_total_and_numeric_after(
    shared_api: Api, contacts: list[dict[str, Any]]
) -> None:
    first = shared_api.search({"limit": 200}).json()
    assert first["total"] == len(contacts)
    assert first["paging"]["next"]["after"] == "200"
    everything = shared_api.search_all([])
    assert [c["id"] for c in everything] == [c["id"] for c in contacts]


def test_search_defaults_to_the_default_properties(shared_api: Api) -> None:
    page = shared_api.search({"limit": 5}).json()
    assert set(page["results"][0]["properties"]) == {
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    }


@pytest.mark.parametrize(
    "body",
    [
        {"limit": 201},
        {"limit": 0},
        {"after": "abc"},
        {"filterGroups": [{"filters": [_f("email", "SOUNDS_LIKE", "x")]}]},
        {"filterGroups": [{"filters": [_f("email", "EQ")]}]},
        {"filterGroups": [{"filters": [_f("createdate", "GT", "yesterday")]}]},
        {"filterGroups": [{"filters": [_f("hs_object_id", "BETWEEN", "1")]}]},
        {"filterGroups": [{"filters": []}] * 6},
        {"filterGroups": [{"filters": [_f("email", "HAS_PROPERTY")] * 7}]},
        {"sorts": [{"propertyName": "email"}, {"propertyName": "phone"}]},
    ],
)
def test_invalid_search_bodies_are_rejected_with_400(shared_api: Api, body: dict[str, Any]) -> None:
    r = shared_api.search(body)
    assert r.status_code == 400
    err = r.json()
    assert err["status"] == "error" and err["category"] == "VALIDATION_ERROR"
    assert err["correlationId"]


def test_paging_past_ten_thousand_results_is_a_400(make_sandbox: Any, api_for: Any) -> None:
    api = api_for(make_sandbox(contacts=10_600))
    page = api.search({"limit": 100, "after": "9900"}).json()
    assert page["total"] > 10_000
    assert len(page["results"]) == 100
    assert page["paging"]["next"]["after"] == "10000"
    r = api.search({"limit": 100, "after": "10000"})
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == "error" and body["correlationId"]
    assert "10000" in body["message"]


def test_search_never_returns_archived_contacts(api: Api, sandbox: Sandbox) -> None:
    archived = set(sandbox.portal.archived_ids())
    assert archived
    victim = sandbox.portal.live_ids()[10]
    sandbox.portal.archive_contact(victim)
    found = {c["id"] for c in api.search_all([])}
    assert not found & (archived | {victim})
    assert _ids(api, _f("hs_object_id", "EQ", victim)) == []


def test_search_has_its_own_per_second_limit(make_sandbox: Any, api_for: Any) -> None:
    sandbox = make_sandbox(search_rate_limit=2, rate_limit=100)
    api = api_for(sandbox)
    statuses = [api.search({"limit": 1}).status_code for _ in range(6)]
    assert 429 in statuses
    limited = next(r for r in (api.search({"limit": 1}) for _ in range(6)) if r.status_code == 429)
    body = limited.json()
    assert body["policyName"] == "SECONDLY" and body["errorType"] == "RATE_LIMIT"
    assert body["correlationId"]
    # Searches did not spend the 10-second burst budget (the default setting).
    listed = api.get("/crm/v3/objects/contacts", limit=1)
    assert listed.headers["X-HubSpot-RateLimit-Remaining"] == "99"


def test_search_answers_carry_no_rate_limit_headers(shared_api: Api) -> None:
    r = shared_api.search({"limit": 1})
    assert not [h for h in r.headers if h.lower().startswith("x-hubspot-ratelimit")]


def test_searches_can_count_toward_the_burst(make_sandbox: Any, api_for: Any) -> None:
    api = api_for(make_sandbox(rate_limit=10, search_counts_toward_burst=True))
    for _ in range(3):
        assert api.search({"limit": 1}).status_code == 200
    listed = api.get("/crm/v3/objects/contacts", limit=1)
    assert listed.headers["X-HubSpot-RateLimit-Remaining"] == "6"


def test_free_text_query_matches_name_prefixes(
    shared_api: Api, contacts: list[dict[str, Any]]
) -> None:
    target = next(c for c in contacts if (c["properties"]["lastname"] or "") == "Müller")
    got = shared_api.search({"query": "müll", "limit": 200}).json()
    assert target["id"] in {c["id"] for c in got["results"]}
