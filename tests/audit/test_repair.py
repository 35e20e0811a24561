"""`--repair` makes a damaged copy exact, recorded as a run; a second audit proves it."""

from __future__ import annotations

from sync_helpers import db_mismatches, synced_properties

from hubsync_core.audit import DRIFT, IN_SYNC
from hubsync_core.audit.repair import repair_copy, run_audit
from hubsync_core.service import HubSyncService
from hubsync_core.store import runs

from .conftest import Audited


def test_repair_rereads_missing_and_stale_removes_extras_and_a_second_audit_is_in_sync(
    audited: Audited,
) -> None:
    portal = audited.sandbox.portal
    live = portal.live_ids()
    deleted = [live[120], live[1400]]
    extra = [audited.unused_id_after(live[900])]
    changed = [live[60], live[2600]]
    gone = live[2000]  # stale locally, archived in HubSpot after the audit looked
    audited.delete_locally(deleted)
    audited.add_locally(extra)
    for record_id in [*changed, gone]:
        portal.update_contact(record_id, {"jobtitle": "Changed behind the sync's back"})

    report = run_audit(audited.settings, audited.db, audited.client, clock=audited.later)
    assert report.status == DRIFT and report.repair is None
    portal.archive_contact(gone)  # after the audit looked: the batch read answers 207 for it
    outcome = repair_copy(audited.settings, audited.db, audited.client, report, "test")

    assert (outcome.reread, outcome.removed) == (4, 2)
    run = runs.get_run(audited.db, outcome.run_id)
    assert run is not None and (run.mode, run.status, run.contacts) == ("repair", "succeeded", 4)
    assert run.api_calls == outcome.api_calls == 1  # one batch read for the five ids
    assert audited.sandbox.stats.responses.get(207) == 1
    assert db_mismatches(audited.db, audited.sandbox, synced_properties(audited.settings)) == []
    again = run_audit(audited.settings, audited.db, audited.client, clock=audited.later)
    assert again.status == IN_SYNC, again.verdict()


def test_run_audit_with_repair_records_the_repair_in_the_report(audited: Audited) -> None:
    portal = audited.sandbox.portal
    changed = portal.live_ids()[42]
    portal.update_contact(changed, {"company": "Repaired GmbH"})

    report = run_audit(
        audited.settings, audited.db, audited.client, repair=True, clock=audited.later
    )

    assert report.stale == [changed] and report.repair is not None
    assert "repair" in [run.mode for run in runs.history(audited.db)]
    saved = HubSyncService(audited.settings, database=audited.db, client=audited.client)
    last = saved.last_audit()
    assert last is not None and last["repair"]["reread"] == 1
