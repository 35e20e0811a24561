"""The counting audit names exactly what differs between the copy and HubSpot, cheaply."""

from __future__ import annotations

import itertools

from hubsync_core.audit import DRIFT, IN_SYNC, PENDING
from hubsync_core.audit.counting import plan_ranges
from hubsync_core.audit.repair import run_audit

from .conftest import Audited


def test_ranges_cover_every_id_in_equal_shares_of_sparse_ids() -> None:
    ranges = plan_ranges(list(range(51, 51 + 3 * 5000, 3)))
    assert len(ranges) == 10  # 5,000 local contacts: 500 a range
    assert ranges[0][0] == 0 and ranges[-1][1] is None
    assert all(high == nxt for (_, high), (nxt, _) in itertools.pairwise(ranges))
    assert len(plan_ranges(list(range(1_000_000)))) == 100
    assert plan_ranges([]) == [(0, None)]
    # Sparse, clustered ids: cut where the ids are, not evenly over the numbers.
    clustered = sorted([*range(100, 1100), *range(9_000_000, 9_001_000)])
    lows = [low for low, _ in plan_ranges(clustered)]
    assert lows == [0, 600, 9_000_000, 9_000_500]


def test_an_exact_copy_is_in_sync_with_two_searches_a_range(audited: Audited) -> None:
    before = audited.sandbox.stats
    report = run_audit(audited.settings, audited.db, audited.client, clock=audited.later)
    live = audited.sandbox.portal.live_count()
    assert report.status == IN_SYNC, report.verdict()
    assert (report.hubspot_total, report.local_total) == (live, live)
    assert report.api_calls == 2 * report.ranges == 12
    assert audited.sandbox.stats.search_requests - before.search_requests == report.api_calls
    assert report.verdict().startswith(f"in sync: {live:,} of {live:,}; checked ")


def test_a_damaged_copy_names_exactly_the_missing_extra_and_stale_contacts(
    audited: Audited,
) -> None:
    portal = audited.sandbox.portal
    live = portal.live_ids()
    deleted = live[100:2900:400]  # 7 contacts lost locally, in 6 of the 6 ranges
    # Rows added behind HubSync's back after the last proof, in ranges that also lost one:
    # the live counts cancel out there, the modification times give them away.
    extra = [audited.unused_id_after(live[k]) for k in (150, 1350, 2550)]
    changed = live[50:3000:300]  # 10 contacts changed in HubSpot, the change never synced
    audited.delete_locally(deleted)
    audited.add_locally(extra, days_old=0)
    for record_id in changed:
        portal.update_contact(record_id, {"jobtitle": "Changed behind the sync's back"})

    report = run_audit(audited.settings, audited.db, audited.client, clock=audited.later)

    assert report.status == DRIFT
    assert sorted(report.missing, key=int) == sorted(deleted, key=int)
    assert sorted(report.extra, key=int) == sorted(extra, key=int)
    assert sorted(report.stale, key=int) == sorted(set(changed) - set(deleted), key=int)
    assert report.pending == []
    # Two searches a range, and a few per lost or extra contact (bisection, one listing).
    assert report.api_calls <= 2 * report.ranges + 1 + 6 * len(deleted)
    assert sum(r.missing + r.extra + r.stale for r in report.range_drift) == report.differences
    assert report.verdict().startswith("drift: 20 differences (7 missing, 3 extra, 10 stale)")


def test_changes_younger_than_the_index_lag_are_pending_not_drift(audited: Audited) -> None:
    portal = audited.sandbox.portal
    edited = portal.live_ids()[10]
    created = portal.create_contact({"email": "new@example.com"})
    portal.update_contact(edited, {"company": "Just now GmbH"})

    report = run_audit(audited.settings, audited.db, audited.client)  # now: inside the lag

    assert report.status == PENDING and report.in_sync
    assert sorted(report.pending) == sorted([edited, created])
    assert "2 pending" in report.verdict()


def test_extra_rows_older_than_the_proof_are_found_by_bisection(audited: Audited) -> None:
    live = audited.sandbox.portal.live_ids()
    extra = [audited.unused_id_after(live[k]) for k in (700, 2700)]
    audited.add_locally(extra, days_old=30)

    report = run_audit(audited.settings, audited.db, audited.client, clock=audited.later)

    assert (report.extra, report.missing, report.stale) == (extra, [], [])
    assert report.api_calls <= 2 * report.ranges + 6 * len(extra)
