"""The sandbox HTTP server: HubSpot's CRM v3 wire format, auth, rate limits and faults.

One `Sandbox` owns a `Portal` (the data) and serves it from a background thread
(ThreadingHTTPServer, HTTP/1.1 keep-alive). The admin path `/_sandbox/...` mutates the portal
from another process; it needs no token and answers loopback clients only.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import json
import math
import random
import re
import signal
import socket
import struct
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import writes as write_api
from .config import (
    ALL_KINDS,
    FAULT_KINDS,
    SCOPE_CONTACTS,
    SCOPE_CONTACTS_WRITE,
    SCOPE_LISTS,
    SCOPE_LISTS_WRITE,
    SCOPE_SCHEMAS,
    SandboxConfig,
)
from .errors import ApiError, bad_request, not_found
from .portal import Portal

DEFAULT_DAILY = 250_000
MAX_URL = 15_000
BURST_WINDOW_S = 10.0
#: The burst limit advertised when the sandbox runs without one (`rate_limit=0`).
UNLIMITED_ADVERTISED = 1_000_000
SECOND_WINDOW_S = 1.0
JSON_TYPE = "application/json;charset=utf-8"


@dataclass(frozen=True)
class SandboxStats:
    """A snapshot of what the sandbox has served (admin requests not counted)."""

    requests: int = 0
    search_requests: int = 0
    #: Every 429 sent: burst, secondly, daily, and injected ones.
    rate_limited: int = 0
    faults_injected: dict[str, int] = field(default_factory=dict)
    responses: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "searchRequests": self.search_requests,
            "rateLimited": self.rate_limited,
            "faultsInjected": dict(self.faults_injected),
            "responses": {str(k): v for k, v in sorted(self.responses.items())},
        }


class _Limiter:
    """HubSpot's limits: rolling 10 s burst, per-second search, daily quota."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._burst: collections.deque[float] = collections.deque()
        self._second: collections.deque[float] = collections.deque()
        self._daily_used = 0
        self._day = dt.datetime.now(dt.UTC).date()

    @staticmethod
    def _prune(window: collections.deque[float], now: float, span: float) -> None:
        while window and window[0] <= now - span:
            window.popleft()

    def admit(self, search: bool) -> tuple[str | None, float | None]:
        """Count the request, or return the policy that refuses it and seconds until free."""
        cfg = self.config
        now = time.monotonic()
        with self._lock:
            today = dt.datetime.now(dt.UTC).date()
            if today != self._day:
                self._day, self._daily_used = today, 0
            if cfg.daily_limit is not None and self._daily_used >= cfg.daily_limit:
                return "DAILY", None
            if search and cfg.search_rate_limit:
                self._prune(self._second, now, SECOND_WINDOW_S)
                if len(self._second) >= cfg.search_rate_limit:
                    return "SECONDLY", self._second[0] + SECOND_WINDOW_S - now
            counts = (not search) or cfg.search_counts_toward_burst
            if counts and cfg.rate_limit:
                self._prune(self._burst, now, BURST_WINDOW_S)
                if len(self._burst) >= cfg.rate_limit:
                    return "TEN_SECONDLY_ROLLING", self._burst[0] + BURST_WINDOW_S - now
            self._daily_used += 1
            if search and cfg.search_rate_limit:
                self._second.append(now)
            if counts and cfg.rate_limit:
                self._burst.append(now)
            return None, None

    def headers(self) -> list[tuple[str, str]]:
        cfg = self.config
        now = time.monotonic()
        with self._lock:
            out: list[tuple[str, str]] = []
            if cfg.rate_limit:
                self._prune(self._burst, now, BURST_WINDOW_S)
                remaining = max(0, cfg.rate_limit - len(self._burst))
                out += [
                    ("X-HubSpot-RateLimit-Max", str(cfg.rate_limit)),
                    ("X-HubSpot-RateLimit-Remaining", str(remaining)),
                    ("X-HubSpot-RateLimit-Interval-Milliseconds", str(int(BURST_WINDOW_S * 1000))),
                ]
            else:
                # "Unlimited" is advertised as a limit no client reaches, so a client that paces
                # from the headers (as HubSpot asks) is not held to its cautious default.
                out += [
                    ("X-HubSpot-RateLimit-Max", str(UNLIMITED_ADVERTISED)),
                    ("X-HubSpot-RateLimit-Remaining", str(UNLIMITED_ADVERTISED)),
                    ("X-HubSpot-RateLimit-Interval-Milliseconds", str(int(BURST_WINDOW_S * 1000))),
                ]
            daily = cfg.daily_limit if cfg.daily_limit is not None else DEFAULT_DAILY
            out += [
                ("X-HubSpot-RateLimit-Daily", str(daily)),
                ("X-HubSpot-RateLimit-Daily-Remaining", str(max(0, daily - self._daily_used))),
            ]
            return out


class _Faults:
    """Seeded random faults plus a queue of forced ones (`fail_next`)."""

    def __init__(self, config: SandboxConfig) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(config.seed * 7919 + 17)
        self.rate = config.fault_rate
        self.kinds: tuple[str, ...] = tuple(config.fault_kinds)
        self._forced: list[list[Any]] = []  # [kind, remaining, path prefix or None]

    def configure(self, rate: float, kinds: Iterable[str] | None) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("fault rate must be between 0 and 1")
        chosen = tuple(kinds) if kinds is not None else FAULT_KINDS
        unknown = [k for k in chosen if k not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; known: {list(FAULT_KINDS)}")
        if rate > 0 and not chosen:
            raise ValueError("fault kinds must not be empty when the rate is above 0")
        with self._lock:
            self.rate, self.kinds = rate, chosen

    def force(self, kind: str, count: int, path: str | None) -> None:
        if kind not in ALL_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {list(ALL_KINDS)}")
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._forced.append([kind, count, path])

    def clear(self) -> None:
        with self._lock:
            self._forced.clear()

    def pick(self, path: str) -> str | None:
        with self._lock:
            for entry in self._forced:
                if entry[2] is None or path.startswith(entry[2]):
                    entry[1] -= 1
                    if entry[1] <= 0:
                        self._forced.remove(entry)
                    return str(entry[0])
            if self.rate > 0 and self._rng.random() < self.rate:
                return self.kinds[self._rng.randrange(len(self.kinds))]
            return None


_FAULT_BODIES: dict[str, tuple[int, str, str]] = {
    "500": (500, "internal error", "INTERNAL_ERROR"),
    "502": (502, "Bad Gateway: the upstream service did not answer", "BAD_GATEWAY"),
    "503": (503, "Service Unavailable: please retry later", "SERVICE_UNAVAILABLE"),
    "504": (504, "Gateway Timeout: the request took too long", "GATEWAY_TIMEOUT"),
}
_AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
_LIMIT_MESSAGES = {
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "SECONDLY": "You have reached your secondly limit.",
    "DAILY": "You have reached your daily limit.",
}


def _rate_limit_error(policy: str) -> ApiError:
    return ApiError(
        429,
        _LIMIT_MESSAGES[policy],
        "RATE_LIMITS",
        extra={"errorType": "RATE_LIMIT", "policyName": policy},
    )


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: str
    scopes: tuple[str, ...]  # any one of them suffices
    search: bool = False
    #: Recorded in the sandbox's write log (`Sandbox.writes`) on arrival.
    write: bool = False


_ID = r"(?P<id>[^/]+)"
_WRITE_ROUTES: tuple[_Route, ...] = (
    _Route(
        "POST",
        re.compile(r"/crm/v3/objects/contacts/batch/update/?"),
        "batch_update",
        (SCOPE_CONTACTS_WRITE,),
        write=True,
    ),
    _Route(
        "POST",
        re.compile(r"/crm/v3/objects/contacts/batch/archive/?"),
        "batch_archive",
        (SCOPE_CONTACTS_WRITE,),
        write=True,
    ),
    _Route(
        "POST",
        re.compile(r"/crm/v3/objects/contacts/batch/read/?"),
        "batch_read",
        (SCOPE_CONTACTS,),
    ),
    _Route(
        "PUT",
        re.compile(rf"/crm/v3/lists/{_ID}/memberships/(?P<op>add|remove)/?"),
        "membership_change",
        (SCOPE_LISTS_WRITE,),
        write=True,
    ),
    _Route("POST", re.compile(r"/oauth/v2/private-apps/get/access-token-info/?"), "token_info", ()),
)
_ROUTES: tuple[_Route, ...] = (
    *_WRITE_ROUTES,
    _Route("GET", re.compile(r"/crm/v3/objects/contacts/?"), "list_contacts", (SCOPE_CONTACTS,)),
    _Route(
        "POST",
        re.compile(r"/crm/v3/objects/contacts/search/?"),
        "search_contacts",
        (SCOPE_CONTACTS,),
        search=True,
    ),
    _Route("GET", re.compile(rf"/crm/v3/objects/contacts/{_ID}"), "get_contact", (SCOPE_CONTACTS,)),
    _Route(
        "GET",
        re.compile(r"/crm/v3/properties/contacts/?"),
        "properties",
        (SCOPE_CONTACTS, SCOPE_SCHEMAS),
    ),
    _Route("POST", re.compile(r"/crm/v3/lists/search/?"), "search_lists", (SCOPE_LISTS,)),
    _Route(
        "GET",
        re.compile(rf"/crm/v3/lists/records/0-1/{_ID}/memberships/?"),
        "contact_memberships",
        (SCOPE_LISTS,),
    ),
    _Route("GET", re.compile(rf"/crm/v3/lists/{_ID}/memberships/?"), "memberships", (SCOPE_LISTS,)),
    _Route("GET", re.compile(rf"/crm/v3/lists/{_ID}/?"), "get_list", (SCOPE_LISTS,)),
    _Route("GET", re.compile(r"/account-info/v3/details/?"), "account", ()),
)


def _int_param(query: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name, [None])[-1]
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"Invalid value {raw!r} for {name}: expected an integer") from None
    if not low <= value <= high:
        raise bad_request(f"{name} must be between {low} and {high}, got {value}")
    return value


def _bool_param(query: dict[str, list[str]], name: str) -> bool:
    raw = (query.get(name, ["false"])[-1] or "false").lower()
    if raw not in ("true", "false"):
        raise bad_request(f"Invalid value {raw!r} for {name}: expected true or false")
    return raw == "true"


def _properties_param(query: dict[str, list[str]]) -> list[str]:
    out: list[str] = []
    for raw in query.get("properties", []):
        out.extend(p.strip() for p in raw.split(",") if p.strip())
    return out


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.aborted: set[socket.socket] = set()
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout, reset) is normal here; anything else is a bug.
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.conn_lock:
            aborted = request in self.aborted
            self.aborted.discard(request)
        if aborted:
            # No shutdown(SHUT_WR) first: that would send FIN. Close with linger 0 sends RST.
            self.close_request(request)
            return
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "HubSyncSandbox/1.0"
    timeout = 300  # idle keep-alive connections end eventually
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in one write; no Nagle delay on small answers.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.conn_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.conn_lock:
                self.server.connections.discard(self.connection)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the sandbox runs inside tests and the dashboard

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ---- plumbing -----------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _write(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        buffer: list[bytes] = getattr(self, "_headers_buffer", [])
        buffer.append(b"\r\n")
        buffer.append(body)
        self.wfile.write(b"".join(buffer))
        self._headers_buffer = []

    def _json(
        self,
        status: int,
        obj: Any,
        correlation_id: str,
        headers: list[tuple[str, str]] | None = None,
        *,
        truncate: bool = False,
    ) -> None:
        body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if truncate:
            body = body[: len(body) // 2]
        all_headers = [("Content-Type", JSON_TYPE), ("X-HubSpot-Correlation-Id", correlation_id)]
        all_headers += headers or []
        self.server.sandbox._count_response(status)
        self._write(status, body, all_headers)

    def _error(
        self, err: ApiError, correlation_id: str, headers: list[tuple[str, str]] | None = None
    ) -> None:
        self._json(err.status, err.body(correlation_id), correlation_id, headers)

    def _abort(self) -> None:
        """Answer nothing and reset the connection (RST), like a dropped upstream."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with self.server.conn_lock:
            self.server.aborted.add(self.connection)
        self.close_connection = True

    # ---- dispatch -----------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        raw = self._read_body()
        correlation_id = str(uuid.uuid4())
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        if path == "/_sandbox" or path.startswith("/_sandbox/"):
            self._admin(method, path, parts.query, raw, correlation_id)
            return
        try:
            self._api(method, path, parts.query, raw, correlation_id)
        except ApiError as err:
            self._error(err, correlation_id)

    def _api(self, method: str, path: str, query_s: str, raw: bytes, cid: str) -> None:
        sb = self.server.sandbox
        cfg = sb.config
        route = next((r for r in _ROUTES if r.method == method and r.pattern.fullmatch(path)), None)
        is_search = route is not None and route.search
        sb._count_request(is_search)
        if route is not None and route.write:
            sb.writes.add(method, path, write_api.write_ids(_json_or_none(raw)))
        if cfg.latency_ms:
            time.sleep(cfg.latency_ms / 1000)
        if len(self.path) > MAX_URL:
            raise ApiError(414, "URI Too Long", "VALIDATION_ERROR")

        auth = self.headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        if sb._revoked or scheme.lower() != "bearer" or token.strip() != cfg.token:
            raise ApiError(401, _AUTH_MESSAGE, "INVALID_AUTHENTICATION")
        if route is None:
            if any(r.pattern.fullmatch(path) for r in _ROUTES):
                raise ApiError(
                    405, f"HTTP {method} is not supported by {path}", "METHOD_NOT_ALLOWED"
                )
            raise not_found(f"No route for {method} {path}")
        if route.scopes and not any(s in cfg.scopes for s in route.scopes):
            missing = [route.scopes[0]]
            raise ApiError(
                403,
                "This app hasn't been granted all required scopes to make this call. Read more "
                "about required scopes here: https://developers.hubspot.com/scopes.",
                "MISSING_SCOPES",
                context={"missingScopes": missing},
                extra={
                    "errors": [
                        {
                            "message": "One or more of the following scopes are required.",
                            "context": {"requiredScopes": list(route.scopes)},
                        }
                    ],
                    "links": {"scopes": "https://developers.hubspot.com/scopes"},
                },
            )

        policy, wait = sb._limiter.admit(is_search)
        if policy is not None:
            headers = [] if is_search else sb._limiter.headers()
            if wait is not None:
                headers.append(("Retry-After", str(max(1, math.ceil(wait)))))
            sb._count_rate_limited()
            self._error(_rate_limit_error(policy), cid, headers)
            return
        limit_headers = [] if is_search else sb._limiter.headers()

        fault = sb._faults.pick(path)
        truncate = False
        if fault is not None:
            sb._count_fault(fault)
            if fault == "reset":
                self._abort()
                return
            if fault == "slow":
                time.sleep(cfg.slow_seconds)
            elif fault == "truncated":
                truncate = True
            elif fault in ("429", "daily429"):
                sb._count_rate_limited()
                policy = "DAILY" if fault == "daily429" else "TEN_SECONDLY_ROLLING"
                self._error(_rate_limit_error(policy), cid, limit_headers)
                return
            elif fault == "401":
                self._error(ApiError(401, _AUTH_MESSAGE, "INVALID_AUTHENTICATION"), cid)
                return
            else:
                status, message, category = _FAULT_BODIES[fault]
                self._error(ApiError(status, message, category), cid, limit_headers)
                return

        query = parse_qs(query_s, keep_blank_values=True)
        match = route.pattern.fullmatch(path)
        assert match is not None
        try:
            body = getattr(self, "_h_" + route.handler)(query, raw, match)
        except ApiError as err:
            self._error(err, cid, limit_headers)
            return
        status = 200
        if isinstance(body, tuple):  # (status, body) from handlers that answer 207 or 204
            status, body = body
        if status == 204:
            sb._count_response(204)
            self._write(204, b"", [("X-HubSpot-Correlation-Id", cid), *limit_headers])
            return
        self._json(status, body, cid, limit_headers, truncate=truncate)

    # ---- API handlers -------------------------------------------------------------------------
    @staticmethod
    def _parse_json(raw: bytes) -> Any:
        try:
            return json.loads(raw.decode("utf-8") or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise bad_request(f"Invalid input JSON: {exc}") from None

    def _h_list_contacts(self, query: dict[str, list[str]], raw: bytes, m: re.Match[str]) -> Any:
        limit = _int_param(query, "limit", 10, 1, 100)
        archived = _bool_param(query, "archived")
        after = query.get("after", [None])[-1] or None
        portal = self.server.sandbox.portal
        return portal.list_page(after, limit, _properties_param(query), archived)

    def _h_search_contacts(self, query: dict[str, list[str]], raw: bytes, m: re.Match[str]) -> Any:
        return self.server.sandbox.portal.search(self._parse_json(raw))

    def _h_get_contact(self, query: dict[str, list[str]], raw: bytes, m: re.Match[str]) -> Any:
        archived = _bool_param(query, "archived")
        portal = self.server.sandbox.portal
        return portal.get_contact_json(m["id"], _properties_param(query), archived)

    def _h_properties(self, query: dict[str, list[str]], raw: bytes, m: re.Match[str]) -> Any:
        return {"results": self.server.sandbox.portal.property_definitions()}

    def _h_search_lists(self, query: dict[str, list[str]], raw: bytes, m: re.Match[str]) -> Any:
        body = self._parse_json(raw)
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
        return self.server.sandbox.portal.search_lists(text, count, offset)

    def _h_get_list(self, query: dict[str, list[str]], raw: bytes, m: re.Match[str]) -> Any:
        return self.server.sandbox.portal.get_list_json(m["id"])

    def _h_memberships(self, query: dict[str, list[str]], raw: bytes, m: re.Match[str]) -> Any:
        limit = _int_param(query, "limit", 100, 1, 250)
        after = query.get("after", [None])[-1] or None
        return self.server.sandbox.portal.list_memberships(m["id"], after, limit)

    def _h_contact_memberships(
        self, query: dict[str, list[str]], raw: bytes, m: re.Match[str]
    ) -> Any:
        return self.server.sandbox.portal.contact_memberships(m["id"])

    def _h_account(self, query: dict[str, list[str]], raw: bytes, m: re.Match[str]) -> Any:
        return self.server.sandbox.account_details()

    def _h_batch_update(self, query: dict[str, list[str]], raw: bytes, m: re.Match[str]) -> Any:
        return write_api.batch_update(self.server.sandbox.portal, self._parse_json(raw))

    def _h_batch_archive(self, query: dict[str, list[str]], raw: bytes, m: re.Match[str]) -> Any:
        return write_api.batch_archive(self.server.sandbox.portal, self._parse_json(raw))

    def _h_batch_read(self, query: dict[str, list[str]], raw: bytes, m: re.Match[str]) -> Any:
        return write_api.batch_read(self.server.sandbox.portal, self._parse_json(raw))

    def _h_membership_change(
        self, query: dict[str, list[str]], raw: bytes, m: re.Match[str]
    ) -> Any:
        portal = self.server.sandbox.portal
        return write_api.list_membership(
            portal, m["id"], self._parse_json(raw), add=m["op"] == "add"
        )

    def _h_token_info(self, query: dict[str, list[str]], raw: bytes, m: re.Match[str]) -> Any:
        cfg = self.server.sandbox.config
        return write_api.token_info(cfg.token, cfg.scopes, cfg.portal_id, self._parse_json(raw))

    # ---- admin path ---------------------------------------------------------------------------
    def _admin(self, method: str, path: str, query_s: str, raw: bytes, cid: str) -> None:
        host = self.client_address[0]
        if not (host.startswith("127.") or host in ("::1", "::ffff:127.0.0.1")):
            self._error(
                ApiError(403, "The admin path answers loopback clients only", "FORBIDDEN"), cid
            )
            return
        sb = self.server.sandbox
        portal = sb.portal
        parts = [p for p in path.split("/") if p][1:]
        try:
            body = self._parse_json(raw) if raw else {}
            status, out = 200, self._admin_route(method, parts, body, sb, portal)
            if isinstance(out, tuple):
                status, out = out
        except ApiError as err:
            self._write_admin(err.status, err.body(cid), cid)
            return
        except KeyError as exc:
            err = not_found(str(exc.args[0]) if exc.args else "not found")
            self._write_admin(404, err.body(cid), cid)
            return
        except (ValueError, TypeError) as exc:
            self._write_admin(400, bad_request(str(exc)).body(cid), cid)
            return
        self._write_admin(status, out, cid)

    def _write_admin(self, status: int, obj: Any, cid: str) -> None:
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self._write(status, body, [("Content-Type", JSON_TYPE), ("X-HubSpot-Correlation-Id", cid)])

    def _admin_route(
        self, method: str, parts: list[str], body: Any, sb: Sandbox, portal: Portal
    ) -> Any:
        # Only contacts/{id}/... and lists/{id}/... carry an id in the second segment.
        has_id = len(parts) > 1 and parts[0] in ("contacts", "lists")
        key = (method, tuple("{id}" if i == 1 and has_id else p for i, p in enumerate(parts)))
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        if key == ("GET", ("stats",)):
            return sb.stats.as_dict()
        if key == ("GET", ("info",)):
            return sb.info()
        if key == ("GET", ("writes",)):
            return {"writes": sb.writes.as_dicts()}
        if key == ("POST", ("contacts",)):
            return 201, {"id": portal.create_contact(body.get("properties") or {})}
        if key == ("GET", ("contacts", "{id}")):
            contact = portal.contact(parts[1])
            if contact is None:
                raise KeyError(f"no contact {parts[1]}")
            return contact
        if key == ("PATCH", ("contacts", "{id}")):
            portal.update_contact(parts[1], body.get("properties") or {})
            return portal.contact(parts[1])
        if key == ("POST", ("contacts", "{id}", "archive")):
            portal.archive_contact(parts[1])
            return portal.contact(parts[1])
        if key == ("POST", ("contacts", "{id}", "restore")):
            portal.restore_contact(parts[1])
            return portal.contact(parts[1])
        if key == ("POST", ("merge",)):
            winner = body.get("winnerId") or body.get("primaryObjectId")
            loser = body.get("loserId") or body.get("objectIdToMerge")
            if winner is None or loser is None:
                raise ValueError("merge needs winnerId and loserId")
            portal.merge_contacts(str(winner), str(loser))
            return portal.contact(str(winner))
        if key == ("POST", ("set-modified",)):
            ids = body.get("ids") or []
            when = body.get("when")
            if when is None:
                raise ValueError("set-modified needs when (ISO datetime or epoch ms)")
            return {"updated": portal.set_modified([str(i) for i in ids], _parse_when(when))}
        if key == ("POST", ("lists", "{id}", "add")):
            return {"added": portal.add_to_list(parts[1], [str(i) for i in body.get("ids") or []])}
        if key == ("POST", ("lists", "{id}", "remove")):
            ids = [str(i) for i in body.get("ids") or []]
            return {"removed": portal.remove_from_list(parts[1], ids)}
        if key == ("POST", ("faults",)):
            sb.set_faults(float(body.get("rate", 0.0)), body.get("kinds"))
            return {"rate": sb._faults.rate, "kinds": list(sb._faults.kinds)}
        if key == ("POST", ("fail-next",)):
            sb.fail_next(str(body.get("kind")), int(body.get("count", 1)), body.get("path"))
            return {"ok": True}
        if key == ("POST", ("token", "revoke")):
            sb.revoke_token()
            return {"revoked": True}
        if key == ("POST", ("token", "restore")):
            sb.restore_token()
            return {"revoked": False}
        raise not_found(f"No admin route for {method} /_sandbox/{'/'.join(parts)}")


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8") or "null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def _parse_when(value: Any) -> dt.datetime | int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    text = str(value)
    if text.isdigit():
        return int(text)
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class Sandbox:
    """A HubSpot-faithful local server. `with Sandbox(cfg) as sb:` starts and stops it."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        now = self.config.now if self.config.now is not None else time.time()
        self.portal = Portal(self.config, int(now * 1000))
        self._limiter = _Limiter(self.config)
        self._faults = _Faults(self.config)
        self._stats_lock = threading.Lock()
        self._requests = 0
        self._search_requests = 0
        self._rate_limited = 0
        self._fault_counts: collections.Counter[str] = collections.Counter()
        self._responses: collections.Counter[int] = collections.Counter()
        self._revoked = False
        #: Every write request received (batch update/archive, list changes), in order.
        self.writes = write_api.WriteLog()
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None

    # ---- lifecycle ----------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread; return the base URL (e.g. http://127.0.0.1:54321)."""
        if self._server is not None:
            raise RuntimeError("sandbox already started")
        server = _HttpServer((host, port), self)
        self._server = server
        bound_host, bound_port = server.server_address[:2]
        shown = bound_host if ":" not in str(bound_host) else f"[{bound_host}]"
        if shown in ("0.0.0.0", "[::]"):
            shown = "127.0.0.1"
        self._base_url = f"http://{shown}:{bound_port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="hubsync-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self._base_url

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with server.conn_lock:
            conns = list(server.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> Sandbox:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("sandbox not started")
        return self._base_url

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def token(self) -> str:
        return self.config.token

    # ---- controls -----------------------------------------------------------------------------
    def set_faults(self, rate: float, kinds: Iterable[str] | None = None) -> None:
        """Inject faults at `rate` (0..1), choosing among `kinds` (default: all random kinds)."""
        self._faults.configure(rate, kinds)

    def fail_next(self, kind: str, count: int = 1, path: str | None = None) -> None:
        """Force the next `count` API requests (whose path starts with `path`, if given) to fail
        with `kind`: one of FAULT_KINDS, "401" (token rejected once) or "daily429"."""
        self._faults.force(kind, count, path)

    def clear_faults(self) -> None:
        """Drop pending `fail_next` faults and stop random ones."""
        self._faults.clear()
        self._faults.configure(0.0, None)

    def revoke_token(self) -> None:
        """Every API request answers 401 until `restore_token()`."""
        self._revoked = True

    def restore_token(self) -> None:
        self._revoked = False

    # ---- stats --------------------------------------------------------------------------------
    @property
    def stats(self) -> SandboxStats:
        with self._stats_lock:
            return SandboxStats(
                requests=self._requests,
                search_requests=self._search_requests,
                rate_limited=self._rate_limited,
                faults_injected=dict(self._fault_counts),
                responses=dict(self._responses),
            )

    def reset_stats(self) -> None:
        with self._stats_lock:
            self._requests = self._search_requests = self._rate_limited = 0
            self._fault_counts.clear()
            self._responses.clear()

    def _count_request(self, search: bool) -> None:
        with self._stats_lock:
            self._requests += 1
            if search:
                self._search_requests += 1

    def _count_rate_limited(self) -> None:
        with self._stats_lock:
            self._rate_limited += 1

    def _count_fault(self, kind: str) -> None:
        with self._stats_lock:
            self._fault_counts[kind] += 1

    def _count_response(self, status: int) -> None:
        with self._stats_lock:
            self._responses[status] += 1

    # ---- static answers -----------------------------------------------------------------------
    def account_details(self) -> dict[str, Any]:
        return {
            "portalId": self.config.portal_id,
            "accountType": "STANDARD",
            "timeZone": "Europe/Berlin",
            "companyCurrency": "EUR",
            "additionalCurrencies": ["USD", "GBP"],
            "utcOffset": "+01:00",
            "utcOffsetMilliseconds": 3_600_000,
            "uiDomain": "app-eu1.hubspot.com",
            "dataHostingLocation": "eu1",
        }

    def info(self) -> dict[str, Any]:
        cfg = self.config
        return {
            "baseUrl": self._base_url,
            "portalId": cfg.portal_id,
            "contacts": cfg.contacts,
            "seed": cfg.seed,
            "hostile": cfg.hostile,
            "rateLimit": cfg.rate_limit,
            "searchRateLimit": cfg.search_rate_limit,
            "liveContacts": self.portal.live_count(),
        }


def serve_forever(
    config: SandboxConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    on_ready: Callable[[Sandbox], None] | None = None,
) -> None:
    """Start a sandbox and block until Ctrl-C (or SIGTERM), then stop it cleanly.

    `on_ready(sandbox)` runs once it is serving (the CLI prints base URL and token there).
    """

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    sandbox = Sandbox(config)
    sandbox.start(host, port)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_term) if in_main else None
    try:
        if on_ready is not None:
            on_ready(sandbox)
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
        if in_main:
            signal.signal(signal.SIGTERM, previous)
