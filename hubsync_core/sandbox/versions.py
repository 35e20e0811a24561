"""API versions the sandbox answers, as HubSpot's date-versioned families do.

HubSpot serves the same contact, property and list operations under several path families:
`/crm/v3/objects/contacts` and the date-versioned `/crm/objects/2026-03/contacts`,
`/crm/objects/2026-09/contacts`, `/crm/properties/2026-03/contacts`, `/crm/lists/2026-03/...`
(request and response bodies are the same). The sandbox routes every family to one
implementation by mapping its path to the v3 form; `retire_v3` makes `/crm/v3/` answer 404,
as it will once HubSpot stops supporting it (September 2027).
"""

from __future__ import annotations

import re

#: Date-versioned releases per family (properties and lists had no 2026-09 release).
RELEASES: dict[str, frozenset[str]] = {
    "objects": frozenset({"2026-03", "2026-09"}),
    "properties": frozenset({"2026-03"}),
    "lists": frozenset({"2026-03"}),
}
_DATED = re.compile(r"/crm/(objects|properties|lists)/(\d{4}-\d{2})(/.*)?")
_V3 = "/crm/v3/"


def route_path(path: str, *, v3_retired: bool) -> str | None:
    """The v3 form of `path` that the routing table knows, or None when the path's API version
    is not served (a retired v3, an unknown date version): the caller answers 404."""
    if path.startswith(_V3) or path == _V3.rstrip("/"):
        return None if v3_retired else path
    match = _DATED.fullmatch(path)
    if match is None:
        return path
    family, version, rest = match.groups()
    if version not in RELEASES[family]:
        return None
    return f"/crm/v3/{family}{rest or ''}"
