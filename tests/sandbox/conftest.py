"""Fixtures for the sandbox tests: running sandboxes and authorised HTTP sessions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sandbox_testkit import Api, make_config

from hubsync_core.sandbox import Sandbox


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes with `make_config(**overrides)`; all are stopped after the test."""
    started: list[Sandbox] = []

    def make(**overrides: Any) -> Sandbox:
        sandbox = Sandbox(make_config(**overrides))
        sandbox.start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop()


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[Sandbox]:
    """A read-only sandbox shared by a module's tests (never mutate it)."""
    with Sandbox(make_config()) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def shared_api(shared_sandbox: Sandbox) -> Iterator[Api]:
    api = Api(shared_sandbox)
    yield api
    api.close()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    """A fresh sandbox of 3000 contacts that the test may mutate."""
    return make_sandbox()


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[Api]:
    client = Api(sandbox)
    yield client
    client.close()


@pytest.fixture
def api_for() -> Iterator[Callable[[Sandbox], Api]]:
    made: list[Api] = []

    def make(sandbox: Sandbox) -> Api:
        client = Api(sandbox)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
