"""`GET /_sandbox/budget`: each rate budget's use per second, for benchmarks to show that a
sync keeps both full (the list-type 10-s window and search's per-second limit)."""

from __future__ import annotations

from typing import Any

from .routing import AdminRequest, AdminRoute, admin_route


def budget(req: AdminRequest) -> Any:
    """`{"now": s, "seconds": [[second, list-type admitted, search admitted], ...]}`: seconds
    count from the sandbox's start; list-type is everything the 10-s window counts."""
    now, rows = req.sandbox.limiter.admitted()
    return {"now": now, "seconds": [list(row) for row in rows]}


ADMIN_ROUTES: tuple[AdminRoute, ...] = (admin_route("GET", "budget", budget),)
