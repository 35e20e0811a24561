"""Listing contacts: paging, the properties requested, chunking long lists, tolerant parsing."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from hubspot_fakes import BASE, CONTACTS_URL, TOKEN, contact, results_page

from hubsync_core.hubspot import ContactRecord, HubSpotClient

PROPS = ["email", "firstname", "lastname", "company", "lifecyclestage", "lastmodifieddate"]


def query(call: responses.Call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def test_list_contacts_loop_walks_every_page_with_the_after_cursor(
    client: HubSpotClient, mocked: responses.RequestsMock
) -> None:
    pages = 7
    for number in range(pages):
        ids = range(number * 100 + 1, number * 100 + 101)
        after = str(number * 100 + 101) if number < pages - 1 else None
        mocked.add(responses.GET, CONTACTS_URL, json=results_page([contact(i) for i in ids], after))

    seen: list[str] = []
    afters: list[str | None] = []
    after: str | None = None
    while True:
        result = client.list_contacts(PROPS, after=after)
        afters.append(after)
        seen += [c.id for c in result.contacts]
        if result.next_after is None:
            break
        after = result.next_after

    assert seen == [str(i) for i in range(1, pages * 100 + 1)]
    assert afters == [None, *[str(n * 100 + 1) for n in range(1, pages)]]
    sent = [query(call).get("after") for call in mocked.calls]
    assert sent == [None, *[[str(n * 100 + 1)] for n in range(1, pages)]]
    assert client.counters().api_calls == pages


def test_list_contacts_names_every_property_limit_and_archived(
    client: HubSpotClient, mocked: responses.RequestsMock
) -> None:
    mocked.add(responses.GET, CONTACTS_URL, json=results_page([contact(1, email="a@x.io")]))

    result = client.list_contacts(PROPS, limit=50, archived=True)

    params = query(mocked.calls[0])
    assert params["properties"] == [",".join(PROPS)]
    assert params["limit"] == ["50"]
    assert params["archived"] == ["true"]
    assert "after" not in params
    assert result.contacts[0].properties["email"] == "a@x.io"
    assert result.next_after is None


def test_list_contacts_sends_bearer_token_user_agent_and_timeouts(
    make_client, mocked: responses.RequestsMock
) -> None:
    client = make_client(connect_timeout=2.5, read_timeout=11.0)
    mocked.add(responses.GET, CONTACTS_URL, json=results_page([]))

    client.list_contacts(["email"])

    request = mocked.calls[0].request
    assert request.headers["Authorization"].startswith("Bearer pat-na1-")
    assert request.headers["User-Agent"].startswith("hubsync/")
    assert request.req_kwargs["timeout"] == (2.5, 11.0)


@pytest.mark.parametrize(
    ("env", "proxy"),
    [
        ({"HTTPS_PROXY": "http://proxy.example:3128"}, "http://proxy.example:3128"),
        ({"HTTPS_PROXY": "http://proxy.example:3128", "NO_PROXY": "api.hubapi.test"}, None),
        ({}, None),
    ],
)
def test_proxy_and_ca_bundle_settings_come_from_the_environment_when_the_client_is_built(
    make_client, mocked: responses.RequestsMock, monkeypatch, env, proxy
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corporate.pem")
    client = make_client()
    mocked.add(responses.GET, CONTACTS_URL, json=results_page([]))

    client.list_contacts(["email"])

    sent = mocked.calls[0].request.req_kwargs
    assert sent["proxies"].get("https") == proxy
    assert sent["verify"] == "/etc/ssl/corporate.pem"


@pytest.mark.parametrize(
    ("body", "charset"),
    [
        (b'{"results": [], "x": NaN, "y": -Infinity}', None),
        (b'{"results": [], "x": 123456789012345678901234567890}', None),
        (b'{"results": [], "x": -18446744073709551616, "y": 18446744073709551615}', None),
        (b'{"results": [], "x": "\\ud800 lone surrogate"}', "utf-8"),
        ('{"results": [], "x": "Li\u00e8ge"}'.encode("latin-1"), "ISO-8859-1"),
        ('{"results": [], "x": "Li\u00e8ge \U0001f600"}'.encode(), "utf-8"),
    ],
)
def test_json_bodies_decode_exactly_as_the_standard_library_reads_them(
    client: HubSpotClient, mocked: responses.RequestsMock, body: bytes, charset: str | None
) -> None:
    content_type = "application/json" + (f";charset={charset}" if charset else "")
    mocked.add(responses.GET, BASE + "/anything", body=body, content_type=content_type)

    data = client._request("GET", "/anything")

    reference = json.loads(body.decode(charset or "utf-8"))
    assert repr(data) == repr(reference)  # types too: big integers stay exact integers


def test_a_netrc_entry_never_replaces_the_bearer_token(
    client: HubSpotClient, mocked: responses.RequestsMock, tmp_path, monkeypatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.hubapi.test login someone password other\n")
    monkeypatch.setenv("NETRC", str(netrc))
    mocked.add(responses.GET, CONTACTS_URL, json=results_page([]))

    client.list_contacts(["email"])

    assert mocked.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("limit", [0, 101, -1])
def test_list_contacts_rejects_a_limit_outside_1_to_100(client: HubSpotClient, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        client.list_contacts(PROPS, limit=limit)


def test_long_property_list_is_split_under_the_url_limit_and_merged_by_id(
    client: HubSpotClient, mocked: responses.RequestsMock
) -> None:
    names = [f"custom_property_number_{i:04d}" for i in range(900)]  # ~27k characters

    def answer(request):
        requested = parse_qs(urlsplit(request.url).query)["properties"][0].split(",")
        rows = [{"id": str(i), "properties": {n: f"{n}-{i}" for n in requested}} for i in (5, 6, 7)]
        after = "8" if requested[0] == names[0] else "should-be-ignored"
        return 200, {}, responses.json_module.dumps(results_page(rows, after))

    mocked.add_callback(responses.GET, CONTACTS_URL, callback=answer)

    result = client.list_contacts(names, after="5", limit=3)

    calls = mocked.calls
    assert len(calls) >= 4
    for call in calls:
        assert len(call.request.url) <= 8_000
        params = query(call)
        assert params["after"] == ["5"]
        assert params["limit"] == ["3"]
    requested = [n for call in calls for n in query(call)["properties"][0].split(",")]
    assert requested == names  # each name asked once, in order
    assert [c.id for c in result.contacts] == ["5", "6", "7"]
    for record in result.contacts:
        assert record.properties == {n: f"{n}-{record.id}" for n in names}
    assert result.next_after == "8"


def test_duplicate_and_blank_property_names_are_requested_once(
    client: HubSpotClient, mocked: responses.RequestsMock
) -> None:
    mocked.add(responses.GET, CONTACTS_URL, json=results_page([]))

    client.list_contacts(["email", " email ", "", "company"])

    assert query(mocked.calls[0])["properties"] == ["email,company"]


def test_parsing_tolerates_missing_and_unexpected_fields(
    client: HubSpotClient, mocked: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    body = {
        "results": [
            {"id": "1"},  # no properties, no dates
            {"id": 2, "properties": {"n": 5, "b": True, "x": None, "d": {"a": 1}}, "extra": 1},
            {"properties": {"email": "no-id@x.io"}},  # no id: kept for the sync to refuse
            {"id": "", "properties": {}},  # blank id: likewise
            "not an object",  # likewise
            {"id": "3", "properties": None, "archived": True, "archivedAt": "2026-03-01T00:00Z"},
        ],
        "paging": {"next": {}},
        "unexpected": {"field": True},
    }
    mocked.add(responses.GET, CONTACTS_URL, json=body)

    with caplog.at_level(logging.WARNING, logger="hubsync.hubspot"):
        result = client.list_contacts(["email"])

    # Nothing is dropped here: records without a usable id come through with id "" (and
    # what was there), so the sync refuses each one with a recorded reason.
    assert result.contacts == [
        ContactRecord(id="1", properties={}),
        ContactRecord(id="2", properties={"n": "5", "b": "true", "x": None, "d": '{"a":1}'}),
        ContactRecord(id="", properties={"_raw_id": "None"}),
        ContactRecord(id="", properties={"_raw_id": "''"}),
        ContactRecord(id="", properties={"_raw_item": "'not an object'"}),
        ContactRecord(id="3", properties={}, archived=True, archived_at="2026-03-01T00:00Z"),
    ]
    assert result.next_after is None
    assert client.counters().malformed == 3
    assert "3 contact record(s) without a usable id" in caplog.text


def test_a_page_without_results_is_empty_not_an_error(
    client: HubSpotClient, mocked: responses.RequestsMock
) -> None:
    mocked.add(responses.GET, CONTACTS_URL, json={"paging": {"next": {"after": 200}}})

    result = client.list_contacts(["email"])

    assert result.contacts == []
    assert result.next_after == "200"


def test_unicode_and_long_values_survive_parsing(
    client: HubSpotClient, mocked: responses.RequestsMock
) -> None:
    long_value = "é" * 10_000
    mocked.add(
        responses.GET,
        CONTACTS_URL,
        json=results_page([contact(1, firstname="Zoë 李", company=long_value, email=None)]),
    )

    record = client.list_contacts(["firstname", "company", "email"]).contacts[0]

    assert record.properties["firstname"] == "Zoë 李"
    assert record.properties["company"] == long_value
    assert record.properties["email"] is None
    assert record.created_at == "2026-01-02T03:04:05.678Z"
    assert record.updated_at == "2026-02-03T04:05:06.789Z"


def test_base_url_trailing_slash_is_ignored(make_client, mocked) -> None:
    from hubsync_core.config import Secret

    client = HubSpotClient(Secret("pat-na1-abcdefabcdef"), BASE + "/", sleep=lambda s: None)
    mocked.add(responses.GET, CONTACTS_URL, json=results_page([]))

    client.list_contacts(["email"])

    assert mocked.calls[0].request.url.startswith(CONTACTS_URL + "?")
    client.close()


def test_chunks_that_disagree_keep_the_first_chunks_records(
    make_client, mocked: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(max_url_chars=200)
    names = [f"property_{i:02d}" for i in range(20)]
    mocked.add(
        responses.GET,
        CONTACTS_URL,
        json=results_page([{"id": "1", "properties": {"a": "1"}}, {"id": "2"}], after="3"),
    )
    # Contact 2 was archived and 9 created between the two requests.
    mocked.add(
        responses.GET,
        CONTACTS_URL,
        json=results_page(
            [{"id": "1", "properties": {"b": "2"}}, {"id": "9", "properties": {"b": "x"}}]
        ),
    )

    with caplog.at_level(logging.WARNING, logger="hubsync.hubspot"):
        result = client.list_contacts(names[:12])

    assert len(mocked.calls) == 2
    assert [(c.id, c.properties) for c in result.contacts] == [
        ("1", {"a": "1", "b": "2"}),
        ("2", {}),
    ]
    assert result.next_after == "3"
    assert "returned other ids" in caplog.text
