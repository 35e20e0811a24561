"""How the sandbox routes a request: one `Route` per endpoint, grouped by endpoint family.

An endpoint family is a module with a `ROUTES` tuple of `route(...)` entries whose handlers take
a `Request` and return the JSON body (or raise `ApiError`); `routes.py` lists the families, one
line each. Admin families (`/_sandbox/...`) do the same with `admin_route(...)` and `ADMIN_ROUTES`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import bad_request

if TYPE_CHECKING:
    from .server import Sandbox

#: The `{id}` segment of a path pattern (a record or list id).
ID = r"(?P<id>[^/]+)"


def parse_json(raw: bytes) -> Any:
    """A request body as JSON (empty = `{}`), or HubSpot's 400 for malformed input."""
    try:
        return json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad_request(f"Invalid input JSON: {exc}") from None


@dataclass(frozen=True)
class Request:
    """What an API handler sees: the sandbox, the query string, the raw body, the path match."""

    sandbox: Sandbox
    query: dict[str, list[str]]
    raw: bytes
    match: re.Match[str]

    def json(self) -> Any:
        return parse_json(self.raw)

    def param(self, name: str) -> str | None:
        """The last value of a query parameter; None when absent or empty."""
        return self.query.get(name, [None])[-1] or None

    def int_param(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.query.get(name, [None])[-1]
        if raw in (None, ""):
            return default
        try:
            value = int(raw)
        except ValueError:
            raise bad_request(f"Invalid value {raw!r} for {name}: expected an integer") from None
        if not low <= value <= high:
            raise bad_request(f"{name} must be between {low} and {high}, got {value}")
        return value

    def bool_param(self, name: str) -> bool:
        raw = (self.query.get(name, ["false"])[-1] or "false").lower()
        if raw not in ("true", "false"):
            raise bad_request(f"Invalid value {raw!r} for {name}: expected true or false")
        return raw == "true"

    def properties_param(self) -> list[str]:
        """`properties=a,b&properties=c` -> ["a", "b", "c"]."""
        out: list[str] = []
        for raw in self.query.get("properties", []):
            out.extend(p.strip() for p in raw.split(",") if p.strip())
        return out


#: An API handler returns the JSON body, or `(status, body)` for another status than 200
#: (207 Multi-Status; 204 answers no body).
Handler = Callable[[Request], Any]


@dataclass(frozen=True)
class Route:
    """One API endpoint. `scopes`: any one of them suffices (none = no scope needed);
    `search`: counts against the per-second search limit instead of the burst limit."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler
    scopes: tuple[str, ...]
    search: bool = False
    #: A write endpoint: every request is recorded in `Sandbox.writes` on arrival.
    write: bool = False


def route(
    method: str,
    path: str,
    handler: Handler,
    scopes: tuple[str, ...] = (),
    *,
    search: bool = False,
    write: bool = False,
) -> Route:
    """A route for `method` on `path`, a regex matched in full (use `ID` for an id segment).
    A handler returns the JSON body, or `(status, body)` (207, or 204 with body None)."""
    return Route(method, re.compile(path), handler, scopes, search, write)


@dataclass(frozen=True)
class AdminRequest:
    """What an admin handler sees: the sandbox, the JSON object body, the `{id}` segment."""

    sandbox: Sandbox
    body: dict[str, Any]
    id: str = ""


#: An admin handler returns the JSON body, or `(status, body)` for a status other than 200.
AdminHandler = Callable[[AdminRequest], Any]


@dataclass(frozen=True)
class AdminRoute:
    """One `/_sandbox/...` route; `path` is relative to `/_sandbox/`, e.g. `contacts/{id}`."""

    method: str
    segments: tuple[str, ...]
    handler: AdminHandler

    def match(self, method: str, parts: list[str]) -> str | None:
        """The `{id}` segment ("" without one) if this route answers, else None."""
        if method != self.method or len(parts) != len(self.segments):
            return None
        ident = ""
        for want, got in zip(self.segments, parts, strict=True):
            if want == "{id}":
                ident = got
            elif want != got:
                return None
        return ident


def admin_route(method: str, path: str, handler: AdminHandler) -> AdminRoute:
    return AdminRoute(method, tuple(p for p in path.split("/") if p), handler)
