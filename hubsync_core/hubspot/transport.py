"""The session under every HubSpot call: auth, pacing, bounded retries and typed errors.

`Transport._request` is the one way a request leaves HubSpotClient: it waits for the pacing
budget, classifies the answer (JSON, retryable failure, final error) and retries with
backoff. Safe to share between threads: the sync may fetch pages in parallel, all drawing on
the one `RateLimiter` budget of this client.
"""

from __future__ import annotations

import http.client
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Self

import orjson
import requests
import requests.auth
import requests.utils
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from ..config import DEFAULT_BASE_URL, Secret
from . import endpoints, errors
from .models import RateLimitStatus
from .pacing import DEFAULT_SEARCH_PER_SECOND, RateLimiter
from .parsing import as_str, error_body, missing_scopes, rate_limit_status, retry_after

log = logging.getLogger("hubsync.hubspot")

#: Keep every GET URL under this many characters (HubSpot answers 414 at about 15k).
MAX_URL_CHARS = 8_000

# Failures of the transport that a retry can cure. requests' exceptions derive from OSError,
# so the precise classes come first and a bare OSError (a socket error leaking through) last.
_TRANSIENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    requests.Timeout,
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
)


def _package_version() -> str:
    try:
        return metadata.version("hubsync")
    except metadata.PackageNotFoundError:  # running from a source tree without install
        return "0"


DEFAULT_USER_AGENT = f"hubsync/{_package_version()}"


@dataclass(frozen=True)
class ClientCounters:
    """A snapshot of what one client has done. Every count only grows.

    - `api_calls`: HTTP requests handed to the network (every attempt, retries included).
    - `retries`: attempts repeated after a transient failure or a 429.
    - `rate_limited`: 429 responses received.
    - `errors`: calls that ended in a raised `HubSpotError`.
    - `malformed`: records skipped because they had no usable id.
    - `waited_seconds`: time spent pacing and backing off.
    """

    api_calls: int = 0
    retries: int = 0
    rate_limited: int = 0
    errors: int = 0
    malformed: int = 0
    waited_seconds: float = 0.0


def _settle_environment(session: requests.Session, base_url: str) -> None:
    """Read the environment's proxy and CA-bundle settings for `base_url` once, now.

    requests re-reads them on every request (every proxy variable scanned, no_proxy matched):
    about 0.1 ms a call, a tenth of the client's time per page at local speeds. Every request
    of this session goes to `base_url`'s host, so the answer is the same each time; it is
    taken when the client is built (as `requests` would, minus later changes to the
    environment). Authentication never comes from `~/.netrc` either way (see `_BearerAuth`).
    """
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False


def _json_body(response: requests.Response) -> Any:
    """The response's JSON, exactly as `response.json()` reads it, at half its cost on a
    contacts page: orjson for a UTF-8 body, unless orjson could read it differently (a run of
    20 digits or more may be an integer beyond 64 bits, which orjson turns into a float) or
    refuses it (NaN, lone surrogates, another charset): then `response.json()`."""
    encoding = response.encoding
    content = response.content
    if (encoding is None or encoding.lower() in _UTF8) and _LONG_DIGITS not in content.translate(
        _DIGITS_AS_ZERO
    ):
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            pass
    return response.json()


_UTF8 = frozenset({"utf-8", "utf8"})
#: Every ASCII digit as "0" (one C pass), so a long digit run is one substring test.
_DIGITS_AS_ZERO = bytes(ord("0") if chr(b).isdigit() and b < 128 else b for b in range(256))
_LONG_DIGITS = b"0" * 20


class _BearerAuth(requests.auth.AuthBase):
    """Bearer auth applied per request.

    Being an `auth` object (not a header) keeps a `~/.netrc` entry from replacing the token and
    lets requests drop it on a redirect to another host.
    """

    def __init__(self, token: Secret) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        # The one place the token is revealed: into this request's header, nowhere else.
        request.headers["Authorization"] = "Bearer " + self._token.reveal()
        return request

    def __repr__(self) -> str:
        return f"_BearerAuth({self._token.masked()!r})"


@dataclass(frozen=True)
class _Retry:
    """One failed attempt that may be retried."""

    reason: str
    rate_limited: bool = False
    status: int | None = None
    correlation_id: str | None = None
    retry_after: float | None = None


class Transport:
    """Auth, pacing, retries and counters; the endpoint mixins build on `_request`.

    `sleep`, `clock` and `jitter` are injectable so tests never really wait; `rate_limiter`
    may be shared by several clients of the same app.
    """

    def __init__(
        self,
        token: Secret,
        base_url: str = DEFAULT_BASE_URL,
        *,
        max_retries: int = 5,
        max_rate_limit_retries: int = 10,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        search_counts_toward_burst: bool = False,
        search_per_second: int = DEFAULT_SEARCH_PER_SECOND,
        rate_limiter: RateLimiter | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        max_url_chars: int = MAX_URL_CHARS,
        api_version: str = endpoints.DEFAULT_API_VERSION,
    ) -> None:
        if not isinstance(token, Secret):
            raise TypeError("token must be a config.Secret")
        if not token:
            raise ValueError("an access token is required")
        if max_retries < 0 or max_rate_limit_retries < 0:
            raise ValueError("retry bounds must be 0 or more")
        self._token = token
        self._paths = endpoints.for_version(api_version)
        self._base_url = base_url.rstrip("/")
        self._max_retries = max_retries
        self._max_rate_limit_retries = max_rate_limit_retries
        self._timeout = (connect_timeout, read_timeout)
        self._sleep = sleep
        self._jitter = jitter
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._user_agent = user_agent
        self._max_url_chars = max_url_chars
        self._owns_session = session is None
        if session is None:
            session = requests.Session()
            # Room for the sync's parallel fetchers; retries are ours, not urllib3's.
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            _settle_environment(session, self._base_url)
        self._session = session
        self._auth = _BearerAuth(token)
        self._limiter = rate_limiter or RateLimiter(
            search_per_second=search_per_second,
            search_counts_toward_burst=search_counts_toward_burst,
            clock=clock,
            sleep=sleep,
        )
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(
            ("api_calls", "retries", "rate_limited", "errors", "malformed"), 0
        )
        self._waited = 0.0
        self._rate_limit = RateLimitStatus()

    # ------------------------------------------------------------------ lifecycle

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r}, token={self._token.masked()!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections (an injected session is left to its owner)."""
        if self._owns_session:
            self._session.close()

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def rate_limit(self) -> RateLimitStatus:
        """The last `X-HubSpot-RateLimit-*` headers seen (all None before any)."""
        with self._lock:
            return self._rate_limit

    @property
    def paths(self) -> endpoints.ApiPaths:
        """The paths of the API version this client speaks (`HUBSPOT_API_VERSION`)."""
        return self._paths

    @property
    def limiter(self) -> RateLimiter:
        return self._limiter

    def counters(self) -> ClientCounters:
        """A consistent snapshot of this client's counters."""
        with self._lock:
            return ClientCounters(**self._counts, waited_seconds=self._waited)

    # ------------------------------------------------------------------ transport

    def _add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def _wait(self, seconds: float, *, already_slept: bool = False) -> None:
        if seconds <= 0:
            return
        if not already_slept:
            self._sleep(seconds)
        with self._lock:
            self._waited += seconds

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^(n-1))]."""
        ceiling = min(self._backoff_cap, self._backoff_base * (2 ** (attempt - 1)))
        return max(0.0, self._jitter() * ceiling)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> dict[str, Any]:
        """Send one API call with pacing and bounded retries; return the JSON object."""
        search = self._paths.is_search(path)
        shown = self._redact(path)  # a token-info path carries the token itself
        failures = 0
        throttled = 0
        while True:
            # The limiter sleeps itself; the wait is only recorded here.
            self._wait(self._limiter.acquire(search=search), already_slept=True)
            outcome = self._attempt(method, path, params, body, search)
            if isinstance(outcome, dict):
                return outcome
            if isinstance(outcome, errors.HubSpotError):
                self._add("errors")
                raise outcome
            if outcome.rate_limited:
                throttled += 1
                if throttled > self._max_rate_limit_retries:
                    self._add("errors")
                    raise errors.RateLimitedError(
                        f"HubSpot kept answering 429 (rate limited) to {method} {shown} after "
                        f"{self._max_rate_limit_retries} retries",
                        status=429,
                        correlation_id=outcome.correlation_id,
                    )
                delay = outcome.retry_after
                if delay is None:
                    delay = self._backoff(throttled)
                attempt, bound = throttled, self._max_rate_limit_retries
            else:
                failures += 1
                if failures > self._max_retries:
                    self._add("errors")
                    raise errors.TransientError(
                        f"{method} {shown} failed after {self._max_retries} retries: "
                        f"{outcome.reason}",
                        status=outcome.status,
                        correlation_id=outcome.correlation_id,
                    )
                delay = outcome.retry_after
                if delay is None:
                    delay = self._backoff(failures)
                attempt, bound = failures, self._max_retries
            log.warning(
                "%s %s: %s; retry %d/%d in %.2f s%s",
                method,
                shown,
                outcome.reason,
                attempt,
                bound,
                delay,
                f" (correlationId {outcome.correlation_id})" if outcome.correlation_id else "",
            )
            self._add("retries")
            self._wait(delay)

    def _attempt(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: Any,
        search: bool,
    ) -> dict[str, Any] | _Retry | errors.HubSpotError:
        """One HTTP exchange, classified: a JSON object, a retryable failure, or a final error."""
        shown = self._redact(path)
        self._add("api_calls")
        started = time.perf_counter()
        try:
            response = self._session.request(
                method,
                self._base_url + path,
                params=params,
                json=body,
                headers={"Accept": "application/json", "User-Agent": self._user_agent},
                auth=self._auth,
                timeout=self._timeout,
            )
        except _TRANSIENT_EXCEPTIONS as exc:
            return self._transport_failure(method, path, started, exc)
        except requests.RequestException as exc:
            # Invalid URL, too many redirects...: a retry will not help.
            log.debug("%s %s -> %s", method, shown, type(exc).__name__)
            return errors.HubSpotError(
                f"Could not send {method} {shown} to HubSpot ({type(exc).__name__}): "
                f"{self._redact(str(exc))[:300]}"
            )
        except OSError as exc:
            return self._transport_failure(method, path, started, exc)

        status = response.status_code
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.debug("%s %s -> %d in %.0f ms", method, shown, status, elapsed_ms)
        headers = response.headers
        limits = rate_limit_status(headers)
        if limits is not None:
            with self._lock:
                self._rate_limit = limits
            self._limiter.observe(limits, search=search)

        if 200 <= status < 300:
            if status == 204:
                return {}
            try:
                data = _json_body(response)
            except ValueError:  # includes requests' JSONDecodeError; truncated or not JSON
                return _Retry(f"unreadable JSON in a {status} response", status=status)
            if not isinstance(data, dict):
                return _Retry(
                    f"unexpected JSON ({type(data).__name__}) in a {status} response",
                    status=status,
                )
            return data

        error = error_body(response)
        correlation_id = as_str(error.get("correlationId")) or headers.get(
            "X-HubSpot-Correlation-Id"
        )
        message = self._redact(as_str(error.get("message")) or response.reason or "")
        category = as_str(error.get("category")) or as_str(error.get("errorType"))

        if status == 429:
            self._add("rate_limited")
            policy = as_str(error.get("policyName")) or ""
            if policy.upper() == "DAILY" or (
                not policy and limits is not None and limits.daily_remaining == 0
            ):
                return errors.DailyLimitError(
                    "HubSpot's daily API limit for this portal is used up; "
                    "it resets at midnight in the portal's time zone",
                    status=429,
                    correlation_id=correlation_id,
                    category=category,
                )
            if search and policy.upper() == "SECONDLY":
                self._limiter.search_refused()  # jitter beat the margin: widen it
            reason = f"429 rate limited ({policy})" if policy else "429 rate limited"
            return _Retry(
                reason,
                rate_limited=True,
                status=429,
                correlation_id=correlation_id,
                retry_after=retry_after(headers.get("Retry-After")),
            )
        if status == 408 or (status >= 500 and status not in (501, 505)):
            return _Retry(
                f"{status} {response.reason or 'server error'}".strip(),
                status=status,
                correlation_id=correlation_id,
                retry_after=retry_after(headers.get("Retry-After")),
            )
        if status == 401:
            return errors.AuthenticationError(
                "HubSpot rejected the access token", status=401, correlation_id=correlation_id
            )
        if status == 403:
            scopes = missing_scopes(error)
            if scopes:
                text = "The access token is missing the scope(s): " + ", ".join(scopes)
            else:
                text = f"HubSpot refused access to {shown} (403)"
                if message:
                    text += f": {message}"
            return errors.MissingScopesError(
                text,
                scopes=scopes,
                status=403,
                correlation_id=correlation_id,
                category=category,
            )
        if status == 414:
            text = f"HubSpot refused {method} {shown}: the request URL is too long (414)"
        elif status == 404:
            text = f"HubSpot found nothing at {shown} (404)"
            if message:
                text += f": {message}"
            if self._paths.is_collection(path):
                # These paths exist in every portal: the API version itself is gone.
                return errors.ApiVersionError(
                    f"{text}. HubSpot no longer answers the {self._paths.version!r} API "
                    f"version here: set HUBSPOT_API_VERSION to one it serves "
                    f"({', '.join(v for v in endpoints.API_VERSIONS if v != self._paths.version)})",
                    status=404,
                    correlation_id=correlation_id,
                    category=category,
                )
        else:
            text = f"HubSpot rejected {method} {shown} ({status})"
            if message:
                text += f": {message}"
        return errors.BadRequestError(
            text, status=status, correlation_id=correlation_id, category=category
        )

    def _transport_failure(
        self, method: str, path: str, started: float, exc: BaseException
    ) -> _Retry:
        elapsed_ms = (time.perf_counter() - started) * 1000
        shown = self._redact(path)
        log.debug("%s %s -> %s after %.0f ms", method, shown, type(exc).__name__, elapsed_ms)
        # Only the class name: requests' messages can be long and carry the full URL.
        return _Retry(type(exc).__name__)

    def _redact(self, text: str) -> str:
        """Remove the token from text that came from elsewhere (a server echoing it)."""
        secret = self._token.reveal()
        return text.replace(secret, self._token.masked()) if secret in text else text
