"""HubSpot's Webhooks Journal (2026-03): a pull alternative to webhooks for project apps.

The app reads a journal of its subscribed events (held 3 days) entry by entry: `earliest`,
then `offset/{currentOffset}/next`. Each answer is `{currentOffset, expiresAt, url}`; the
events themselves (the same objects a webhook delivery carries) are at `url`, a short-lived
link that needs no token. Calls are authorised by a client-credentials token of the project
app (scope `webhooks-journal-data-access`), fetched with the app's client id and secret and
renewed before it expires. "Nothing new" may come back as 204 or 404: both mean caught up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from hubsync_core.config import Secret
from hubsync_core.hubspot import endpoints

#: Renew a token this many seconds before HubSpot says it expires.
TOKEN_MARGIN_S = 60
JOURNAL_SCOPE = "webhooks-journal-data-access"


class JournalError(Exception):
    """The journal could not be read this time (the poller retries on its next turn)."""


@dataclass(frozen=True)
class JournalEntry:
    """One journal entry: its offset and the events it holds."""

    offset: str
    events: list[Any]


class JournalClient:
    """Reads the Webhooks Journal with a client-credentials token."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: Secret,
        *,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._client_id = client_id
        self._secret = client_secret
        self._session = session or requests.Session()
        self._timeout = timeout
        self._clock = clock
        self._token: Secret | None = None
        self._token_until = 0.0
        self.calls = 0

    def close(self) -> None:
        self._session.close()

    def _access_token(self) -> Secret:
        if self._token is not None and self._clock() < self._token_until:
            return self._token
        data = self._send(
            "POST",
            self._base + endpoints.OAUTH_TOKEN,
            data={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._secret.reveal(),
                "scope": JOURNAL_SCOPE,
            },
        )
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise JournalError("HubSpot answered the token request without an access_token")
        lifetime = data.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, (int, float)) else 1800.0
        self._token = Secret(token)
        self._token_until = self._clock() + max(seconds - TOKEN_MARGIN_S, 1.0)
        return self._token

    def fetch(self, offset: str | None) -> JournalEntry | None:
        """The entry after `offset` (the earliest without one), or None when caught up."""
        path = endpoints.JOURNAL_EARLIEST if offset is None else endpoints.journal_next(offset)
        headers = {"Authorization": f"Bearer {self._access_token().reveal()}"}
        answer = self._send("GET", self._base + path, headers=headers, empty_ok=True)
        if answer is None:
            return None
        current, url = answer.get("currentOffset"), answer.get("url")
        if not isinstance(current, str) or not isinstance(url, str):
            raise JournalError("a journal answer lacks currentOffset or url")
        if current == offset:
            return None
        events = self._send("GET", url)  # a signed link: no token
        if isinstance(events, dict):
            events = events.get("events") or events.get("results") or []
        if not isinstance(events, list):
            raise JournalError("the journal data is not a list of events")
        return JournalEntry(offset=current, events=events)

    def _send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
        empty_ok: bool = False,
    ) -> Any:
        self.calls += 1
        try:
            response = self._session.request(
                method, url, headers=headers, data=data, timeout=self._timeout
            )
        except requests.RequestException as exc:
            raise JournalError(f"journal request failed: {type(exc).__name__}") from None
        if empty_ok and response.status_code in (204, 404):
            return None
        if response.status_code >= 400:
            raise JournalError(
                f"journal request answered {response.status_code}"
                + (
                    " (check the app's client id and secret)"
                    if response.status_code in (400, 401)
                    else ""
                )
            )
        try:
            return response.json()
        except ValueError:
            raise JournalError("the journal answered something that is not JSON") from None
