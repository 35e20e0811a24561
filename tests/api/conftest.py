"""Fixtures for the HTTP API: a sandbox portal, the app over a real service, a client.

`api` is a TestClient (ASGI, no network) for `create_app()` over a `HubSyncService` on a
SQLite file synced from a small sandbox with no rate limit or latency; requests carry the
bearer token unless a test passes other headers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sync_helpers import fast_client, quiet_sandbox, sandbox_settings

from hubsync_core.api import create_app
from hubsync_core.config import Settings
from hubsync_core.sandbox import Sandbox
from hubsync_core.service import HubSyncService

TOKEN = "test-api-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE = "/api/integrations/hubspot"


@pytest.fixture(scope="module")
def portal() -> Iterator[Sandbox]:
    sandbox = quiet_sandbox(400, seed=7)
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def settings(portal: Sandbox, tmp_path: Path) -> Settings:
    return sandbox_settings(
        portal, f"sqlite:///{tmp_path / 'api.db'}", HUBSYNC_DATA_DIR=str(tmp_path / "data")
    )


@pytest.fixture
def service(settings: Settings, portal: Sandbox) -> Iterator[HubSyncService]:
    with HubSyncService(settings, client=fast_client(portal), owner="api") as svc:
        yield svc


def api_client(service: HubSyncService) -> TestClient:
    client = TestClient(create_app(service, token=TOKEN), raise_server_exceptions=False)
    client.headers.update(AUTH)
    return client


@pytest.fixture
def api(service: HubSyncService) -> Iterator[TestClient]:
    with api_client(service) as client:
        yield client


@pytest.fixture(scope="module")
def synced_template(portal: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file holding one full sync of `portal` through the API (made once per module)."""
    folder = tmp_path_factory.mktemp("synced")
    settings = sandbox_settings(
        portal, f"sqlite:///{folder / 'template.db'}", HUBSYNC_DATA_DIR=str(folder)
    )
    with HubSyncService(settings, client=fast_client(portal), owner="api") as svc:
        with api_client(svc) as client:
            answer = client.post(f"{BASE}/sync", json={"mode": "full"})
            assert answer.status_code == 200, answer.text
    return folder / "template.db"


@pytest.fixture
def synced(synced_template: Path, settings: Settings, api: TestClient) -> TestClient:
    """`api` on a copy of `synced_template` (its database is opened on first request)."""
    target = settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(synced_template) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    return api


@pytest.fixture
def cli_configured(settings: Settings, portal: Sandbox, monkeypatch, tmp_path: Path) -> None:
    """Point `hubsync` (run in-process by `cli.main`) at the same portal and database."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("HUBSPOT_API_KEY", "CHAINGE_LIST_ID", "HUBSYNC_PROPERTIES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", portal.token)
    monkeypatch.setenv("HUBSPOT_BASE_URL", portal.base_url)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
