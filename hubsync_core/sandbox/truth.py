"""`GET /_sandbox/truth`: what the portal holds now, for a benchmark run in another process to
compare its database with (live ids, archived ids, every list's live members)."""

from __future__ import annotations

from typing import Any

from .routing import AdminRequest, AdminRoute, admin_route


def truth(req: AdminRequest) -> Any:
    portal = req.sandbox.portal
    return {
        "live": portal.live_ids(),
        "archived": portal.archived_ids(),
        "lists": {
            str(info["listId"]): portal.list_member_ids(str(info["listId"]))
            for info in portal.lists()
        },
    }


ADMIN_ROUTES: tuple[AdminRoute, ...] = (admin_route("GET", "truth", truth),)
