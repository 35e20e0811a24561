"""The admin path `/_sandbox/...`: drive the portal from another process (tests, demo, drills).
No token needed; the handler answers loopback clients only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from .routing import AdminRequest, AdminRoute, admin_route


def parse_when(value: Any) -> dt.datetime | int:
    """An ISO datetime (naive = UTC) or epoch ms, as JSON gives it."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    text = str(value)
    if text.isdigit():
        return int(text)
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _ids(body: dict[str, Any]) -> list[str]:
    return [str(i) for i in body.get("ids") or []]


def stats(req: AdminRequest) -> Any:
    return req.sandbox.stats.as_dict()


def info(req: AdminRequest) -> Any:
    return req.sandbox.info()


def create_contact(req: AdminRequest) -> Any:
    return 201, {"id": req.sandbox.portal.create_contact(req.body.get("properties") or {})}


def get_contact(req: AdminRequest) -> Any:
    contact = req.sandbox.portal.contact(req.id)
    if contact is None:
        raise KeyError(f"no contact {req.id}")
    return contact


def update_contact(req: AdminRequest) -> Any:
    portal = req.sandbox.portal
    portal.update_contact(req.id, req.body.get("properties") or {})
    return portal.contact(req.id)


def archive_contact(req: AdminRequest) -> Any:
    portal = req.sandbox.portal
    portal.archive_contact(req.id)
    return portal.contact(req.id)


def restore_contact(req: AdminRequest) -> Any:
    portal = req.sandbox.portal
    portal.restore_contact(req.id)
    return portal.contact(req.id)


def merge(req: AdminRequest) -> Any:
    body = req.body
    winner = body.get("winnerId") or body.get("primaryObjectId")
    loser = body.get("loserId") or body.get("objectIdToMerge")
    if winner is None or loser is None:
        raise ValueError("merge needs winnerId and loserId")
    portal = req.sandbox.portal
    portal.merge_contacts(str(winner), str(loser))
    return portal.contact(str(winner))


def set_modified(req: AdminRequest) -> Any:
    when = req.body.get("when")
    if when is None:
        raise ValueError("set-modified needs when (ISO datetime or epoch ms)")
    return {"updated": req.sandbox.portal.set_modified(_ids(req.body), parse_when(when))}


def add_to_list(req: AdminRequest) -> Any:
    return {"added": req.sandbox.portal.add_to_list(req.id, _ids(req.body))}


def remove_from_list(req: AdminRequest) -> Any:
    return {"removed": req.sandbox.portal.remove_from_list(req.id, _ids(req.body))}


def faults(req: AdminRequest) -> Any:
    sb = req.sandbox
    sb.set_faults(float(req.body.get("rate", 0.0)), req.body.get("kinds"))
    return {"rate": sb.fault_rate, "kinds": list(sb.fault_kinds)}


def fail_next(req: AdminRequest) -> Any:
    body = req.body
    req.sandbox.fail_next(str(body.get("kind")), int(body.get("count", 1)), body.get("path"))
    return {"ok": True}


def revoke_token(req: AdminRequest) -> Any:
    req.sandbox.revoke_token()
    return {"revoked": True}


def restore_token(req: AdminRequest) -> Any:
    req.sandbox.restore_token()
    return {"revoked": False}


ROUTES: tuple[AdminRoute, ...] = (
    admin_route("GET", "stats", stats),
    admin_route("GET", "info", info),
    admin_route("POST", "contacts", create_contact),
    admin_route("GET", "contacts/{id}", get_contact),
    admin_route("PATCH", "contacts/{id}", update_contact),
    admin_route("POST", "contacts/{id}/archive", archive_contact),
    admin_route("POST", "contacts/{id}/restore", restore_contact),
    admin_route("POST", "merge", merge),
    admin_route("POST", "set-modified", set_modified),
    admin_route("POST", "lists/{id}/add", add_to_list),
    admin_route("POST", "lists/{id}/remove", remove_from_list),
    admin_route("POST", "faults", faults),
    admin_route("POST", "fail-next", fail_next),
    admin_route("POST", "token/revoke", revoke_token),
    admin_route("POST", "token/restore", restore_token),
)
