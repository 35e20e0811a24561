"""The Contacts page's bulk panel: tick rows, set a property, preview, confirm, and the job
writes HubSpot and is listed in the audit log."""

from __future__ import annotations

from sync_helpers import fast_client

from hubsync_core.sandbox import Sandbox, SandboxConfig
from hubsync_core.sync.engine import run_sync
from hubsync_core.sync.model import SyncOptions


def test_ticked_rows_get_a_property_after_preview_and_confirmation(harness) -> None:
    config = SandboxConfig(contacts=40, seed=4, rate_limit=0, search_rate_limit=0)
    with Sandbox(config) as sandbox:
        harness.environ.update(
            HUBSPOT_ACCESS_TOKEN=sandbox.token, HUBSPOT_BASE_URL=sandbox.base_url
        )
        harness.client = fast_client(sandbox)
        app = harness.resources(harness.settings())
        assert run_sync(app.settings, harness.db, harness.client, SyncOptions(mode="full")).ok

        at = harness.app("contacts")
        at.toggle(key="bulk_open").set_value(True).run()
        at.radio(key="bulk_scope").set_value("ticked").run()
        options = at.multiselect(key="bulk_ticked").options
        assert len(options) >= 2
        ticked = [o.rsplit("· ", 1)[1] for o in options[:2]]
        at.multiselect(key="bulk_ticked").set_value(ticked).run()
        at.selectbox(key="bulk_action").set_value("set").run()
        at.selectbox(key="bulk_prop").set_value("jobtitle").run()
        at.text_input(key="bulk_value_text").input("Bulk tester").run()
        at.button(key="bulk_preview_btn").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert harness.metric(at, "Contacts to change") == "2"
        assert sandbox.writes.items() == []  # a preview sends nothing

        at.checkbox(key="bulk_confirm_ok").check().run()
        at.button(key="bulk_confirm_send").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert harness.jobs.wait(30)
        for cid in ticked:
            assert sandbox.portal.contact(cid)["properties"]["jobtitle"] == "Bulk tester"
        entry = app.service.bulk_log()[0]
        assert entry.written == 2 and entry.actor.startswith("dashboard")
