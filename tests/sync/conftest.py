"""Fixtures for sync tests: a small sandbox portal and a service pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hubsync_core.config import Secret, Settings
from hubsync_core.hubspot.client import HubSpotClient
from hubsync_core.sandbox import Sandbox, SandboxConfig
from hubsync_core.service import HubSyncService
from hubsync_core.store.database import Database


def sandbox_settings(sandbox: Sandbox, database_url: str, **env: str) -> Settings:
    """Settings for a sandbox portal, built from an explicit environment (no .env read)."""
    values = {
        "HUBSPOT_ACCESS_TOKEN": sandbox.token,
        "HUBSPOT_BASE_URL": sandbox.base_url,
        "DATABASE_URL": database_url,
        **env,
    }
    return Settings.load(values, dotenv_path=None, secrets_path=None)


def fast_client(sandbox: Sandbox, **options: Any) -> HubSpotClient:
    """A client whose backoffs take microseconds, so fault tests stay fast."""
    defaults: dict[str, Any] = {"backoff_base": 0.001, "backoff_cap": 0.005, "max_retries": 3}
    defaults.update(options)
    return HubSpotClient(Secret(sandbox.token), sandbox.base_url, **defaults)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A 1,200-contact portal without rate limits or faults."""
    with Sandbox(SandboxConfig(contacts=1200, seed=7, rate_limit=0, search_rate_limit=0)) as sb:
        yield sb


@pytest.fixture
def make_service(sandbox: Sandbox, db: Database) -> Iterator[Callable[..., HubSyncService]]:
    """Build services on the test database against the sandbox (closed after the test)."""
    made: list[HubSyncService] = []

    def make(client: HubSpotClient | None = None, **env: str) -> HubSyncService:
        settings = sandbox_settings(sandbox, db.url, **env)
        service = HubSyncService(settings, database=db, client=client or fast_client(sandbox))
        made.append(service)
        return service

    yield make
    for service in made:
        if service._client is not None:
            service._client.close()
