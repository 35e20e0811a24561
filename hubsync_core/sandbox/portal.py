"""The sandbox portal: the state of a fake HubSpot portal, assembled from one module per concern.

- `portal_store`: the id-sorted arrays, generated and overridden property values, rendering,
  the list endpoint and get-by-id;
- `portal_search`: the search endpoint;
- `portal_lists`: contact lists and memberships;
- `portal_mutations`: create, update, archive, restore, merge, bulk modification times.

Every method is thread-safe (one re-entrant lock shared by all of them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .config import SandboxConfig
from .portal_lists import ListsMixin
from .portal_mutations import MutationsMixin
from .portal_search import SearchMixin
from .portal_store import (
    ARCHIVED,
    LIVE,
    MERGED,
    decode_cursor,
    encode_cursor,
    iso_ms,
    iso_one,
)

__all__ = [
    "ARCHIVED",
    "LIVE",
    "MERGED",
    "Portal",
    "decode_cursor",
    "encode_cursor",
    "iso_ms",
    "iso_one",
]


class Portal(MutationsMixin, ListsMixin, SearchMixin):
    """State of the fake HubSpot portal; every method is thread-safe."""

    def __init__(self, config: SandboxConfig, now_ms: int) -> None:
        super().__init__(config, now_ms)
        self._init_lists()
        #: Called after every mutation with `{"kind", "id", "at", ...}` (webhook events).
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
