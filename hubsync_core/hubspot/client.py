"""HubSpot CRM client: auth, pacing, retries, typed errors and tolerant response parsing.

Knows HTTP and HubSpot, nothing of storage. Safe to share between threads: the sync may fetch
pages in parallel, all drawing on the one `RateLimiter` budget of this client.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import requests
import requests.auth
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from ..config import DEFAULT_BASE_URL, Secret, SettingsError
from . import endpoints
from .errors import (
    AuthenticationError,
    BadRequestError,
    DailyLimitError,
    HubSpotError,
    MissingScopesError,
    RateLimitedError,
    SearchCapError,
    TransientError,
)
from .models import (
    AccountDetails,
    ContactPage,
    ContactRecord,
    ListInfo,
    ListsPage,
    MembershipPage,
    PropertyDefinition,
    RateLimitStatus,
    SearchPage,
)
from .pacing import DEFAULT_SEARCH_PER_SECOND, RateLimiter

if TYPE_CHECKING:
    from ..config import Settings

log = logging.getLogger("hubsync.hubspot")

#: Keep every GET URL under this many characters (HubSpot answers 414 at about 15k).
MAX_URL_CHARS = 8_000
#: HubSpot's search never pages past this many results.
SEARCH_RESULT_CAP = 10_000
#: Never sleep longer than this on one Retry-After, whatever the header says.
MAX_RETRY_AFTER_SECONDS = 600.0

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


class HubSpotClient:
    """A paced, retrying HubSpot CRM client. Raises only `hubspot.errors` exceptions.

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
    ) -> None:
        if not isinstance(token, Secret):
            raise TypeError("token must be a config.Secret")
        if not token:
            raise ValueError("an access token is required")
        if max_retries < 0 or max_rate_limit_retries < 0:
            raise ValueError("retry bounds must be 0 or more")
        self._token = token
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

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> HubSpotClient:
        """A client for the configured portal; raises `SettingsError` when no token is set."""
        if not settings.access_token:
            raise SettingsError("HUBSPOT_ACCESS_TOKEN", "is not set")
        options: dict[str, Any] = {
            "max_retries": settings.max_retries,
            "connect_timeout": settings.connect_timeout,
            "read_timeout": settings.read_timeout,
            "search_counts_toward_burst": settings.search_counts_toward_burst,
        }
        options.update(overrides)
        return cls(settings.access_token, settings.base_url, **options)

    # ------------------------------------------------------------------ lifecycle

    def __repr__(self) -> str:
        return f"HubSpotClient(base_url={self._base_url!r}, token={self._token.masked()!r})"

    def __enter__(self) -> HubSpotClient:
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
    def limiter(self) -> RateLimiter:
        return self._limiter

    def counters(self) -> ClientCounters:
        """A consistent snapshot of this client's counters."""
        with self._lock:
            return ClientCounters(**self._counts, waited_seconds=self._waited)

    # ------------------------------------------------------------------ contacts

    def list_contacts(
        self,
        properties: Sequence[str],
        after: str | None = None,
        limit: int = 100,
        archived: bool = False,
    ) -> ContactPage:
        """One page of `GET /crm/v3/objects/contacts`, naming `properties`.

        Long property lists are split over several requests for the same page (each URL under
        `max_url_chars`) and merged by id; `next_after` comes from the first of them.
        """
        if not 1 <= limit <= 100:
            raise ValueError(f"limit must be between 1 and 100, got {limit}")
        names = _clean_properties(properties)
        fixed: dict[str, str] = {"limit": str(limit), "archived": "true" if archived else "false"}
        if after:
            fixed["after"] = str(after)
        chunks = self._property_chunks(endpoints.CONTACTS, fixed, names)
        page: list[ContactRecord] = []
        merged: dict[str, ContactRecord] = {}
        next_after: str | None = None
        for index, chunk in enumerate(chunks):
            params = dict(fixed)
            if chunk:
                params["properties"] = ",".join(chunk)
            data = self._request("GET", endpoints.CONTACTS, params=params)
            records = self._parse_contacts(data.get("results"), count_malformed=index == 0)
            if index == 0:
                # The first chunk's records are the page, as HubSpot listed them (repeats
                # and unusable ids included: the sync refuses those with a reason).
                page = records
                merged = {record.id: record for record in records if record.id}
                next_after = _next_after(data)
                continue
            for record in records:
                first = merged.get(record.id)
                if first is not None:
                    first.properties.update(record.properties)
            if len(records) != len(merged) or any(r.id not in merged for r in records):
                # A contact created, archived or merged between the chunk requests: the
                # records of the first chunk still stand; the next sync corrects the rest.
                log.warning(
                    "Property chunk %d of %d for one contacts page returned other ids than "
                    "the first; kept the first chunk's records",
                    index + 1,
                    len(chunks),
                )
        return ContactPage(contacts=page, next_after=next_after)

    def search_contacts(
        self,
        filter_groups: list[dict[str, Any]],
        properties: Sequence[str],
        sorts: list[dict[str, Any]] | None = None,
        limit: int = 200,
        after: str | None = None,
    ) -> SearchPage:
        """One page of `POST /crm/v3/objects/contacts/search` (paced by the search limit).

        Raises `SearchCapError` when HubSpot refuses to page past its 10,000-result cap.
        """
        if not 1 <= limit <= 200:
            raise ValueError(f"limit must be between 1 and 200, got {limit}")
        body: dict[str, Any] = {
            "filterGroups": filter_groups,
            "properties": _clean_properties(properties),
            "limit": limit,
        }
        if sorts:
            body["sorts"] = sorts
        if after:
            body["after"] = str(after)
        try:
            data = self._request("POST", endpoints.CONTACTS_SEARCH, body=body)
        except BadRequestError as exc:
            if exc.status == 400 and _beyond_search_cap(exc.message, after, limit):
                raise SearchCapError(
                    f"HubSpot search cannot page past {SEARCH_RESULT_CAP:,} results; "
                    "narrow the filter (for example by hs_object_id ranges)",
                    status=400,
                    correlation_id=exc.correlation_id,
                    category=exc.category,
                ) from None
            raise
        return SearchPage(
            contacts=self._parse_contacts(data.get("results")),
            total=_int(data.get("total")) or 0,
            next_after=_next_after(data),
        )

    def get_properties(self) -> list[PropertyDefinition]:
        """Every contact property definition (`GET /crm/v3/properties/contacts`)."""
        data = self._request("GET", endpoints.CONTACT_PROPERTIES)
        found: list[PropertyDefinition] = []
        for item in _dicts(data.get("results")):
            name = item.get("name")
            if not isinstance(name, str) or not name:
                continue
            options = tuple(
                str(option["value"])
                for option in _dicts(item.get("options"))
                if option.get("value") is not None
            )
            found.append(
                PropertyDefinition(
                    name=name,
                    label=_str(item.get("label")) or name,
                    type=_str(item.get("type")) or "string",
                    field_type=_str(item.get("fieldType")) or "",
                    group_name=_str(item.get("groupName")) or "",
                    options=options,
                )
            )
        return found

    # ------------------------------------------------------------------ lists

    def search_lists(self, query: str = "", count: int = 500, offset: int = 0) -> ListsPage:
        """One page of `POST /crm/v3/lists/search`."""
        if not 1 <= count <= 500:
            raise ValueError(f"count must be between 1 and 500, got {count}")
        if offset < 0:
            raise ValueError(f"offset must not be negative, got {offset}")
        body = {"query": query, "count": count, "offset": offset}
        data = self._request("POST", endpoints.LISTS_SEARCH, body=body)
        lists = [info for item in _dicts(data.get("lists")) if (info := _list_info(item))]
        return ListsPage(
            lists=lists,
            has_more=bool(data.get("hasMore")),
            offset=_int(data.get("offset")) or offset + len(lists),
            total=_int(data.get("total")),
        )

    def get_list(self, list_id: str) -> ListInfo:
        """One list's definition (`GET /crm/v3/lists/{listId}`)."""
        data = self._request("GET", endpoints.list_by_id(list_id))
        item = data.get("list") if isinstance(data.get("list"), dict) else data
        info = _list_info(item)
        if info is None:
            raise BadRequestError(f"HubSpot returned no list for id {list_id}")
        return info

    def list_memberships(
        self, list_id: str, after: str | None = None, limit: int = 250
    ) -> MembershipPage:
        """One page of a list's member record ids (`GET /crm/v3/lists/{id}/memberships`)."""
        if not 1 <= limit <= 250:
            raise ValueError(f"limit must be between 1 and 250, got {limit}")
        params = {"limit": str(limit)}
        if after:
            params["after"] = str(after)
        data = self._request("GET", endpoints.list_memberships(list_id), params=params)
        ids: list[str] = []
        for item in data.get("results") or ():
            value = item.get("recordId") if isinstance(item, dict) else item
            if value is not None and not isinstance(value, (dict, list, bool)) and str(value):
                ids.append(str(value))
        return MembershipPage(record_ids=ids, next_after=_next_after(data))

    def contact_list_ids(self, contact_id: str) -> list[str]:
        """The ids of every list one contact is in (all pages)."""
        path = endpoints.contact_list_memberships(contact_id)
        ids: list[str] = []
        after: str | None = None
        while True:
            params = {"after": after} if after else None
            data = self._request("GET", path, params=params)
            for item in _dicts(data.get("results")):
                value = item.get("listId")
                if value is not None and str(value):
                    ids.append(str(value))
            next_after = _next_after(data)
            if not next_after or next_after == after:
                return list(dict.fromkeys(ids))
            after = next_after

    # ------------------------------------------------------------------ account

    def account_details(self) -> AccountDetails:
        """Portal id, time zone, hosting location and the current rate-limit status."""
        data = self._request("GET", endpoints.ACCOUNT_DETAILS)
        portal = data.get("portalId")
        if portal is None or isinstance(portal, (dict, list, bool)):
            raise HubSpotError("HubSpot's account details carried no portalId")
        return AccountDetails(
            portal_id=str(portal),
            time_zone=_str(data.get("timeZone")),
            data_hosting_location=_str(data.get("dataHostingLocation")),
            account_type=_str(data.get("accountType")),
            rate_limit=self.rate_limit,
        )

    # ------------------------------------------------------------------ other modules

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> dict[str, Any]:
        """One paced, retried API call for the endpoint modules built on this client
        (`hubspot.writes`); answers the JSON object (`{}` for 204)."""
        return self._request(method, path, params=params, body=body)

    def parse_contacts(self, results: Any) -> list[ContactRecord]:
        """Contact records from a response's `results` array (tolerant, as every read)."""
        return self._parse_contacts(results)

    # ------------------------------------------------------------------ parsing

    def _parse_contacts(self, results: Any, *, count_malformed: bool = True) -> list[ContactRecord]:
        if not isinstance(results, list):
            return []
        records = [_contact(item) for item in results]
        malformed = sum(1 for record in records if not record.id)
        if malformed and count_malformed:
            self._add("malformed", malformed)
            log.warning("%d contact record(s) without a usable id", malformed)
        return records

    def _property_chunks(
        self, path: str, fixed: Mapping[str, str], names: list[str]
    ) -> list[list[str]]:
        """Split `names` so that each request URL stays under `max_url_chars`."""
        if not names:
            return [[]]
        base = len(self._base_url) + len(path) + 1
        base += sum(len(quote_plus(k)) + len(quote_plus(v)) + 2 for k, v in fixed.items())
        budget = self._max_url_chars - base - len("properties=")
        chunks: list[list[str]] = []
        current: list[str] = []
        used = 0
        for name in names:
            # requests encodes the comma separator as %2C: three characters each.
            size = len(quote_plus(name)) + (3 if current else 0)
            if size > budget:
                raise ValueError(f"property name {name[:40]!r}... is too long for one request")
            if used + size > budget:
                chunks.append(current)
                current, used = [], 0
                size = len(quote_plus(name))
            current.append(name)
            used += size
        chunks.append(current)
        return chunks

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
        search = endpoints.is_search(path)
        failures = 0
        throttled = 0
        while True:
            # The limiter sleeps itself; the wait is only recorded here.
            self._wait(self._limiter.acquire(search=search), already_slept=True)
            outcome = self._attempt(method, path, params, body, search)
            if isinstance(outcome, dict):
                return outcome
            if isinstance(outcome, HubSpotError):
                self._add("errors")
                raise outcome
            if outcome.rate_limited:
                throttled += 1
                if throttled > self._max_rate_limit_retries:
                    self._add("errors")
                    raise RateLimitedError(
                        f"HubSpot kept answering 429 (rate limited) to {method} {path} after "
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
                    raise TransientError(
                        f"{method} {path} failed after {self._max_retries} retries: "
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
                path,
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
    ) -> dict[str, Any] | _Retry | HubSpotError:
        """One HTTP exchange, classified: a JSON object, a retryable failure, or a final error."""
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
            log.debug("%s %s -> %s", method, path, type(exc).__name__)
            return HubSpotError(
                f"Could not send {method} {path} to HubSpot ({type(exc).__name__}): "
                f"{self._redact(str(exc))[:300]}"
            )
        except OSError as exc:
            return self._transport_failure(method, path, started, exc)

        status = response.status_code
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.debug("%s %s -> %d in %.0f ms", method, path, status, elapsed_ms)
        headers = response.headers
        limits = _rate_limit_status(headers)
        if limits is not None:
            with self._lock:
                self._rate_limit = limits
            self._limiter.observe(limits, search=search)

        if 200 <= status < 300:
            if status == 204:
                return {}
            try:
                data = response.json()
            except ValueError:  # includes requests' JSONDecodeError; truncated or not JSON
                return _Retry(f"unreadable JSON in a {status} response", status=status)
            if not isinstance(data, dict):
                return _Retry(
                    f"unexpected JSON ({type(data).__name__}) in a {status} response",
                    status=status,
                )
            return data

        error = _error_body(response)
        correlation_id = _str(error.get("correlationId")) or headers.get("X-HubSpot-Correlation-Id")
        message = self._redact(_str(error.get("message")) or response.reason or "")
        category = _str(error.get("category")) or _str(error.get("errorType"))

        if status == 429:
            self._add("rate_limited")
            policy = _str(error.get("policyName")) or ""
            if policy.upper() == "DAILY" or (
                not policy and limits is not None and limits.daily_remaining == 0
            ):
                return DailyLimitError(
                    "HubSpot's daily API limit for this portal is used up; "
                    "it resets at midnight in the portal's time zone",
                    status=429,
                    correlation_id=correlation_id,
                    category=category,
                )
            reason = f"429 rate limited ({policy})" if policy else "429 rate limited"
            return _Retry(
                reason,
                rate_limited=True,
                status=429,
                correlation_id=correlation_id,
                retry_after=_retry_after(headers.get("Retry-After")),
            )
        if status == 408 or (status >= 500 and status not in (501, 505)):
            return _Retry(
                f"{status} {response.reason or 'server error'}".strip(),
                status=status,
                correlation_id=correlation_id,
                retry_after=_retry_after(headers.get("Retry-After")),
            )
        if status == 401:
            return AuthenticationError(
                "HubSpot rejected the access token", status=401, correlation_id=correlation_id
            )
        if status == 403:
            scopes = _missing_scopes(error)
            if scopes:
                text = "The access token is missing the scope(s): " + ", ".join(scopes)
            else:
                text = f"HubSpot refused access to {path} (403)"
                if message:
                    text += f": {message}"
            return MissingScopesError(
                text,
                scopes=scopes,
                status=403,
                correlation_id=correlation_id,
                category=category,
            )
        if status == 414:
            text = f"HubSpot refused {method} {path}: the request URL is too long (414)"
        elif status == 404:
            text = f"HubSpot found nothing at {path} (404)"
            if message:
                text += f": {message}"
        else:
            text = f"HubSpot rejected {method} {path} ({status})"
            if message:
                text += f": {message}"
        return BadRequestError(
            text, status=status, correlation_id=correlation_id, category=category
        )

    def _transport_failure(
        self, method: str, path: str, started: float, exc: BaseException
    ) -> _Retry:
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.debug("%s %s -> %s after %.0f ms", method, path, type(exc).__name__, elapsed_ms)
        # Only the class name: requests' messages can be long and carry the full URL.
        return _Retry(type(exc).__name__)

    def _redact(self, text: str) -> str:
        """Remove the token from text that came from elsewhere (a server echoing it)."""
        secret = self._token.reveal()
        return text.replace(secret, self._token.masked()) if secret in text else text


# ---------------------------------------------------------------------- helpers


def _clean_properties(properties: Sequence[str]) -> list[str]:
    if isinstance(properties, str):
        raise TypeError("properties must be a sequence of names, not one string")
    names: list[str] = []
    for raw in properties:
        name = str(raw).strip()
        if not name:
            continue
        if "," in name:
            raise ValueError(f"property name {name!r} must not contain a comma")
        names.append(name)
    return list(dict.fromkeys(names))


def _contact(item: Any) -> ContactRecord:
    """A ContactRecord for every item, usable or not.

    An item without a usable id gets `id=""` (with what was there kept in `properties` under
    `_raw_id`) rather than vanishing here: the sync refuses it with a recorded reason, so
    nothing HubSpot sends is ever dropped silently.
    """
    if not isinstance(item, dict):
        return ContactRecord(id="", properties={"_raw_item": repr(item)[:200]})
    raw_id = item.get("id")
    usable = raw_id is not None and not isinstance(raw_id, (bool, dict, list, float))
    contact_id = str(raw_id).strip() if usable else ""
    if not contact_id:
        return ContactRecord(id="", properties={"_raw_id": repr(raw_id)[:200]})
    properties = item.get("properties")
    if not isinstance(properties, dict):
        properties = {}
    else:
        for value in properties.values():
            if value is not None and type(value) is not str:
                properties = {str(k): _property_value(v) for k, v in properties.items()}
                break
    archived = item.get("archived")
    return ContactRecord(
        id=contact_id,
        properties=properties,
        created_at=_str(item.get("createdAt")),
        updated_at=_str(item.get("updatedAt")),
        archived=archived is True or (isinstance(archived, str) and archived.lower() == "true"),
        archived_at=_str(item.get("archivedAt")),
    )


def _property_value(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _str(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return value if isinstance(value, str) else str(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _next_after(data: Mapping[str, Any]) -> str | None:
    paging = data.get("paging")
    nxt = paging.get("next") if isinstance(paging, dict) else None
    after = nxt.get("after") if isinstance(nxt, dict) else None
    if after is None or isinstance(after, (dict, list, bool)):
        return None
    return str(after) or None


def _list_info(item: Any) -> ListInfo | None:
    if not isinstance(item, dict):
        return None
    list_id = item.get("listId", item.get("id"))
    if list_id is None or isinstance(list_id, (dict, list, bool)) or not str(list_id):
        return None
    size = _int(item.get("size"))
    extra = item.get("additionalProperties")
    if size is None and isinstance(extra, dict):
        size = _int(extra.get("hs_list_size"))
    return ListInfo(
        list_id=str(list_id),
        name=_str(item.get("name")) or "",
        size=size,
        processing_type=_str(item.get("processingType")),
    )


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(str(raw).strip())
    except ValueError:
        return None


def _rate_limit_status(headers: Mapping[str, str]) -> RateLimitStatus | None:
    """The response's `X-HubSpot-RateLimit-*` headers, or None when it carried none."""
    prefix = "X-HubSpot-RateLimit-"
    status = RateLimitStatus(
        max=_header_int(headers, prefix + "Max"),
        remaining=_header_int(headers, prefix + "Remaining"),
        interval_ms=_header_int(headers, prefix + "Interval-Milliseconds"),
        daily=_header_int(headers, prefix + "Daily"),
        daily_remaining=_header_int(headers, prefix + "Daily-Remaining"),
        secondly=_header_int(headers, prefix + "Secondly"),
        secondly_remaining=_header_int(headers, prefix + "Secondly-Remaining"),
    )
    return None if status == RateLimitStatus() else status


def _retry_after(raw: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not raw:
        return None
    try:
        seconds = float(raw.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds) or seconds < 0:
        return 0.0
    return min(seconds, MAX_RETRY_AFTER_SECONDS)


def _error_body(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _missing_scopes(error: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    contexts = [error.get("context")]
    contexts += [e.get("context") for e in _dicts(error.get("errors"))]
    for context in contexts:
        if isinstance(context, dict):
            scopes = context.get("missingScopes")
            if isinstance(scopes, list):
                found += [str(s) for s in scopes if s is not None and str(s)]
            elif isinstance(scopes, str) and scopes:
                found.append(scopes)
    return list(dict.fromkeys(found))


def _beyond_search_cap(message: str, after: str | None, limit: int) -> bool:
    compact = message.replace(",", "")
    if str(SEARCH_RESULT_CAP) in compact:
        return True
    offset = _int(after)
    return offset is not None and offset + limit > SEARCH_RESULT_CAP
