"""HubSpot contact change events: which ones HubSync uses and what a usable one holds."""

from __future__ import annotations

import json
from typing import Any

#: Contact event types the applier acts on (associationChange is stored and ignored).
CREATION = "contact.creation"
PROPERTY_CHANGE = "contact.propertyChange"
DELETION = "contact.deletion"
MERGE = "contact.merge"
RESTORE = "contact.restore"
PRIVACY_DELETION = "contact.privacyDeletion"
ASSOCIATION_CHANGE = "contact.associationChange"
CONTACT_EVENTS = frozenset(
    {CREATION, PROPERTY_CHANGE, DELETION, MERGE, RESTORE, PRIVACY_DELETION, ASSOCIATION_CHANGE}
)


class BadEvents(ValueError):
    """A delivery that is not a list of HubSpot events (answered 400, never stored)."""


def _digits(value: Any) -> str | None:
    text = str(value).strip() if isinstance(value, (int, str)) else ""
    return text if text.isdigit() and len(text) <= 40 else None


def parse_delivery(body: bytes) -> list[dict[str, Any]]:
    """The events of one webhook POST (a JSON array), each checked by `validate`."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadEvents(f"body is not JSON: {exc}") from None
    if not isinstance(data, list):
        raise BadEvents("body must be a JSON array of events")
    return [validate(item) for item in data]


def validate(item: Any) -> dict[str, Any]:
    """One event with the fields the inbox needs (`eventId`, `occurredAt`, `objectId`,
    `subscriptionType`), ids as digit strings; raises `BadEvents` otherwise."""
    if not isinstance(item, dict):
        raise BadEvents("every event must be a JSON object")
    event_id = _digits(item.get("eventId"))
    object_id = _digits(item.get("objectId"))
    kind = item.get("subscriptionType")
    occurred = item.get("occurredAt")
    if event_id is None or object_id is None or not isinstance(kind, str):
        raise BadEvents("an event lacks eventId, objectId or subscriptionType")
    if not isinstance(occurred, int) or isinstance(occurred, bool) or occurred < 0:
        raise BadEvents(f"event {event_id} has no occurredAt in epoch milliseconds")
    return {**item, "eventId": event_id, "objectId": object_id}


def merge_ids(payload: dict[str, Any]) -> tuple[str | None, list[str]]:
    """(the surviving record's id, every id that no longer exists) of a merge event.

    Merges create a new record (`newObjectId`); older portals kept the primary's id.
    """
    new_id = _digits(payload.get("newObjectId")) or _digits(payload.get("primaryObjectId"))
    old: list[str] = []
    named = [payload.get("primaryObjectId"), payload.get("objectId")]
    for raw in [*named, *(payload.get("mergedObjectIds") or [])]:
        found = _digits(raw)
        if found and found != new_id and found not in old:
            old.append(found)
    return new_id, old
