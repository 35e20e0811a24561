"""Helpers shared by the sandbox tests (imported by conftest and the test modules)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests

from hubsync_core.sandbox import Sandbox, SandboxConfig

#: A fixed "now" (2026-09-21T...Z) so generated dates do not depend on when tests run.
NOW = 1_790_000_000.0


def epoch_ms(iso: str) -> int:
    """An ISO timestamp as HubSpot writes it ("...Z") in epoch milliseconds, as filters take it."""
    return int(dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


class Api:
    """A tiny HTTP helper bound to one sandbox: authorised by default, JSON in and out."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.base = sandbox.base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {sandbox.token}"

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.base + path, params=params, timeout=30)

    def post(self, path: str, body: Any) -> requests.Response:
        return self.session.post(self.base + path, json=body, timeout=30)

    def search(self, body: dict[str, Any]) -> requests.Response:
        return self.post("/crm/v3/objects/contacts/search", body)

    def search_all(self, filter_groups: list[dict[str, Any]], **extra: Any) -> list[dict[str, Any]]:
        """Every result of a search, following `after` until the last page."""
        out: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            body: dict[str, Any] = {"filterGroups": filter_groups, "limit": 200, **extra}
            if after:
                body["after"] = after
            r = self.search(body)
            assert r.status_code == 200, r.text
            data = r.json()
            out.extend(data["results"])
            after = data.get("paging", {}).get("next", {}).get("after")
            if not after:
                return out

    def list_all(self, **params: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            query = {"limit": 100, **params}
            if after:
                query["after"] = after
            r = self.get("/crm/v3/objects/contacts", **query)
            assert r.status_code == 200, r.text
            data = r.json()
            out.extend(data["results"])
            after = data.get("paging", {}).get("next", {}).get("after")
            if not after:
                return out

    def close(self) -> None:
        self.session.close()


def make_config(**overrides: Any) -> SandboxConfig:
    """A test config: fixed `now`, no rate limits unless asked for."""
    options: dict[str, Any] = {
        "contacts": 3000,
        "now": NOW,
        "rate_limit": 0,
        "search_rate_limit": 0,
    }
    options.update(overrides)
    return SandboxConfig(**options)
