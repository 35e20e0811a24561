"""Every HubSpot API path the client uses, and nothing else.

HubSpot plans to replace the `/crm/v3/...` paths with date-versioned ones
(`/crm/objects/2026-03/contacts`); this module is the one place to change when that happens.
Ids are quoted into paths so a hostile or malformed id can never reach another endpoint.
"""

from __future__ import annotations

from urllib.parse import quote

#: GET: page through contacts (`limit`, `after`, `properties`, `archived`).
CONTACTS = "/crm/v3/objects/contacts"
#: POST: search contacts (filterGroups, sorts, properties, limit, after); own rate limit.
CONTACTS_SEARCH = "/crm/v3/objects/contacts/search"
#: POST: read up to 100 contacts by id (`{"inputs": [{"id"}], "properties": [...]}`).
CONTACTS_BATCH_READ = "/crm/v3/objects/contacts/batch/read"
#: GET: every contact property definition.
CONTACT_PROPERTIES = "/crm/v3/properties/contacts"
#: POST: search lists by name (`query`, `count`, `offset`).
LISTS_SEARCH = "/crm/v3/lists/search"
#: GET: portal id, time zone, hosting location; a cheap connection test.
ACCOUNT_DETAILS = "/account-info/v3/details"

#: Paths answered by CRM search, which has its own per-second limit (see pacing).
SEARCH_PATHS = frozenset({CONTACTS_SEARCH})


def _segment(value: str) -> str:
    text = str(value).strip()
    if not text:
        raise ValueError("an id in a HubSpot path must not be empty")
    return quote(text, safe="")


def list_by_id(list_id: str) -> str:
    """GET: one list's definition."""
    return f"/crm/v3/lists/{_segment(list_id)}"


def list_memberships(list_id: str) -> str:
    """GET: the record ids in one list (`limit` <= 250, `after`)."""
    return f"/crm/v3/lists/{_segment(list_id)}/memberships"


def contact_list_memberships(contact_id: str) -> str:
    """GET: the lists one contact (object type 0-1) belongs to."""
    return f"/crm/v3/lists/records/0-1/{_segment(contact_id)}/memberships"


def is_search(path: str) -> bool:
    """True when `path` is a CRM search endpoint (paced by the search limit)."""
    return path in SEARCH_PATHS


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
