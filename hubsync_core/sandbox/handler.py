"""The sandbox's HTTP plumbing: a threading HTTP/1.1 server and the request pipeline every API
call goes through (route lookup, token, scopes, rate limits, injected faults, handler, JSON),
plus the loopback-only admin path. What each endpoint answers lives in the endpoint families
listed in `routes.py`."""

from __future__ import annotations

import json
import math
import socket
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from . import versions
from .errors import ApiError, bad_request, not_found
from .limits import AUTH_MESSAGE, FAULT_BODIES, MAX_URL, rate_limit_error
from .routes import ADMIN_ROUTES, API_ROUTES
from .routing import AdminRequest, Request, parse_json
from .writes import write_ids

if TYPE_CHECKING:
    from .server import Sandbox

JSON_TYPE = "application/json;charset=utf-8"


def _dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON: orjson (a contacts page in a fifth of the standard library's time,
    and the sandbox shares the machine with the sync it serves), the standard library for what
    orjson refuses (keys that are not text, integers beyond 64 bits)."""
    try:
        return orjson.dumps(obj)
    except orjson.JSONEncodeError:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.aborted: set[socket.socket] = set()
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, Handler)

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


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "HubSyncSandbox/1.0"
    timeout = 300  # idle keep-alive connections end eventually
    server: HttpServer

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
        body = _dumps(obj)
        if truncate:
            body = body[: len(body) // 2]
        all_headers = [("Content-Type", JSON_TYPE), ("X-HubSpot-Correlation-Id", correlation_id)]
        all_headers += headers or []
        self.server.sandbox.count_response(status)
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
        entry = self.server.sandbox.requests.arrived(method, path, parts.query)
        try:
            self._api(method, path, parts.query, raw, correlation_id)
        except ApiError as err:
            self._error(err, correlation_id)
        finally:
            self.server.sandbox.requests.answered(entry)

    def _api(self, method: str, path: str, query_s: str, raw: bytes, cid: str) -> None:
        sb = self.server.sandbox
        cfg = sb.config
        # Every API version's paths map to one routing table; a retired version's to none.
        routed = versions.route_path(path, v3_retired=cfg.retire_v3) or ""
        route = next(
            (r for r in API_ROUTES if r.method == method and r.pattern.fullmatch(routed)), None
        )
        is_search = route is not None and route.search
        sb.count_request(is_search)
        if route is not None and route.write:
            sb.writes.add(method, path, write_ids(raw))
        if cfg.latency_ms:
            time.sleep(cfg.latency_ms / 1000)
        if len(self.path) > MAX_URL:
            raise ApiError(414, "URI Too Long", "VALIDATION_ERROR")
        # The journal and its token use the app's client credentials, not the CRM token.
        answer = sb.freshness.api_route(
            method, path, raw, self.headers.get("Authorization"), sb.base_url
        )
        if answer is not None:
            if answer[0] == 204:
                self._write(204, b"", [("X-HubSpot-Correlation-Id", cid)])
            else:
                self._json(answer[0], answer[1], cid)
            return

        auth = self.headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        if sb.token_revoked or scheme.lower() != "bearer" or token.strip() != cfg.token:
            raise ApiError(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION")
        if route is None:
            if any(r.pattern.fullmatch(routed) for r in API_ROUTES):
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

        policy, wait = sb.limiter.admit(is_search)
        if policy is not None:
            headers = [] if is_search else sb.limiter.headers()
            if wait is not None:
                headers.append(("Retry-After", str(max(1, math.ceil(wait)))))
            sb.count_rate_limited()
            self._error(rate_limit_error(policy), cid, headers)
            return
        limit_headers = [] if is_search else sb.limiter.headers()

        fault = sb.faults.pick(path, routed)
        truncate = False
        if fault is not None:
            sb.count_fault(fault)
            if fault == "reset":
                self._abort()
                return
            if fault == "slow":
                time.sleep(cfg.slow_seconds)
            elif fault == "truncated":
                truncate = True
            elif fault in ("429", "daily429"):
                sb.count_rate_limited()
                policy = "DAILY" if fault == "daily429" else "TEN_SECONDLY_ROLLING"
                self._error(rate_limit_error(policy), cid, limit_headers)
                return
            elif fault == "401":
                self._error(ApiError(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION"), cid)
                return
            else:
                status, message, category = FAULT_BODIES[fault]
                self._error(ApiError(status, message, category), cid, limit_headers)
                return

        query = parse_qs(query_s, keep_blank_values=True)
        match = route.pattern.fullmatch(routed)
        assert match is not None
        try:
            body = route.handler(Request(sb, query, raw, match))
        except ApiError as err:
            self._error(err, cid, limit_headers)
            return
        status = 200
        if isinstance(body, tuple):  # (status, body): 207 Multi-Status, 204 No Content
            status, body = body
        if status == 204:
            sb.count_response(status)
            self._write(status, b"", [("X-HubSpot-Correlation-Id", cid), *limit_headers])
            return
        self._json(status, body, cid, limit_headers, truncate=truncate)

    # ---- admin path ---------------------------------------------------------------------------
    def _admin(self, method: str, path: str, query_s: str, raw: bytes, cid: str) -> None:
        host = self.client_address[0]
        if not (host.startswith("127.") or host in ("::1", "::ffff:127.0.0.1")):
            self._error(
                ApiError(403, "The admin path answers loopback clients only", "FORBIDDEN"), cid
            )
            return
        sb = self.server.sandbox
        parts = [p for p in path.split("/") if p][1:]
        try:
            body = parse_json(raw) if raw else {}
            status, out = 200, _admin_answer(method, parts, body, sb)
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


def _admin_answer(method: str, parts: list[str], body: Any, sb: Sandbox) -> Any:
    """Run the admin route for `method /_sandbox/<parts>`; KeyError/ValueError become 404/400."""
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    for admin in ADMIN_ROUTES:
        ident = admin.match(method, parts)
        if ident is not None:
            return admin.handler(AdminRequest(sb, body, ident))
    raise not_found(f"No admin route for {method} /_sandbox/{'/'.join(parts)}")
