"""Sandbox write endpoints: contacts batch update / archive, static-list membership
add and remove, and the private-app token-info endpoint that says which scopes a token has.

Shapes follow HubSpot's wire format: a batch with some unknown (or archived) ids answers
207 Multi-Status with `results` for the rest and `errors[]` naming the ids in `context.ids`;
an unknown property, a read-only property or a value outside an enumeration's options fails
the whole request with 400 VALIDATION_ERROR; `lifecyclestage` only moves forward through its
options (clearing it first lets it move back). Every write request is recorded in a
`WriteLog` so tests can prove what was sent, and when.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from . import schema
from .config import SCOPE_CONTACTS_WRITE, SCOPE_LISTS_WRITE
from .errors import ApiError
from .portal import Portal
from .routing import ID, AdminRequest, AdminRoute, Request, Route, admin_route, route

BATCH_LIMIT = 100
_DEFINITIONS = {p["name"]: p for p in schema.property_definitions()}
_STAGE_ORDER = {o["value"]: i for i, o in enumerate(_DEFINITIONS["lifecyclestage"]["options"])}


@dataclass(frozen=True)
class WriteRequest:
    """One write request the sandbox received (whatever its outcome)."""

    at: float
    method: str
    path: str
    ids: tuple[str, ...]


class WriteLog:
    """Every write request, in arrival order (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[WriteRequest] = []

    def add(self, method: str, path: str, ids: list[str]) -> None:
        with self._lock:
            self._items.append(WriteRequest(time.time(), method, path, tuple(ids)))

    def items(self) -> list[WriteRequest]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def as_dicts(self) -> list[dict[str, Any]]:
        return [
            {"at": w.at, "method": w.method, "path": w.path, "ids": list(w.ids)}
            for w in self.items()
        ]


def _validation(message: str, errors: list[dict[str, Any]] | None = None) -> ApiError:
    extra = {"errors": errors} if errors else None
    return ApiError(400, message, "VALIDATION_ERROR", extra=extra)


def _inputs(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise _validation("Invalid input JSON: expected an object with an `inputs` array")
    inputs = body["inputs"]
    if not inputs:
        raise _validation("inputs must not be empty")
    if len(inputs) > BATCH_LIMIT:
        raise _validation(f"Batch input must contain at most {BATCH_LIMIT} inputs")
    for item in inputs:
        if not isinstance(item, dict) or item.get("id") in (None, ""):
            raise _validation("Every input needs an id")
    return inputs


def _check_value(name: str, value: Any) -> dict[str, Any] | None:
    """HubSpot's per-property validation result, or None when the value is acceptable."""
    definition = _DEFINITIONS.get(name)
    if definition is None:
        return {
            "isValid": False,
            "message": f'Property "{name}" does not exist',
            "error": "PROPERTY_DOESNT_EXIST",
            "name": name,
        }
    if definition["modificationMetadata"]["readOnlyValue"]:
        return {
            "isValid": False,
            "message": f'"{name}" is a read only property; its value cannot be set.',
            "error": "READ_ONLY_VALUE",
            "name": name,
        }
    text = "" if value is None else str(value)
    if text == "":
        return None  # an empty string clears any property
    if definition["type"] == "enumeration":
        allowed = {o["value"] for o in definition["options"]}
        parts = text.split(";") if definition["fieldType"] == "checkbox" else [text]
        bad = [p for p in parts if p not in allowed]
        if bad:
            return {
                "isValid": False,
                "message": f"{bad[0]} was not one of the allowed options: "
                + ", ".join(sorted(allowed)),
                "error": "INVALID_OPTION",
                "name": name,
            }
    if definition["type"] == "number":
        try:
            float(text)
        except ValueError:
            return {
                "isValid": False,
                "message": f"{text} is not a valid number",
                "error": "INVALID_INTEGER",
                "name": name,
            }
    return None


def batch_update(portal: Portal, body: Any) -> tuple[int, dict[str, Any]]:
    """`POST /crm/v3/objects/contacts/batch/update`."""
    inputs = _inputs(body)
    problems: list[dict[str, Any]] = []
    for item in inputs:
        props = item.get("properties")
        if not isinstance(props, dict):
            raise _validation("Every input needs a properties object")
        problems += [p for n, v in props.items() if (p := _check_value(str(n), v))]
    if problems:
        raise _validation(
            "Property values were not valid: " + "; ".join(p["message"] for p in problems),
            [{"message": p["message"], "code": p["error"], "context": p} for p in problems],
        )
    results: list[dict[str, Any]] = []
    missing: list[str] = []
    backwards: list[str] = []
    for item in inputs:
        cid = str(item["id"])
        props = {str(k): ("" if v is None else str(v)) for k, v in item["properties"].items()}
        stage = props.get("lifecyclestage")
        if stage:
            current = _live(portal, cid, ["lifecyclestage"])
            before = current["properties"].get("lifecyclestage") if current else None
            moves_back = before and _STAGE_ORDER.get(stage, 0) < _STAGE_ORDER.get(before, 0)
            if current is not None and current["id"] == cid and moves_back:
                backwards.append(cid)
                continue
        try:
            portal.update_contact(cid, {k: (v or None) for k, v in props.items()})
        except KeyError:  # unknown, archived, or merged away
            missing.append(cid)
            continue
        # HubSpot answers with the written properties plus the record's dates and id.
        results.append(_live(portal, cid, list(props)))
    errors: list[dict[str, Any]] = []
    if missing:
        errors.append(_not_found(missing))
    if backwards:
        errors.append(
            {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": "lifecyclestage can only move forward; clear it first to set an "
                "earlier stage",
                "context": {"ids": backwards},
            }
        )
    return _batch_answer(results, errors)


def batch_archive(portal: Portal, body: Any) -> tuple[int, dict[str, Any] | None]:
    """`POST /crm/v3/objects/contacts/batch/archive`: 204; unknown or archived ids are ignored."""
    for item in _inputs(body):
        current = _live(portal, str(item["id"]), ["hs_object_id"])
        if current is not None and current["id"] == str(item["id"]):
            portal.archive_contact(str(item["id"]))
    return 204, None


def list_membership(
    portal: Portal, list_id: str, body: Any, *, add: bool
) -> tuple[int, dict[str, Any]]:
    """`PUT /crm/v3/lists/{listId}/memberships/add|remove` with a JSON array of record ids."""
    if not isinstance(body, list) or not all(isinstance(i, str | int) for i in body):
        raise _validation("Expected a JSON array of record ids")
    listed = {x["listId"]: x for x in portal.lists()}
    found = listed.get(str(list_id))
    if found is None:
        raise ApiError(404, f"List {list_id} does not exist", "OBJECT_NOT_FOUND")
    if found.get("processingType") == "DYNAMIC":
        raise _validation(f"List {list_id} is an active (DYNAMIC) list; its members are computed")
    ids = [str(i) for i in dict.fromkeys(body)]
    known = [i for i in ids if _live(portal, i, ["hs_object_id"]) is not None]
    missing = [i for i in ids if i not in known]
    members = set(portal.list_member_ids(str(list_id)))
    if add:
        changed = [i for i in known if i not in members]
        portal.add_to_list(str(list_id), changed) if changed else None
        return 200, {"recordIdsAdded": changed, "recordsIdsMissing": missing}
    changed = [i for i in known if i in members]
    portal.remove_from_list(str(list_id), changed) if changed else None
    return 200, {"recordIdsRemoved": changed, "recordsIdsMissing": missing}


def token_info(token: str, scopes: tuple[str, ...], portal_id: int, body: Any) -> dict[str, Any]:
    """`POST /oauth/v2/private-apps/get/access-token-info` for the sandbox's one token."""
    key = body.get("tokenKey") if isinstance(body, dict) else None
    if key != token:
        raise ApiError(404, "Token not found", "OBJECT_NOT_FOUND")
    return {"userId": 1, "hubId": portal_id, "appId": 4_242, "scopes": sorted(scopes)}


def write_ids(raw: bytes) -> list[str]:
    """The record ids a write request names (for the write log), whatever its shape."""
    try:
        body = json.loads(raw.decode("utf-8") or "null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return []
    if isinstance(body, list):
        return [str(i) for i in body]
    if isinstance(body, dict) and isinstance(body.get("inputs"), list):
        return [str(i.get("id")) for i in body["inputs"] if isinstance(i, dict)]
    return []


def _live(portal: Portal, record_id: str, properties: list[str] | None) -> dict[str, Any] | None:
    """A live contact as the API renders it (a merged-away id answers with its winner), or
    None when there is none."""
    try:
        return portal.get_contact_json(record_id, properties, archived=False)
    except ApiError:
        return None


def _not_found(ids: list[str]) -> dict[str, Any]:
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": "Could not get some CONTACT objects, they may be deleted or not exist. "
        "Check that ids are valid.",
        "context": {"ids": ids},
    }


def _batch_answer(
    results: list[dict[str, Any]], errors: list[dict[str, Any]]
) -> tuple[int, dict[str, Any]]:
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": now,
        "completedAt": now,
    }
    if errors:
        body["errors"] = errors
        body["numErrors"] = sum(len(e["context"]["ids"]) for e in errors)
        return 207, body
    return 200, body


# ---------------------------------------------------------------------- routes


def _update(req: Request) -> Any:
    return batch_update(req.sandbox.portal, req.json())


def _archive(req: Request) -> Any:
    return batch_archive(req.sandbox.portal, req.json())


def _membership(req: Request) -> Any:
    return list_membership(
        req.sandbox.portal, req.match["id"], req.json(), add=req.match["op"] == "add"
    )


def _token_info(req: Request) -> Any:
    cfg = req.sandbox.config
    return 200, token_info(cfg.token, cfg.scopes, cfg.portal_id, req.json())


#: The write endpoint family (`write=True`: recorded in `Sandbox.writes` on arrival).
ROUTES: tuple[Route, ...] = (
    route(
        "POST",
        r"/crm/v3/objects/contacts/batch/update/?",
        _update,
        (SCOPE_CONTACTS_WRITE,),
        write=True,
    ),
    route(
        "POST",
        r"/crm/v3/objects/contacts/batch/archive/?",
        _archive,
        (SCOPE_CONTACTS_WRITE,),
        write=True,
    ),
    route(
        "PUT",
        rf"/crm/v3/lists/{ID}/memberships/(?P<op>add|remove)/?",
        _membership,
        (SCOPE_LISTS_WRITE,),
        write=True,
    ),
    route("POST", r"/oauth/v2/private-apps/get/access-token-info/?", _token_info),
)


def _writes(req: AdminRequest) -> Any:
    return {"writes": req.sandbox.writes.as_dicts()}


#: `GET /_sandbox/writes`: the write log, for tests and drills in another process.
ADMIN_ROUTES: tuple[AdminRoute, ...] = (admin_route("GET", "writes", _writes),)
