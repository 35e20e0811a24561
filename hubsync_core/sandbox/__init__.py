"""A local server that behaves like HubSpot's CRM v3 API: demo portal and test double.

It knows only HubSpot's wire format (it must never import `hubsync_core.hubspot` or
`hubsync_core.store`): a misreading of HubSpot shared by client and sandbox would never be caught.

    with Sandbox(SandboxConfig(contacts=3000)) as sb:
        client = HubSpotClient(Secret(sb.token), sb.base_url)
        sb.portal.update_contact("51", {"company": "CHAINge"})
        sb.fail_next("503")
"""

from .config import ALL_KINDS, ALL_SCOPES, FAULT_KINDS, FORCED_ONLY_KINDS, SandboxConfig
from .portal import Portal
from .server import Sandbox, SandboxStats, serve_forever

__all__ = [
    "ALL_KINDS",
    "ALL_SCOPES",
    "FAULT_KINDS",
    "FORCED_ONLY_KINDS",
    "Portal",
    "Sandbox",
    "SandboxConfig",
    "SandboxStats",
    "serve_forever",
]
