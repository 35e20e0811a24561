"""Shared fakes for the HubSpot client tests (imported by the test modules)."""

from __future__ import annotations

from typing import Any

from hubsync_core.hubspot import endpoints

BASE = "https://api.hubapi.test"
TOKEN = "pat-na1-11111111-2222-3333-4444-5555deadbeef"
#: The default API version's paths (HUBSPOT_API_VERSION); contract tests cover the others.
PATHS = endpoints.DEFAULT
CONTACTS_URL = BASE + PATHS.contacts
SEARCH_URL = BASE + PATHS.contacts_search


class FakeClock:
    """A monotonic clock that only moves when someone sleeps on it."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        self.now += seconds


def contact(contact_id: str | int, **properties: Any) -> dict[str, Any]:
    """A contact as HubSpot's list endpoint returns it."""
    return {
        "id": str(contact_id),
        "properties": {"hs_object_id": str(contact_id), **properties},
        "createdAt": "2026-01-02T03:04:05.678Z",
        "updatedAt": "2026-02-03T04:05:06.789Z",
        "archived": False,
    }


def results_page(contacts: list[dict[str, Any]], after: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"results": contacts}
    if after is not None:
        body["paging"] = {"next": {"after": after, "link": "https://api.hubapi.test/..."}}
    return body
