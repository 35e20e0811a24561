"""Fidelity: HubSpot's official Python client reads the sandbox without errors.

The client's generated models validate HubSpot's shapes; if they accept our answers and return
exactly the sandbox's contacts, our reading of the wire format is not just our own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import PublicObjectSearchRequest
from sandbox_testkit import make_config

from hubsync_core.sandbox import Sandbox


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@pytest.fixture(scope="module", params=[False, True], ids=["normal", "hostile"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    with Sandbox(make_config(hostile=request.param)) as sb:
        yield sb


@pytest.fixture(scope="module")
def official_client(sandbox: Sandbox) -> HubSpot:
    # In hubspot-api-client 12, `host` replaces the whole base URL (scheme, host and port).
    return HubSpot(access_token=sandbox.token, host=sandbox.base_url)


def test_get_all_returns_exactly_the_live_contacts(
    official_client: HubSpot, sandbox: Sandbox
) -> None:
    names = sandbox.portal.property_names()
    got = official_client.crm.contacts.get_all(properties=names)
    expected = list(sandbox.portal.live_contacts(names))
    assert [c.id for c in got] == [e["id"] for e in expected]
    for contact, want in zip(got, expected, strict=True):
        assert contact.properties == want["properties"]
        assert _iso(contact.created_at) == want["createdAt"]
        assert _iso(contact.updated_at) == want["updatedAt"]
        assert contact.archived is False


def test_get_page_of_archived_contacts(official_client: HubSpot, sandbox: Sandbox) -> None:
    page = official_client.crm.contacts.basic_api.get_page(limit=100, archived=True)
    assert [c.id for c in page.results] == sandbox.portal.archived_ids()[:100]
    assert all(c.archived and c.archived_at is not None for c in page.results)


def test_do_search_pages_to_the_same_contacts(official_client: HubSpot, sandbox: Sandbox) -> None:
    search = official_client.crm.contacts.search_api
    filters: list[dict[str, Any]] = [
        {"propertyName": "company", "operator": "CONTAINS_TOKEN", "value": "*chainge*"}
    ]
    found: list[Any] = []
    after: str | None = None
    while True:
        request = PublicObjectSearchRequest(
            filter_groups=[{"filters": filters}],
            sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            properties=["company", "email"],
            limit=100,
            after=after,
        )
        page = search.do_search(public_object_search_request=request)
        found.extend(page.results)
        if page.paging is None or page.paging.next is None:
            break
        after = page.paging.next.after
    expected = [
        c
        for c in sandbox.portal.live_contacts(["company", "email"])
        if "chainge" in (c["properties"]["company"] or "").lower()
    ]
    assert page.total == len(expected)
    assert [c.id for c in found] == [e["id"] for e in expected]
    assert [c.properties for c in found] == [e["properties"] for e in expected]


def test_properties_get_all(official_client: HubSpot, sandbox: Sandbox) -> None:
    result = official_client.crm.properties.core_api.get_all("contacts")
    assert {p.name for p in result.results} == set(sandbox.portal.property_names())
    stage = next(p for p in result.results if p.name == "lifecyclestage")
    assert "partner" in {o.value for o in stage.options}
