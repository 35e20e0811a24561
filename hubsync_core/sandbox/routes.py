"""The sandbox's routing table: every endpoint family, one line each (first match wins).

To add a family, write a module with `ROUTES = (route(...), ...)` (see `contacts_api.py`) and add
one line below; admin families (`/_sandbox/...`) go in `ADMIN_ROUTES` the same way.
"""

from __future__ import annotations

from . import (
    account,
    admin,
    batch_read_api,
    budget_admin,
    contacts_api,
    crm_api,
    freshness,
    truth,
    writes,
)
from .routing import AdminRoute, Route

API_ROUTES: tuple[Route, ...] = (
    *writes.ROUTES,
    *batch_read_api.ROUTES,
    *contacts_api.ROUTES,
    *crm_api.ROUTES,
    *account.ROUTES,
)

ADMIN_ROUTES: tuple[AdminRoute, ...] = (
    *admin.ROUTES,
    *freshness.ADMIN_ROUTES,
    *writes.ADMIN_ROUTES,
    *truth.ADMIN_ROUTES,
    *budget_admin.ADMIN_ROUTES,
)
