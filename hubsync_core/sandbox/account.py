"""What the sandbox says about its token and its daily API usage.

HubSpot answers `POST /oauth/v2/private-apps/get/access-token-info` with `{"tokenKey": ...}`
for private-app tokens and service keys (`userId`, `hubId`, `appId`, `scopes`), and
`GET /account-info/v3/api-usage/daily/private-apps` with the portal's calls today against its
daily limit. OAuth's `GET /oauth/v1/access-tokens/<token>` does not know such tokens (404).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .config import SandboxConfig
from .errors import bad_request, not_found
from .routing import Request, Route, route

#: The sandbox's app and user, as a private app's token info names them.
APP_ID = 4_242_424
USER_ID = 1_010_101


def token_info(config: SandboxConfig, body: Any) -> dict[str, Any]:
    """The private-app token info of `body["tokenKey"]` (404 for a token it did not issue)."""
    if not isinstance(body, dict) or not isinstance(body.get("tokenKey"), str):
        raise bad_request("Invalid input JSON: tokenKey is required")
    if body["tokenKey"] != config.token:
        raise not_found("Token not found")
    return {
        "userId": USER_ID,
        "hubId": config.portal_id,
        "appId": APP_ID,
        "scopes": sorted(config.scopes),
    }


def api_usage(limit: int, used: int, now: dt.datetime | None = None) -> dict[str, Any]:
    """Today's usage: one entry for the private-apps (and service keys) daily limit."""
    now = now or dt.datetime.now(dt.UTC)
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
    return {
        "results": [
            {
                "name": "private-apps-api-calls-daily",
                "usageLimit": limit,
                "currentUsage": used,
                "collectedAt": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "fetchStatus": "SUCCESS",
                "resetsAt": midnight.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            }
        ]
    }


def _token_route(req: Request) -> Any:
    """`POST /oauth/v2/private-apps/get/access-token-info`."""
    return token_info(req.sandbox.config, req.json())


def _usage_route(req: Request) -> Any:
    """`GET /account-info/v3/api-usage/daily/private-apps`."""
    return api_usage(*req.sandbox.limiter.daily_usage())


ROUTES: tuple[Route, ...] = (
    route("POST", r"/oauth/v2/private-apps/get/access-token-info/?", _token_route),
    route("GET", r"/account-info/v3/api-usage/daily/private-apps/?", _usage_route),
)
