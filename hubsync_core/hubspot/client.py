"""HubSpot CRM client: auth, pacing, retries, typed errors and tolerant response parsing.

Knows HTTP and HubSpot, nothing of storage. The client is assembled from one module per
concern: `transport` (session, pacing, retries, errors), `contacts`, `lists` (and the
account details), `writes` (bulk operations), all reading responses through `parsing`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..config import SettingsError
from .account import AccountEndpoints
from .contacts import ContactsEndpoints
from .lists import ListsEndpoints
from .transport import DEFAULT_USER_AGENT, ClientCounters
from .writes import WriteEndpoints

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["DEFAULT_USER_AGENT", "ClientCounters", "HubSpotClient"]


class HubSpotClient(ContactsEndpoints, ListsEndpoints, AccountEndpoints, WriteEndpoints):
    """A paced, retrying HubSpot CRM client. Raises only `hubspot.errors` exceptions.

    `sleep`, `clock` and `jitter` are injectable so tests never really wait; `rate_limiter`
    may be shared by several clients of the same app.
    """

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
            "api_version": settings.api_version,
        }
        options.update(overrides)
        return cls(settings.access_token, settings.base_url, **options)
