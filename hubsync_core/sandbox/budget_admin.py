"""Admin views for benchmarks: each rate budget's use per second, and a digest of the
portal's live contacts to check a database against (`/_sandbox/budget`, `/_sandbox/truth`)."""

from __future__ import annotations

import hashlib
from typing import Any

from .routing import AdminRequest, AdminRoute, admin_route


def budget(req: AdminRequest) -> Any:
    """`{"now": s, "seconds": [[second, list-type admitted, search admitted], ...]}`: seconds
    count from the sandbox's start; list-type is everything the 10-s window counts."""
    now, rows = req.sandbox.limiter.admitted()
    return {"now": now, "seconds": [list(row) for row in rows]}


def truth(req: AdminRequest) -> Any:
    """The live contacts as HubSync must hold them: their count and a SHA-256 of their ids,
    sorted as numbers and joined by newlines."""
    ids = sorted(req.sandbox.portal.live_ids(), key=int)
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()
    return {"live": len(ids), "idsSha256": digest}


ADMIN_ROUTES: tuple[AdminRoute, ...] = (
    admin_route("GET", "budget", budget),
    admin_route("GET", "truth", truth),
)
