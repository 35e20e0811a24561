"""Fixtures for the HubSpot client tests: a fake clock, a mocked HubSpot, a ready client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses
from hubspot_fakes import BASE, TOKEN, FakeClock

from hubsync_core.config import Secret
from hubsync_core.hubspot import HubSpotClient


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def make_client(clock: FakeClock) -> Iterator[Callable[..., HubSpotClient]]:
    made: list[HubSpotClient] = []

    def make(**options: Any) -> HubSpotClient:
        options.setdefault("sleep", clock.sleep)
        options.setdefault("clock", clock)
        options.setdefault("jitter", lambda: 1.0)
        client = HubSpotClient(Secret(TOKEN), BASE, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., HubSpotClient]) -> HubSpotClient:
    return make_client()
