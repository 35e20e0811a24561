"""Helpers for tests that sync from a sandbox portal (importable as `portal_helpers`)."""

from __future__ import annotations

from typing import Any

from hubsync_core.config import Secret, Settings
from hubsync_core.hubspot.client import HubSpotClient
from hubsync_core.sandbox import Sandbox


def sandbox_settings(sandbox: Sandbox, database_url: str, **env: str) -> Settings:
    """Settings for a sandbox portal, built from an explicit environment (no .env read).

    The audit after incremental syncs is off unless a test turns it on: tests that count a
    sync's calls measure the sync alone (tests/audit turn it on).
    """
    values = {
        "HUBSPOT_ACCESS_TOKEN": sandbox.token,
        "HUBSPOT_BASE_URL": sandbox.base_url,
        "DATABASE_URL": database_url,
        "HUBSYNC_AUDIT_AFTER_SYNC": "false",
        **env,
    }
    return Settings.load(values, dotenv_path=None, secrets_path=None)


def fast_client(sandbox: Sandbox, **options: Any) -> HubSpotClient:
    """A client whose backoffs take microseconds, so fault tests stay fast."""
    defaults: dict[str, Any] = {"backoff_base": 0.001, "backoff_cap": 0.005, "max_retries": 3}
    defaults.update(options)
    return HubSpotClient(Secret(sandbox.token), sandbox.base_url, **defaults)
