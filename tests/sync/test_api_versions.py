"""HUBSPOT_API_VERSION: every path family syncs the same portal exactly; a retired v3 is
survived on the default settings and named in the error when chosen."""

from __future__ import annotations

import pytest
from sync_helpers import HarnessFactory, settle, stored_contacts

from hubsync_core.hubspot import endpoints


@pytest.mark.parametrize("version", endpoints.API_VERSIONS)
def test_every_api_version_syncs_the_portal_exactly(
    make_sqlite_harness: HarnessFactory, version: str
) -> None:
    # A date version runs against a portal whose v3 is retired: one v3 call would fail it.
    retired = version != "v3"
    h = make_sqlite_harness(300, seed=5, retire_v3=retired, env={"HUBSPOT_API_VERSION": version})
    stats = h.run("full", sweep=True)
    assert stats.ok, stats.message
    assert not stats.warnings  # lists and memberships were read too
    h.assert_exact()
    paths = h.client.paths
    family = "/crm/v3/" if version == "v3" else f"/crm/objects/{version}/"
    assert paths.contacts.startswith(family) and paths.contacts_search.startswith(family)


def test_with_v3_retired_full_and_incremental_syncs_succeed_on_the_defaults(
    make_sqlite_harness: HarnessFactory,
) -> None:
    h = make_sqlite_harness(300, seed=6, retire_v3=True)
    assert h.settings.api_version == endpoints.DEFAULT_API_VERSION
    full = h.run("full")
    assert full.ok, full.message
    changed = h.sandbox.portal.live_ids()[:5]
    for hubspot_id in changed:
        h.sandbox.portal.update_contact(hubspot_id, {"jobtitle": "Moved to 2026-03"})
    settle(h.sandbox, changed)
    incremental = h.run("incremental")
    assert incremental.ok, incremental.message
    assert incremental.total_synced >= len(changed)
    stored = stored_contacts(h.db).live
    assert all(stored[i]["jobtitle"] == "Moved to 2026-03" for i in changed)
    h.assert_exact()


def test_choosing_a_retired_v3_fails_naming_the_setting(
    make_sqlite_harness: HarnessFactory,
) -> None:
    h = make_sqlite_harness(50, seed=7, retire_v3=True, env={"HUBSPOT_API_VERSION": "v3"})
    stats = h.run("full")
    assert stats.status == "failed"
    assert "HUBSPOT_API_VERSION" in stats.message
    assert "404" in stats.message
    assert "HUBSPOT_API_VERSION" in stats.hint
