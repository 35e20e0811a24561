"""`POST /crm/v3/objects/contacts/batch/read`: up to 100 live contacts by id.

Unknown and archived ids make the answer 207 Multi-Status, naming them in `errors[].context.ids`;
a merged-away id answers with the surviving record (under the survivor's id), as HubSpot does.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .config import SCOPE_CONTACTS
from .errors import ApiError, bad_request
from .routing import Request, Route, route

BATCH_LIMIT = 100


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def batch_read(req: Request) -> Any:
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise bad_request("Invalid input JSON: expected an object with an `inputs` array")
    inputs = body["inputs"]
    if not 1 <= len(inputs) <= BATCH_LIMIT:
        raise bad_request(f"Batch input must contain between 1 and {BATCH_LIMIT} inputs")
    if not all(isinstance(i, dict) and i.get("id") not in (None, "") for i in inputs):
        raise bad_request("Every input needs an id")
    wanted = body.get("properties")
    names = [str(n) for n in wanted] if isinstance(wanted, list) else None
    started = _now()
    results: list[dict[str, Any]] = []
    missing: list[str] = []
    seen: set[str] = set()
    for item in inputs:
        record_id = str(item["id"])
        try:
            record = req.sandbox.portal.get_contact_json(record_id, names, False)
        except ApiError:
            missing.append(record_id)
            continue
        if record["id"] not in seen:  # two merged ids answer with one survivor
            seen.add(record["id"])
            results.append(record)
    answer: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": _now(),
    }
    if not missing:
        return answer
    answer["numErrors"] = 1
    answer["errors"] = [
        {
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": "Could not get some CONTACT objects, they may be deleted or not exist. "
            "Check that ids are valid.",
            "context": {"ids": missing},
        }
    ]
    return 207, answer


ROUTES: tuple[Route, ...] = (
    route("POST", r"/crm/v3/objects/contacts/batch/read/?", batch_read, (SCOPE_CONTACTS,)),
)
