"""The sandbox HTTP server: HubSpot's CRM v3 wire format, auth, rate limits and faults.

One `Sandbox` owns a `Portal` (the data) and serves it from a background thread
(ThreadingHTTPServer, HTTP/1.1 keep-alive, see `handler.py`). The endpoints are listed in
`routes.py`, one endpoint family per module. The admin path `/_sandbox/...` (`admin.py`) mutates
the portal from another process; it needs no token and answers loopback clients only.
"""

from __future__ import annotations

import collections
import contextlib
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .config import SandboxConfig
from .freshness import SandboxFreshness
from .handler import HttpServer
from .limits import Faults, Limiter
from .portal import Portal
from .request_log import RequestLog
from .writes import WriteLog


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


class Sandbox:
    """A HubSpot-faithful local server. `with Sandbox(cfg) as sb:` starts and stops it."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        now = self.config.now if self.config.now is not None else time.time()
        self.portal = Portal(self.config, int(now * 1000))
        #: Webhook events of every mutation, the Webhooks Journal, live activity.
        self.freshness = SandboxFreshness(self.config, self.portal)
        self.limiter = Limiter(self.config)
        self.faults = Faults(self.config)
        self._stats_lock = threading.Lock()
        self._requests = 0
        self._search_requests = 0
        self._rate_limited = 0
        self._fault_counts: collections.Counter[str] = collections.Counter()
        self._responses: collections.Counter[int] = collections.Counter()
        self.token_revoked = False
        #: Every write request received (batch update/archive, list changes), in order.
        self.writes = WriteLog()
        #: Every API request received, in order (tests read it; gates can hold requests).
        self.requests = RequestLog()
        self._server: HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None

    # ---- lifecycle ----------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread; return the base URL (e.g. http://127.0.0.1:54321)."""
        if self._server is not None:
            raise RuntimeError("sandbox already started")
        server = HttpServer((host, port), self)
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
        self.freshness.start()
        return self._base_url

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        self.freshness.stop()
        self.requests.release_all()
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
        self.faults.configure(rate, kinds)

    def fail_next(self, kind: str, count: int = 1, path: str | None = None) -> None:
        """Force the next `count` API requests (whose path starts with `path`, if given) to fail
        with `kind`: one of FAULT_KINDS, "401" (token rejected once) or "daily429"."""
        self.faults.force(kind, count, path)

    def clear_faults(self) -> None:
        """Drop pending `fail_next` faults and stop random ones."""
        self.faults.clear()
        self.faults.configure(0.0, None)

    def revoke_token(self) -> None:
        """Every API request answers 401 until `restore_token()`."""
        self.token_revoked = True

    def restore_token(self) -> None:
        self.token_revoked = False

    @property
    def fault_rate(self) -> float:
        return self.faults.rate

    @property
    def fault_kinds(self) -> tuple[str, ...]:
        return self.faults.kinds

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

    def count_request(self, search: bool) -> None:
        with self._stats_lock:
            self._requests += 1
            if search:
                self._search_requests += 1

    def count_rate_limited(self) -> None:
        with self._stats_lock:
            self._rate_limited += 1

    def count_fault(self, kind: str) -> None:
        with self._stats_lock:
            self._fault_counts[kind] += 1

    def count_response(self, status: int) -> None:
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
