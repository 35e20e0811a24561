"""What a benchmark in another process checks a run against: `GET /_sandbox/truth` (what the
portal holds now: live ids, archived ids, every list's live members) and `GET
/_sandbox/requests` (the request log: which call was made while which was unanswered)."""

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


def requests(req: AdminRequest) -> Any:
    return [
        {
            "seq": entry.seq,
            "method": entry.method,
            "path": entry.path,
            "query": {k: v[0] for k, v in entry.query.items() if v and k != "properties"},
            "answered": entry.answered,
        }
        for entry in req.sandbox.requests.items()
    ]


ADMIN_ROUTES: tuple[AdminRoute, ...] = (
    admin_route("GET", "truth", truth),
    admin_route("GET", "requests", requests),
)
