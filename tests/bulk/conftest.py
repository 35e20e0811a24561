"""Bulk-operation fixtures: a sandbox portal synced into a SQLite database, and a service."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hubsync_core.sandbox import Sandbox, SandboxConfig
from hubsync_core.service import HubSyncService

from .helpers import synced_service


@pytest.fixture
def portal() -> Iterator[Sandbox]:
    """A small unthrottled portal (300 contacts) with every scope."""
    with Sandbox(SandboxConfig(contacts=300, seed=7, rate_limit=0, search_rate_limit=0)) as sb:
        yield sb


@pytest.fixture
def service(portal: Sandbox, tmp_path: Path) -> Iterator[HubSyncService]:
    with synced_service(portal, tmp_path / "bulk.db") as svc:
        yield svc


@pytest.fixture
def make_synced(tmp_path: Path) -> Iterator[Callable[..., HubSyncService]]:
    made: list[HubSyncService] = []

    def make(sandbox: Sandbox, name: str = "bulk.db") -> HubSyncService:
        svc = synced_service(sandbox, tmp_path / name)
        made.append(svc)
        return svc

    yield make
    for svc in made:
        svc.close()
