"""The portal-level endpoint families: contact properties, lists and memberships, account."""

from __future__ import annotations

from typing import Any

from .config import SCOPE_CONTACTS, SCOPE_LISTS, SCOPE_SCHEMAS
from .errors import bad_request
from .routing import ID, Request, Route, route


def properties(req: Request) -> Any:
    """`GET /crm/v3/properties/contacts`."""
    return {"results": req.sandbox.portal.property_definitions()}


def search_lists(req: Request) -> Any:
    """`POST /crm/v3/lists/search` (offset paging, name substring)."""
    body = req.json()
    if not isinstance(body, dict):
        raise bad_request("Invalid input JSON: expected an object")
    count = body.get("count", 20)
    offset = body.get("offset", 0)
    text = body.get("query") or ""
    if not isinstance(count, int) or not 1 <= count <= 500:
        raise bad_request("count must be between 1 and 500")
    if not isinstance(offset, int) or offset < 0:
        raise bad_request("offset must be >= 0")
    if not isinstance(text, str):
        raise bad_request("query must be a string")
    return req.sandbox.portal.search_lists(text, count, offset)


def get_list(req: Request) -> Any:
    """`GET /crm/v3/lists/{id}`."""
    return req.sandbox.portal.get_list_json(req.match["id"])


def memberships(req: Request) -> Any:
    """`GET /crm/v3/lists/{id}/memberships`."""
    limit = req.int_param("limit", 100, 1, 250)
    return req.sandbox.portal.list_memberships(req.match["id"], req.param("after"), limit)


def contact_memberships(req: Request) -> Any:
    """`GET /crm/v3/lists/records/0-1/{id}/memberships`: the lists one contact is in."""
    return req.sandbox.portal.contact_memberships(req.match["id"])


def account(req: Request) -> Any:
    """`GET /account-info/v3/details`."""
    return req.sandbox.account_details()


ROUTES: tuple[Route, ...] = (
    route("GET", r"/crm/v3/properties/contacts/?", properties, (SCOPE_CONTACTS, SCOPE_SCHEMAS)),
    route("POST", r"/crm/v3/lists/search/?", search_lists, (SCOPE_LISTS,)),
    route(
        "GET", rf"/crm/v3/lists/records/0-1/{ID}/memberships/?", contact_memberships, (SCOPE_LISTS,)
    ),
    route("GET", rf"/crm/v3/lists/{ID}/memberships/?", memberships, (SCOPE_LISTS,)),
    route("GET", rf"/crm/v3/lists/{ID}/?", get_list, (SCOPE_LISTS,)),
    route("GET", r"/account-info/v3/details/?", account),
)
