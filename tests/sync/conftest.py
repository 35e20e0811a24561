"""Sync tests use the shared `sandbox` and `make_service` fixtures from tests/conftest.py."""

from sync_helpers import fast_client, sandbox_settings

__all__ = ["fast_client", "sandbox_settings"]
