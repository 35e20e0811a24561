"""Every HubSpot API path the client uses, per API version, and nothing else.

HubSpot ships date-versioned APIs each March and September (each supported 18 months) and
retires `/crm/v3/` in September 2027. `HUBSPOT_API_VERSION` picks the path family:

| what | v3 | 2026-03 | 2026-09 |
|---|---|---|---|
| contacts list, search, one, batch | `/crm/v3/objects/contacts...` | `/crm/objects/2026-03/contacts...` | `/crm/objects/2026-09/contacts...` |
| properties | `/crm/v3/properties/contacts` | `/crm/properties/2026-03/contacts` | as 2026-03 |
| lists | `/crm/v3/lists/...` | `/crm/lists/2026-03/...` | as 2026-03 |

Request and response bodies are the same in every family. 2026-09 has no properties or
lists release of its own, so it uses 2026-03's. Account details are not date-versioned.
Ids are quoted into paths so a hostile or malformed id can never reach another endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from ..config import HUBSPOT_API_VERSIONS

#: The API versions HubSync speaks; the first is the default.
API_VERSIONS: tuple[str, ...] = HUBSPOT_API_VERSIONS
DEFAULT_API_VERSION = API_VERSIONS[0]
#: GET: portal id, time zone, hosting location; a cheap connection test (not versioned).
ACCOUNT_DETAILS = "/account-info/v3/details"
#: POST: what a private-app token (or service key) may do: `{"tokenKey": token}`.
TOKEN_INFO = "/oauth/v2/private-apps/get/access-token-info"
#: GET + token: what an OAuth access token may do.
OAUTH_TOKEN_INFO_PREFIX = "/oauth/v1/access-tokens/"
#: GET: today's API calls and limit for the portal's private apps / service keys.
API_USAGE_DAILY = "/account-info/v3/api-usage/daily/private-apps"
#: The release used for families a date version did not ship (properties, lists in 2026-09).
_FALLBACK = {"2026-09": "2026-03"}


def quote_segment(value: str) -> str:
    """`value` quoted as one path segment (never empty)."""
    return _segment(value)


def _segment(value: str) -> str:
    text = str(value).strip()
    if not text:
        raise ValueError("an id in a HubSpot path must not be empty")
    return quote(text, safe="")


@dataclass(frozen=True)
class ApiPaths:
    """The paths of one API version (`for_version` builds them)."""

    version: str

    def __post_init__(self) -> None:
        if self.version not in API_VERSIONS:
            raise ValueError(
                f"unknown HubSpot API version {self.version!r}; use one of "
                + ", ".join(API_VERSIONS)
            )

    def _family(self, kind: str) -> str:
        """`/crm/v3/<kind>` or `/crm/<kind>/<version>`."""
        if self.version == "v3":
            return f"/crm/v3/{kind}"
        if kind == "objects":
            return f"/crm/objects/{self.version}"
        return f"/crm/{kind}/{_FALLBACK.get(self.version, self.version)}"

    @property
    def contacts(self) -> str:
        """GET: page through contacts (`limit`, `after`, `properties`, `archived`); POST: create."""
        return self._family("objects") + "/contacts"

    @property
    def contacts_search(self) -> str:
        """POST: search contacts (filterGroups, sorts, properties, limit, after); own rate limit."""
        return self.contacts + "/search"

    def contact(self, contact_id: str) -> str:
        """GET/PATCH/DELETE: one contact."""
        return f"{self.contacts}/{_segment(contact_id)}"

    def contacts_batch(self, operation: str) -> str:
        """POST: `read`, `update`, `archive`, `upsert` or `create` up to 100 contacts."""
        if operation not in ("read", "update", "archive", "upsert", "create"):
            raise ValueError(f"unknown batch operation {operation!r}")
        return f"{self.contacts}/batch/{operation}"

    @property
    def contact_properties(self) -> str:
        """GET: every contact property definition."""
        return self._family("properties") + "/contacts"

    @property
    def lists_search(self) -> str:
        """POST: search lists by name (`query`, `count`, `offset`)."""
        return self._family("lists") + "/search"

    def list_by_id(self, list_id: str) -> str:
        """GET: one list's definition."""
        return f"{self._family('lists')}/{_segment(list_id)}"

    def list_memberships(self, list_id: str) -> str:
        """GET: the record ids in one list (`limit` <= 250, `after`)."""
        return f"{self.list_by_id(list_id)}/memberships"

    def list_memberships_add(self, list_id: str) -> str:
        """PUT: add record ids (a JSON array) to a static list."""
        return f"{self.list_memberships(list_id)}/add"

    def list_memberships_remove(self, list_id: str) -> str:
        """PUT: remove record ids (a JSON array) from a static list."""
        return f"{self.list_memberships(list_id)}/remove"

    def contact_list_memberships(self, contact_id: str) -> str:
        """GET: the lists one contact (object type 0-1) belongs to."""
        return f"{self._family('lists')}/records/0-1/{_segment(contact_id)}/memberships"

    def is_search(self, path: str) -> bool:
        """True when `path` is a CRM search endpoint (paced by the search limit)."""
        return path == self.contacts_search

    def is_collection(self, path: str) -> bool:
        """True for paths that exist in every portal (a 404 there means a retired version)."""
        return path in (
            self.contacts,
            self.contacts_search,
            self.contact_properties,
            self.lists_search,
        )


def for_version(version: str = DEFAULT_API_VERSION) -> ApiPaths:
    """The paths of `version` (one of `API_VERSIONS`)."""
    return ApiPaths(version)


#: The default version's paths, for code that does not carry a client (tests, tools).
DEFAULT = for_version()


def hubspot_record_url(portal_id: str | int, hubspot_id: str | int) -> str:
    """The contact's page in HubSpot's web app (not an API path)."""
    return f"https://app.hubspot.com/contacts/{portal_id}/record/0-1/{hubspot_id}"


# -- freshness: the Webhooks Journal (2026-03) and its client-credentials token ---------------

#: POST (form): a client-credentials access token for a project app.
OAUTH_TOKEN = "/oauth/v1/token"
#: GET: the oldest journal entry still held (3 days): `{currentOffset, expiresAt, url}`.
JOURNAL_EARLIEST = "/webhooks-journal/journal/2026-03/earliest"


def journal_next(offset: str) -> str:
    """GET: the journal entry after `offset` (same shape as `JOURNAL_EARLIEST`)."""
    return f"/webhooks-journal/journal/2026-03/offset/{_segment(offset)}/next"


# -- writes (bulk operations): see `hubspot.writes`; batch and list paths are on `ApiPaths` --

#: POST: what a private-app / service-key token may do (`{"tokenKey"}` → `{scopes, hubId}`).
PRIVATE_APP_TOKEN_INFO = TOKEN_INFO
