"""The contacts endpoint family of CRM v3: list, search, get by id."""

from __future__ import annotations

from typing import Any

from .config import SCOPE_CONTACTS
from .routing import ID, Request, Route, route


def list_contacts(req: Request) -> Any:
    """`GET /crm/v3/objects/contacts`: one page in id order (`archived=true` for the bin)."""
    limit = req.int_param("limit", 10, 1, 100)
    archived = req.bool_param("archived")
    portal = req.sandbox.portal
    return portal.list_page(req.param("after"), limit, req.properties_param(), archived)


def search_contacts(req: Request) -> Any:
    """`POST /crm/v3/objects/contacts/search`."""
    return req.sandbox.portal.search(req.json())


def get_contact(req: Request) -> Any:
    """`GET /crm/v3/objects/contacts/{id}`."""
    archived = req.bool_param("archived")
    return req.sandbox.portal.get_contact_json(req.match["id"], req.properties_param(), archived)


ROUTES: tuple[Route, ...] = (
    route("GET", r"/crm/v3/objects/contacts/?", list_contacts, (SCOPE_CONTACTS,)),
    route(
        "POST",
        r"/crm/v3/objects/contacts/search/?",
        search_contacts,
        (SCOPE_CONTACTS,),
        search=True,
    ),
    route("GET", rf"/crm/v3/objects/contacts/{ID}", get_contact, (SCOPE_CONTACTS,)),
)
