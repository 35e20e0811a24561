"""Bearer-token authentication for every route but `/healthz`.

Routers registered in `ROUTERS` (see `hubsync_core.api.app`) get `require_token` as a
dependency; a missing or wrong token answers 401 in the error shape with a
`WWW-Authenticate: Bearer` header. The comparison takes constant time.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hubsync_core.api.context import get_context
from hubsync_core.api.errors import ApiError

_bearer = HTTPBearer(
    auto_error=False,
    description="The API token: HUBSYNC_API_TOKEN, or the one `hubsync api token` points to.",
)
_HINT = (
    "Send the header 'Authorization: Bearer <token>'. The token is HUBSYNC_API_TOKEN or, if "
    "unset, the generated one: `hubsync api token` says where it is."
)


def token_matches(given: str, expected: str) -> bool:
    """Compare in constant time (no early exit that would leak the matching prefix)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


async def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """The FastAPI dependency: pass with the right bearer token, else 401."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(
            401,
            "Authentication required: no bearer token was sent",
            _HINT,
            headers={"WWW-Authenticate": 'Bearer realm="hubsync"'},
        )
    expected = get_context(request).token.reveal()
    if not token_matches(credentials.credentials, expected):
        raise ApiError(
            401,
            "The bearer token is not valid",
            _HINT,
            headers={"WWW-Authenticate": 'Bearer realm="hubsync", error="invalid_token"'},
        )
