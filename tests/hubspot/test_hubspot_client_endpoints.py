"""Search, properties, lists, account details, counters, threads and the client's lifecycle."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import requests
import responses
from hubspot_fakes import BASE, CONTACTS_URL, PATHS, SEARCH_URL, TOKEN, contact, results_page

from hubsync_core.config import Secret, Settings, SettingsError
from hubsync_core.hubspot import (
    AccountDetails,
    ApiVersionError,
    BadRequestError,
    ClientCounters,
    HubSpotClient,
    ListInfo,
    PropertyDefinition,
    RateLimitStatus,
    endpoints,
)

RATE_HEADERS = {
    "X-HubSpot-RateLimit-Max": "190",
    "X-HubSpot-RateLimit-Remaining": "180",
    "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
    "X-HubSpot-RateLimit-Daily": "625000",
    "X-HubSpot-RateLimit-Daily-Remaining": "600000",
}


def test_search_contacts_posts_filters_sorts_properties_and_paging(
    client: HubSpotClient, mocked
) -> None:
    mocked.add(
        responses.POST,
        SEARCH_URL,
        json={
            "total": 4321,
            "results": [contact(11, email="x@y.z"), contact(12)],
            "paging": {"next": {"after": "200"}},
        },
    )
    filters = [{"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": "10"}]}]
    sorts = [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]

    result = client.search_contacts(filters, ["email", "lastmodifieddate"], sorts, 200, "0")

    sent = json.loads(mocked.calls[0].request.body)
    assert sent == {
        "filterGroups": filters,
        "properties": ["email", "lastmodifieddate"],
        "sorts": sorts,
        "limit": 200,
        "after": "0",
    }
    assert result.total == 4321
    assert [c.id for c in result.contacts] == ["11", "12"]
    assert result.contacts[0].properties["email"] == "x@y.z"
    assert result.next_after == "200"


@pytest.mark.parametrize("limit", [0, 201])
def test_search_contacts_validates_limit(client: HubSpotClient, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        client.search_contacts([], ["email"], limit=limit)


def test_get_properties_parses_definitions_and_skips_nameless_ones(
    client: HubSpotClient, mocked
) -> None:
    mocked.add(
        responses.GET,
        BASE + PATHS.contact_properties,
        json={
            "results": [
                {
                    "name": "lifecyclestage",
                    "label": "Lifecycle Stage",
                    "type": "enumeration",
                    "fieldType": "select",
                    "groupName": "contactinformation",
                    "options": [{"label": "Lead", "value": "lead"}, {"label": "?"}],
                },
                {"name": "email"},
                {"label": "no name"},
            ]
        },
    )

    assert client.get_properties() == [
        PropertyDefinition(
            "lifecyclestage", "Lifecycle Stage", "enumeration", "select", "contactinformation",
            ("lead",),
        ),
        PropertyDefinition("email", "email", "string"),
    ]  # fmt: skip


def test_search_lists_and_get_list(client: HubSpotClient, mocked) -> None:
    mocked.add(
        responses.POST,
        BASE + PATHS.lists_search,
        json={
            "lists": [
                {
                    "listId": 42,
                    "name": "Chainge",
                    "processingType": "MANUAL",
                    "additionalProperties": {"hs_list_size": "17"},
                },
                {"name": "no id"},
            ],
            "hasMore": True,
            "offset": 1,
            "total": 3,
        },
    )
    mocked.add(
        responses.GET,
        BASE + PATHS.list_by_id("42"),
        json={"list": {"listId": "42", "name": "Chainge", "size": 17}},
    )

    found = client.search_lists("chainge", count=1)
    one = client.get_list("42")

    assert json.loads(mocked.calls[0].request.body) == {
        "query": "chainge",
        "count": 1,
        "offset": 0,
    }
    assert found.lists == [ListInfo("42", "Chainge", 17, "MANUAL")]
    assert (found.has_more, found.offset, found.total) == (True, 1, 3)
    assert one == ListInfo("42", "Chainge", 17, None)


def test_list_memberships_pages_record_ids(client: HubSpotClient, mocked) -> None:
    url = BASE + PATHS.list_memberships("42")
    mocked.add(
        responses.GET,
        url,
        json={
            "results": [{"recordId": "1", "membershipTimestamp": "2026-01-01T00:00:00Z"}, 2, {}],
            "paging": {"next": {"after": "AoJ"}},
        },
    )
    mocked.add(responses.GET, url, json={"results": [{"recordId": 3}]})

    first = client.list_memberships("42")
    second = client.list_memberships("42", after=first.next_after, limit=100)

    assert (first.record_ids, first.next_after) == (["1", "2"], "AoJ")
    assert (second.record_ids, second.next_after) == (["3"], None)
    assert "after=AoJ" in mocked.calls[1].request.url
    assert "limit=100" in mocked.calls[1].request.url
    with pytest.raises(ValueError):
        client.list_memberships("42", limit=251)


def test_contact_list_ids_follows_every_page(client: HubSpotClient, mocked) -> None:
    url = BASE + PATHS.contact_list_memberships("77")
    mocked.add(
        responses.GET,
        url,
        json={"results": [{"listId": "5"}, {"listId": 6}], "paging": {"next": {"after": "x"}}},
    )
    mocked.add(responses.GET, url, json={"results": [{"listId": "9"}, {"listId": "5"}]})

    assert client.contact_list_ids("77") == ["5", "6", "9"]
    assert len(mocked.calls) == 2


def test_ids_are_quoted_into_paths() -> None:
    v3 = endpoints.for_version("v3")
    assert v3.list_by_id("../../x") == "/crm/v3/lists/..%2F..%2Fx"
    assert v3.contact_list_memberships("7 8") == "/crm/v3/lists/records/0-1/7%208/memberships"
    assert endpoints.DEFAULT.contact("../1") == "/crm/objects/2026-03/contacts/..%2F1"
    with pytest.raises(ValueError):
        v3.list_memberships(" ")


def test_account_details_include_the_rate_limit_status(client: HubSpotClient, mocked) -> None:
    mocked.add(
        responses.GET,
        BASE + "/account-info/v3/details",
        json={
            "portalId": 123456,
            "timeZone": "Europe/Berlin",
            "dataHostingLocation": "eu1",
            "accountType": "STANDARD",
            "companyCurrency": "EUR",
        },
        headers=RATE_HEADERS,
    )

    details = client.account_details()

    expected_limits = RateLimitStatus(190, 180, 10_000, 625_000, 600_000)
    assert details == AccountDetails("123456", "Europe/Berlin", "eu1", "STANDARD", expected_limits)
    assert client.rate_limit == expected_limits
    assert client.limiter.burst_limit[0] >= 171  # learnt the Professional burst limit


def test_rate_limit_keeps_the_last_headers_seen(client: HubSpotClient, mocked) -> None:
    mocked.add(responses.GET, CONTACTS_URL, json=results_page([]), headers=RATE_HEADERS)
    mocked.add(responses.GET, CONTACTS_URL, json=results_page([]))  # no headers (like search)

    assert client.rate_limit == RateLimitStatus()
    client.list_contacts(["email"])
    client.list_contacts(["email"])

    assert client.rate_limit.remaining == 180


def test_counters_are_a_frozen_snapshot(client: HubSpotClient, mocked) -> None:
    mocked.add(responses.GET, CONTACTS_URL, status=500)
    mocked.add(responses.GET, CONTACTS_URL, json=results_page([contact(1)]))

    before = client.counters()
    client.list_contacts(["email"])
    after = client.counters()

    assert before == ClientCounters()
    assert (after.api_calls, after.retries, after.rate_limited, after.errors) == (2, 1, 0, 0)
    with pytest.raises(AttributeError):
        after.api_calls = 0  # type: ignore[misc]


def test_parallel_callers_share_the_client_and_counters_stay_true(make_client, mocked) -> None:
    recorded: list[float] = []
    client = make_client(sleep=recorded.append, clock=lambda: 0.0)
    mocked.add(responses.GET, CONTACTS_URL, json=results_page([contact(1)], after="2"))
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(25):
                assert client.list_contacts(["email"]).next_after == "2"
        except BaseException as exc:  # surfaced by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert client.counters().api_calls == 100
    assert len(mocked.calls) == 100
    assert len(recorded) == 100 - client.limiter.burst_limit[0]  # the rest waited their turn


def test_from_settings_uses_token_base_url_and_retry_settings(mocked) -> None:
    settings = Settings(access_token=Secret(TOKEN), base_url=BASE, max_retries=0, read_timeout=9.0)
    mocked.add(responses.GET, CONTACTS_URL, status=500)

    with HubSpotClient.from_settings(settings, sleep=lambda s: None) as client:
        assert client.base_url == BASE
        with pytest.raises(Exception, match="failed after 0 retries"):
            client.list_contacts(["email"])
    assert mocked.calls[0].request.req_kwargs["timeout"] == (5.0, 9.0)


def test_from_settings_without_a_token_names_the_setting() -> None:
    with pytest.raises(SettingsError, match="HUBSPOT_ACCESS_TOKEN"):
        HubSpotClient.from_settings(Settings(data_dir=Path("/tmp/unused")))


def test_token_must_be_a_secret() -> None:
    with pytest.raises(TypeError):
        HubSpotClient(TOKEN, BASE)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        HubSpotClient(Secret(""), BASE)


def test_close_leaves_an_injected_session_open(mocked) -> None:
    session = requests.Session()
    with HubSpotClient(Secret(TOKEN), BASE, session=session):
        pass
    mocked.add(responses.GET, CONTACTS_URL, json=results_page([]))
    assert session.get(CONTACTS_URL).status_code == 200
    session.close()


def test_get_list_without_a_list_is_a_bad_request(client: HubSpotClient, mocked) -> None:
    mocked.add(responses.GET, BASE + PATHS.list_by_id("9"), json={"list": {"name": "no id"}})

    with pytest.raises(BadRequestError):
        client.get_list("9")


def test_hubspot_record_url_points_at_the_contact() -> None:
    assert (
        endpoints.hubspot_record_url(123, "45")
        == "https://app.hubspot.com/contacts/123/record/0-1/45"
    )


@pytest.mark.parametrize("version", endpoints.API_VERSIONS)
def test_each_api_version_picks_its_path_family(make_client, mocked, version) -> None:
    paths = endpoints.for_version(version)
    family = "/crm/v3/" if version == "v3" else f"/crm/objects/{version}/"
    assert paths.contacts.startswith(family)
    mocked.add(responses.GET, BASE + paths.contacts, json=results_page([contact(1)]))
    mocked.add(responses.POST, BASE + paths.contacts_search, json={"results": [], "total": 0})
    mocked.add(responses.GET, BASE + paths.contact_properties, json={"results": []})
    mocked.add(responses.POST, BASE + paths.lists_search, json={"lists": [], "hasMore": False})
    client = make_client(api_version=version)
    assert [c.id for c in client.list_contacts(["email"]).contacts] == ["1"]
    assert client.search_contacts([], ["email"]).total == 0
    assert client.get_properties() == []
    assert client.search_lists().lists == []
    assert {call.request.url.split("?")[0] for call in mocked.calls} == {
        BASE + paths.contacts,
        BASE + paths.contacts_search,
        BASE + paths.contact_properties,
        BASE + paths.lists_search,
    }


def test_a_retired_version_answers_404_and_the_error_names_the_setting(make_client, mocked) -> None:
    v3 = endpoints.for_version("v3")
    mocked.add(responses.GET, BASE + v3.contacts, status=404, json={"message": "Not found"})
    with pytest.raises(ApiVersionError) as caught:
        make_client(api_version="v3").list_contacts(["email"])
    assert "HUBSPOT_API_VERSION" in caught.value.message
    assert "HUBSPOT_API_VERSION" in caught.value.hint


def test_a_missing_list_is_a_404_not_a_version_problem(make_client, mocked) -> None:
    mocked.add(responses.GET, BASE + PATHS.list_by_id("404"), status=404, json={})
    with pytest.raises(BadRequestError) as caught:
        make_client().get_list("404")
    assert not isinstance(caught.value, ApiVersionError)


def test_unknown_api_version_setting_is_refused() -> None:
    with pytest.raises(SettingsError, match="HUBSPOT_API_VERSION"):
        Settings.load({"HUBSPOT_API_VERSION": "v4"}, dotenv_path=None, secrets_path=None)
