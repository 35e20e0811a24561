"""The Changes page: the audit log of bulk operations, and undo as a previewed, confirmed
operation that runs in the background worker."""

from __future__ import annotations

from sync_helpers import fast_client

from hubsync_core.bulk.selection import Selection
from hubsync_core.sandbox import Sandbox, SandboxConfig
from hubsync_core.sync.engine import run_sync
from hubsync_core.sync.model import SyncOptions


def test_the_log_lists_operations_and_undo_restores_after_confirmation(harness) -> None:
    config = SandboxConfig(contacts=60, seed=3, rate_limit=0, search_rate_limit=0)
    with Sandbox(config) as sandbox:
        harness.environ.update(
            HUBSPOT_ACCESS_TOKEN=sandbox.token, HUBSPOT_BASE_URL=sandbox.base_url
        )
        harness.client = fast_client(sandbox)
        app = harness.resources(harness.settings())
        assert run_sync(app.settings, harness.db, harness.client, SyncOptions(mode="full")).ok
        ids = tuple(sandbox.portal.live_ids()[:5])
        before = {i: sandbox.portal.contact(i)["properties"]["jobtitle"] for i in ids}
        service = app.service
        op = service.save_bulk(
            service.preview_bulk_set(Selection(ids=ids), {"jobtitle": "Page tester"}),
            actor="user:ops@example.com",
        )
        service.run_bulk(op)

        at = harness.app("changes")
        assert not at.exception, [e.value for e in at.exception]
        page = harness.texts(at)
        assert "set jobtitle=Page tester" in page and "user:ops@example.com" in page

        at.button(key="changes_undo").click().run()
        assert harness.metric(at, "Contacts to change") == "5"
        assert at.button(key="changes_confirm_send").disabled  # not before confirming
        at.checkbox(key="changes_confirm_ok").check().run()
        at.button(key="changes_confirm_send").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert harness.jobs.wait(30)
        assert {i: sandbox.portal.contact(i)["properties"]["jobtitle"] for i in ids} == before
        assert service.bulk_log()[0].undo_of == op
