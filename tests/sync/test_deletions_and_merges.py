"""Contacts that leave HubSpot: archived ones (the `archived=true` pass, with `archivedAt`),
merged-away ones (`hs_merged_object_ids` on the winner) and vanished ones (the id sweep), in
full and incremental runs (issue 6 items 3, 4, 6)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sync_helpers import (
    LIST_PATH,
    Harness,
    HarnessFactory,
    all_runs,
    run_row,
    segment_members_in_db,
    settle,
    stored_contacts,
    utcnow,
)

from hubsync_core.service import HubSyncService
from hubsync_core.store import contacts as contact_store
from hubsync_core.store import explorer
from hubsync_core.store.database import Database
from hubsync_core.sync.model import SyncProgress
from hubsync_core.sync.records import parse_time

PHANTOM = "999999901"  # stored as live, unknown to the sandbox: deleted without a trace


def _archived_at(h: Harness, hubspot_id: str) -> datetime | None:
    return parse_time(h.sandbox.portal.contact(hubspot_id)["archivedAt"])


def _store_phantom(db: Database) -> None:
    with db.transaction() as conn:
        contact_store.upsert_contacts(
            conn,
            [
                {
                    "hubspot_id": PHANTOM,
                    "email": "gone@example.com",
                    "properties": {"email": "gone@example.com"},
                    "updated_at": datetime(2024, 1, 1),
                    "synced_at": utcnow(),
                }
            ],
        )


def test_full_sync_flags_archived_and_merged_away_contacts(make_harness: HarnessFactory) -> None:
    h = make_harness(1500, seed=21)

    assert h.run("full").status == "succeeded"

    h.assert_exact()
    stored = stored_contacts(h.db)
    archived = h.sandbox.portal.archived_ids()
    assert archived, "the generated portal has archived contacts"
    for hubspot_id in archived:
        row = stored.archived[hubspot_id]
        assert (row["archived_reason"], row["archived_at"]) == (
            "archived",
            _archived_at(h, hubspot_id),
        )
    winners = {
        c["id"]: c["properties"]["hs_merged_object_ids"]
        for c in h.sandbox.portal.live_contacts(["hs_merged_object_ids"])
        if c["properties"]["hs_merged_object_ids"]
    }
    assert winners, "the generated portal has merged contacts"
    for winner, losers in winners.items():
        for loser in losers.split(";"):
            assert stored.archived[loser]["archived_reason"] == f"merged into {winner}"


def test_contact_archived_after_its_page_was_stored_is_flagged_by_the_same_full_sync(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(1000, seed=22)
    first = h.sandbox.portal.live_ids()[0]
    done: list[int] = []

    def archive_mid_run(progress: SyncProgress) -> None:
        if progress.phase == "contacts" and progress.pages == 3 and not done:
            done.append(1)
            h.sandbox.portal.archive_contact(first)

    assert h.run("full", on_progress=archive_mid_run).status == "succeeded"

    assert done
    row = stored_contacts(h.db).archived[first]
    assert row["archived_at"] == _archived_at(h, first)
    h.assert_exact()


def test_merge_chain_leaves_only_the_last_winner_live(make_harness: HarnessFactory) -> None:
    h = make_harness(800, seed=23)
    assert h.run("full").status == "succeeded"
    a, b, c = h.sandbox.portal.live_ids()[5:8]

    h.sandbox.portal.merge_contacts(b, a)  # a merged into b
    settle(h.sandbox, [b])
    assert h.run("incremental").status == "succeeded"
    h.sandbox.portal.merge_contacts(c, b)  # b (holding a) merged into c
    settle(h.sandbox, [c])
    assert h.run("incremental").status == "succeeded"

    stored = stored_contacts(h.db)
    assert c in stored.live
    assert stored.live[c]["properties"]["hs_merged_object_ids"].split(";")[-2:] == [b, a]
    assert stored.archived[a]["archived_reason"] == f"merged into {c}"
    assert stored.archived[b]["archived_reason"] == f"merged into {c}"
    h.assert_exact()


def test_contact_merged_away_before_it_was_ever_synced_is_known_as_merged(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(600, seed=24)
    assert h.run("full").status == "succeeded"
    winner = h.sandbox.portal.live_ids()[3]
    newcomer = h.sandbox.portal.create_contact({"email": "dupe@example.com"})
    h.sandbox.portal.merge_contacts(winner, newcomer)
    settle(h.sandbox, [winner, newcomer])

    assert h.run("incremental").status == "succeeded"

    stored = stored_contacts(h.db)
    assert stored.archived[newcomer]["archived_reason"] == f"merged into {winner}"
    assert newcomer not in stored.live
    h.assert_exact()


def test_restored_contact_is_live_again_after_the_next_incremental(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(600, seed=25)
    assert h.run("full").status == "succeeded"
    target = h.sandbox.portal.live_ids()[9]
    h.sandbox.portal.archive_contact(target)
    assert h.run("incremental").status == "succeeded"
    assert target in stored_contacts(h.db).archived

    h.sandbox.portal.restore_contact(target)
    settle(h.sandbox, [target])
    assert h.run("incremental").status == "succeeded"

    row = stored_contacts(h.db).live[target]
    assert (row["archived_at"], row["archived_reason"]) == (None, None)
    h.assert_exact()


def test_full_sync_marks_stored_contacts_that_vanished_from_hubspot(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(500, seed=26)
    assert h.run("full").status == "succeeded"
    _store_phantom(h.db)

    stats = h.run("full")

    assert stats.status == "succeeded"
    assert stored_contacts(h.db).archived[PHANTOM]["archived_reason"] == "vanished"
    h.assert_exact()


def test_incremental_id_sweep_marks_vanished_contacts_only_when_asked(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(700, seed=27)
    assert h.run("full").status == "succeeded"
    _store_phantom(h.db)

    assert h.run("incremental").status == "succeeded"
    assert PHANTOM in stored_contacts(h.db).live  # no sweep: nobody re-read the ids

    swept = h.run("incremental", sweep=True)

    assert swept.status == "succeeded"
    assert stored_contacts(h.db).archived[PHANTOM]["archived_reason"] == "vanished"
    h.assert_exact()


def test_incremental_sweep_cut_half_way_resumes_without_losing_live_contacts(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(1000, seed=28)
    assert h.run("full").status == "succeeded"
    _store_phantom(h.db)  # something for the sweep to find (else the count skips it)
    phases: list[str] = []

    def cut_in_sweep(progress: SyncProgress) -> None:
        phases.append(progress.phase)
        # 1st "sweep" snapshot: the phase starts; 2nd and 3rd: pages 1 and 2 are marked seen.
        if phases.count("sweep") == 3:
            h.sandbox.fail_next("503", count=4, path=LIST_PATH)

    cut = h.run("incremental", sweep=True, on_progress=cut_in_sweep)
    assert cut.status == "partial"
    assert run_row(h.db, cut.run_id).checkpoint["phase"] == "sweep"

    resumed = h.run("incremental", sweep=True)

    assert resumed.status == "succeeded"
    assert run_row(h.db, resumed.run_id).resumed_from == cut.run_id
    h.assert_exact()


def test_archived_contacts_leave_segments_and_default_views_but_can_be_listed(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(900, seed=29)
    service = HubSyncService(h.settings, database=h.db, client=h.client)
    assert service.sync_all_contacts(mode="full").ok
    in_segment = sorted(set().union(*segment_members_in_db(h.db).values()), key=int)
    gone = in_segment[:6]
    for hubspot_id in gone:
        h.sandbox.portal.archive_contact(hubspot_id)

    stats = service.sync_all_contacts(mode="incremental")

    assert stats.ok
    members = set().union(*segment_members_in_db(h.db).values())
    assert not members & set(gone)
    assert sum(stats.by_segment.values()) == sum(
        len(ids) for ids in segment_members_in_db(h.db).values()
    )
    live_total = h.sandbox.portal.live_count()
    assert service.get_contacts(limit=1)["total"] == live_total
    only = explorer.query_contacts(h.db, explorer.ContactFilter(archived="only"), limit=10_000)
    assert set(gone) <= {row["hubspot_id"] for row in only.rows}
    assert only.total == len(stored_contacts(h.db).archived)
    h.assert_exact()


class _Crash(BaseException):
    """Raised from a progress listener: the run stops there as if its process died (the
    engine catches `Exception` only, so nothing records the end of the run)."""


def test_sweep_requested_after_a_crash_at_the_skipped_sweep_phase_still_runs(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(600, seed=30)
    assert h.run("full").status == "succeeded"

    def die_at_sweep(progress: SyncProgress) -> None:
        if progress.phase == "sweep":
            raise _Crash()

    with pytest.raises(_Crash):
        h.run("incremental", on_progress=die_at_sweep)  # no --sweep: the phase is skipped
    dead = all_runs(h.db)[-1]
    assert (dead.status, dead.checkpoint["phase"]) == ("running", "sweep")

    resumed = h.run("incremental", sweep=True)

    assert resumed.status == "succeeded", resumed.message
    assert run_row(h.db, resumed.run_id).resumed_from == dead.id
    assert run_row(h.db, dead.id).status == "interrupted"
    h.assert_exact()
