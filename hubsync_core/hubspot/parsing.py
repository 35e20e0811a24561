"""Tolerant reading of HubSpot's JSON and headers: shapes in, plain values out.

Every function accepts whatever arrived (missing keys, wrong types) and never raises on it:
what cannot be read becomes None, an empty list, or a record with an empty id that the sync
refuses with a reason.
"""

from __future__ import annotations

import email.utils
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import requests

from .models import ContactRecord, ListInfo, RateLimitStatus

#: HubSpot's search never pages past this many results.
SEARCH_RESULT_CAP = 10_000
#: Never sleep longer than this on one Retry-After, whatever the header says.
MAX_RETRY_AFTER_SECONDS = 600.0


def clean_properties(properties: Sequence[str]) -> list[str]:
    if isinstance(properties, str):
        raise TypeError("properties must be a sequence of names, not one string")
    names: list[str] = []
    for raw in properties:
        name = str(raw).strip()
        if not name:
            continue
        if "," in name:
            raise ValueError(f"property name {name!r} must not contain a comma")
        names.append(name)
    return list(dict.fromkeys(names))


def contact_record(item: Any) -> ContactRecord:
    """A ContactRecord for every item, usable or not.

    An item without a usable id gets `id=""` (with what was there kept in `properties` under
    `_raw_id`) rather than vanishing here: the sync refuses it with a recorded reason, so
    nothing HubSpot sends is ever dropped silently.
    """
    # Hot (once per contact): exact-type tests first for what HubSpot sends, the general
    # checks only when they fail.
    if type(item) is not dict and not isinstance(item, dict):
        return ContactRecord(id="", properties={"_raw_item": repr(item)[:200]})
    raw_id = item.get("id")
    if type(raw_id) is str:
        contact_id = raw_id.strip()
    else:
        usable = raw_id is not None and not isinstance(raw_id, (bool, dict, list, float))
        contact_id = str(raw_id).strip() if usable else ""
    if not contact_id:
        return ContactRecord(id="", properties={"_raw_id": repr(raw_id)[:200]})
    properties = item.get("properties")
    if type(properties) is not dict and not isinstance(properties, dict):
        properties = {}
    else:
        for value in properties.values():
            if value is not None and type(value) is not str:
                properties = {str(k): property_value(v) for k, v in properties.items()}
                break
    created_at = item.get("createdAt")
    if created_at is not None and type(created_at) is not str:
        created_at = as_str(created_at)
    updated_at = item.get("updatedAt")
    if updated_at is not None and type(updated_at) is not str:
        updated_at = as_str(updated_at)
    archived_at = item.get("archivedAt")
    if archived_at is not None and type(archived_at) is not str:
        archived_at = as_str(archived_at)
    archived = item.get("archived")
    if archived is not True and archived is not False:
        archived = isinstance(archived, str) and archived.lower() == "true"
    return _record(contact_id, properties, created_at, updated_at, archived, archived_at)


_new = object.__new__


def _record(
    contact_id: str,
    properties: dict[str, str | None],
    created_at: str | None,
    updated_at: str | None,
    archived: bool,
    archived_at: str | None,
) -> ContactRecord:
    """`ContactRecord(...)` without the frozen dataclass's `__init__`, whose six
    `object.__setattr__` calls cost half of reading a contact; the same object otherwise."""
    record = _new(ContactRecord)
    fields = record.__dict__
    fields["id"] = contact_id
    fields["properties"] = properties
    fields["created_at"] = created_at
    fields["updated_at"] = updated_at
    fields["archived"] = archived
    fields["archived_at"] = archived_at
    return record


def property_value(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def as_str(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return value if isinstance(value, str) else str(value)


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def next_after_of(data: Mapping[str, Any]) -> str | None:
    paging = data.get("paging")
    nxt = paging.get("next") if isinstance(paging, dict) else None
    after = nxt.get("after") if isinstance(nxt, dict) else None
    if after is None or isinstance(after, (dict, list, bool)):
        return None
    return str(after) or None


def list_info(item: Any) -> ListInfo | None:
    if not isinstance(item, dict):
        return None
    list_id = item.get("listId", item.get("id"))
    if list_id is None or isinstance(list_id, (dict, list, bool)) or not str(list_id):
        return None
    size = as_int(item.get("size"))
    extra = item.get("additionalProperties")
    extra = extra if isinstance(extra, dict) else {}
    if size is None:
        size = as_int(extra.get("hs_list_size"))
    version = item.get("listVersion")
    return ListInfo(
        list_id=str(list_id),
        name=as_str(item.get("name")) or "",
        size=size,
        processing_type=as_str(item.get("processingType")),
        updated_at=as_str(item.get("updatedAt")),
        version=None if isinstance(version, (dict, list, bool)) else as_str(version),
        last_added_at=as_str(extra.get("hs_last_record_added_at")),
    )


def header_int(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(str(raw).strip())
    except ValueError:
        return None


def rate_limit_status(headers: Mapping[str, str]) -> RateLimitStatus | None:
    """The response's `X-HubSpot-RateLimit-*` headers, or None when it carried none."""
    prefix = "X-HubSpot-RateLimit-"
    status = RateLimitStatus(
        max=header_int(headers, prefix + "Max"),
        remaining=header_int(headers, prefix + "Remaining"),
        interval_ms=header_int(headers, prefix + "Interval-Milliseconds"),
        daily=header_int(headers, prefix + "Daily"),
        daily_remaining=header_int(headers, prefix + "Daily-Remaining"),
        secondly=header_int(headers, prefix + "Secondly"),
        secondly_remaining=header_int(headers, prefix + "Secondly-Remaining"),
    )
    return None if status == RateLimitStatus() else status


def retry_after(raw: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not raw:
        return None
    try:
        seconds = float(raw.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds) or seconds < 0:
        return 0.0
    return min(seconds, MAX_RETRY_AFTER_SECONDS)


def error_body(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def missing_scopes(error: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    contexts = [error.get("context")]
    contexts += [e.get("context") for e in dicts(error.get("errors"))]
    for context in contexts:
        if isinstance(context, dict):
            scopes = context.get("missingScopes")
            if isinstance(scopes, list):
                found += [str(s) for s in scopes if s is not None and str(s)]
            elif isinstance(scopes, str) and scopes:
                found.append(scopes)
    return list(dict.fromkeys(found))


def beyond_search_cap(message: str, after: str | None, limit: int) -> bool:
    compact = message.replace(",", "")
    if str(SEARCH_RESULT_CAP) in compact:
        return True
    offset = as_int(after)
    return offset is not None and offset + limit > SEARCH_RESULT_CAP
