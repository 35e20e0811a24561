"""The sandbox's Webhooks Journal (2026-03): every emitted event, in entries, with offsets.

Wire shape (HubSpot's published spec): `GET .../earliest` and `GET .../offset/{offset}/next`
answer `{currentOffset, expiresAt, url}`; the entry's events are at `url`. Authorised by a
client-credentials token from `POST /oauth/v1/token`. Entries older than 3 days are dropped.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from .errors import ApiError

KEEP_MS = 3 * 24 * 3600 * 1000
TOKEN_SECONDS = 1800
EARLIEST = re.compile(r"/webhooks-journal/journal/2026-03/earliest/?")
NEXT = re.compile(r"/webhooks-journal/journal/2026-03/offset/(?P<offset>[^/]+)/next/?")
TOKEN = "/oauth/v1/token"


@dataclass(frozen=True)
class _Entry:
    offset: str
    at_ms: int
    events: list[dict[str, Any]]


class Journal:
    """Entries of events in arrival order; tokens issued to the app's client credentials."""

    def __init__(self, client_id: str, client_secret: str) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._lock = threading.Lock()
        self._entries: list[_Entry] = []
        self._tokens: dict[str, float] = {}

    def append(self, events: list[dict[str, Any]]) -> None:
        now = int(time.time() * 1000)
        with self._lock:
            self._entries.append(_Entry(str(uuid.uuid4()), now, list(events)))
            while self._entries and self._entries[0].at_ms < now - KEEP_MS:
                self._entries.pop(0)

    def issue_token(self, form: bytes) -> dict[str, Any]:
        """`POST /oauth/v1/token` with `grant_type=client_credentials`."""
        fields = {k: v[-1] for k, v in parse_qs(form.decode("utf-8", "replace")).items()}
        if fields.get("grant_type") != "client_credentials":
            raise ApiError(400, "unsupported grant_type", "BAD_REQUEST")
        if (fields.get("client_id"), fields.get("client_secret")) != (
            self._client_id,
            self._client_secret,
        ):
            raise ApiError(401, "invalid client credentials", "INVALID_AUTHENTICATION")
        token = "journal-" + secrets.token_hex(16)
        with self._lock:
            self._tokens[token] = time.monotonic() + TOKEN_SECONDS
        return {"access_token": token, "token_type": "bearer", "expires_in": TOKEN_SECONDS}

    def authorised(self, header: str | None) -> bool:
        scheme, _, token = (header or "").partition(" ")
        with self._lock:
            until = self._tokens.get(token.strip())
        return scheme.lower() == "bearer" and until is not None and time.monotonic() < until

    def answer(self, path: str, base_url: str) -> tuple[int, dict[str, Any] | None]:
        """The entry `earliest` or `offset/{o}/next` names: 200 with its link, or 204."""
        with self._lock:
            entries = list(self._entries)
        if EARLIEST.fullmatch(path):
            index = 0
        else:
            match = NEXT.fullmatch(path)
            assert match is not None
            positions = [i for i, e in enumerate(entries) if e.offset == match["offset"]]
            if not positions:
                raise ApiError(404, f"offset {match['offset']} is not in the journal", "NOT_FOUND")
            index = positions[0] + 1
        if index >= len(entries):
            return 204, None
        entry = entries[index]
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
        return 200, {
            "currentOffset": entry.offset,
            "expiresAt": expires.isoformat().replace("+00:00", "Z"),
            "url": f"{base_url}/_sandbox/journal-data/{entry.offset}",
        }

    def data(self, offset: str) -> list[dict[str, Any]]:
        with self._lock:
            for entry in self._entries:
                if entry.offset == offset:
                    return entry.events
        raise KeyError(f"no journal entry {offset}")

    def __len__(self) -> int:
        with self._lock:
            return sum(len(e.events) for e in self._entries)
