"""Fixtures that run explorer tests under every plan the explorer can choose."""

from __future__ import annotations

import pytest

from hubsync_core.store.explorer import planner, rows


@pytest.fixture(params=["default", "no-narrowing", "no-cubes", "short-windows"])
def plans(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the default plans and with each alternative forced, so every way of
    computing pages, totals and facets is held to the same answers: without carried search
    ids ("narrow" plans), without grouped passes (one statement per count), and with page
    windows so small that most come up short and fall back to the whole filter."""
    if request.param == "no-narrowing":
        monkeypatch.setattr(planner.Plan, "NARROW_LIMIT", 0)
    elif request.param == "no-cubes":
        monkeypatch.setattr(planner.Plan, "CUBES", False)
    elif request.param == "short-windows":
        monkeypatch.setattr(rows, "WINDOW_MIN", 1)
    return str(request.param)


@pytest.fixture(params=["default", "no-narrowing", "no-cubes"])
def count_plans(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """`plans` for tests of counts alone (page windows do not change a count)."""
    if request.param == "no-narrowing":
        monkeypatch.setattr(planner.Plan, "NARROW_LIMIT", 0)
    elif request.param == "no-cubes":
        monkeypatch.setattr(planner.Plan, "CUBES", False)
    return str(request.param)
