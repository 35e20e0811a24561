"""Parallel backfill (sync/parallel.py): a large full sync over disjoint hs_object_id ranges.

The sizes that switch it on are lowered here (a few thousand contacts instead of 8,000), so
the ranges, claims and resumes are exercised in seconds; search ranges are always claimed
when there is room (`CLAIM_MARGIN = 0`), whatever the measured speeds.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest
from sync_helpers import HarnessFactory, all_runs, run_row, stored_contacts, wait_for

from hubsync_core.hubspot.pacing import RateLimiter
from hubsync_core.sandbox.portal import encode_cursor
from hubsync_core.store import contacts as contact_store
from hubsync_core.store import runs
from hubsync_core.sync import parallel, planner
from hubsync_core.sync.context import RunContext
from hubsync_core.sync.engine import GENERATION
from hubsync_core.sync.model import SyncProgress
from hubsync_core.sync.records import to_rows


@pytest.fixture(autouse=True)
def small_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_CONTACTS", 1_000)
    monkeypatch.setattr(parallel, "RANGE_CONTACTS", 400)
    monkeypatch.setattr(parallel, "CLAIM_MARGIN", 0.0)


class Writes:
    """Every page transaction of the scan: the checkpoint it committed, the ids it stored."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.layouts: list[list[list[Any]]] = []
        self.ids: list[str] = []
        original = RunContext.store_page
        writes = self

        def store_page(ctx: RunContext, rows: Any, *args: Any, **kwargs: Any) -> None:
            original(ctx, rows, *args, **kwargs)
            checkpoint = kwargs.get("checkpoint") or {}
            if "ranges" in checkpoint:
                writes.layouts.append([list(r) for r in checkpoint["ranges"]])
                writes.ids += [row[0] for row in rows]

        monkeypatch.setattr(RunContext, "store_page", store_page)


def hold_list_until_claims(h: Any, monkeypatch: pytest.MonkeyPatch, claims: int) -> None:
    """Let the list cursor fetch its first page, then wait until search workers claimed
    `claims` ranges: a fast list cannot finish alone before any search range is cut, however
    busy the machine."""
    claimed = threading.Event()
    count = [0]
    original_cut = parallel._Backfill._cut

    def cut(backfill: Any, lead: Any) -> int | None:
        index = original_cut(backfill, lead)
        if index is not None:
            count[0] += 1
            if count[0] >= claims:
                claimed.set()
        return index

    monkeypatch.setattr(parallel._Backfill, "_cut", cut)
    original_list = h.client.list_contacts
    calls = [0]

    def list_contacts(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 2 and not kwargs.get("archived"):
            assert claimed.wait(30), "no search range was claimed"
        return original_list(*args, **kwargs)

    monkeypatch.setattr(h.client, "list_contacts", list_contacts)


def assert_disjoint_and_covering(layout: list[list[Any]]) -> None:
    spans = sorted((lo, hi) for lo, hi, _last, _done in layout)
    assert spans[0][0] == 0
    for (_, hi), (lo, _) in itertools.pairwise(spans):
        assert hi == lo, f"ranges overlap or leave a gap: {spans}"
    for lo, hi, last, _done in layout:
        assert lo < hi or (lo == hi and last is None)
        assert last is None or lo <= last < hi


def test_parallel_backfill_stores_exactly_the_live_contacts(
    make_harness: HarnessFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = make_harness(3000, seed=41)
    hold_list_until_claims(h, monkeypatch, claims=3)
    writes = Writes(monkeypatch)
    before = h.sandbox.stats

    stats = h.run("full")

    assert stats.status == "succeeded", stats.message
    h.assert_exact()
    live = sorted(h.sandbox.portal.live_ids(), key=int)
    assert stats.total_synced == len(live)
    # Every contact written once, by exactly one range: nothing lost, nothing twice.
    assert sorted(writes.ids, key=int) == live
    assert h.sandbox.stats.search_requests - before.search_requests > 3  # ranges were searched
    for layout in writes.layouts:
        assert_disjoint_and_covering(layout)
    assert len(writes.layouts[-1]) > 1
    assert all(done for *_, done in writes.layouts[-1])


def test_contacts_are_stamped_with_the_full_syncs_generation(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(2500, seed=42)
    gone = {**_rows(h, {h.sandbox.portal.live_ids()[0]})[0], "hubspot_id": "999999999"}
    with h.db.transaction() as conn:  # a contact deleted in HubSpot without being archived
        contact_store.upsert_contacts(conn, [gone], generation=0)

    stats = h.run("full")

    assert stats.status == "succeeded", stats.message
    generation = int(runs.get_state(h.db, GENERATION) or 0)
    assert contact_store.count_seen(h.db, generation) == h.sandbox.portal.live_count()
    stored = stored_contacts(h.db)
    assert stored.archived["999999999"]["archived_reason"] == "vanished"
    h.assert_exact()


def test_run_cut_inside_several_ranges_resumes_each_where_it_stopped(
    make_sqlite_harness: HarnessFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Search at 20 requests/s keeps the ranges open long enough to be cut inside them.
    slow_search = RateLimiter(max_requests=1_000_000, interval_ms=1000, search_per_second=20)
    h = make_sqlite_harness(3000, seed=43, client_options={"rate_limiter": slow_search})
    hold_list_until_claims(h, monkeypatch, claims=3)
    writes = Writes(monkeypatch)
    cancel = threading.Event()
    cut_at: list[list[list[Any]]] = []

    def cut_when_ranges_are_half_done(progress: SyncProgress) -> None:
        if progress.phase != "contacts" or cancel.is_set():
            return
        layout = run_row(h.db, progress.run_id).checkpoint.get("ranges", [])
        open_ranges = [r for r in layout[1:] if r[2] is not None and not r[3]]
        if len(open_ranges) >= 2:
            cut_at.append(layout)
            cancel.set()

    cut = h.run("full", on_progress=cut_when_ranges_are_half_done, cancel=cancel)

    assert cut.status == "cancelled"
    assert cut_at, "the scan never had two search ranges open at once"
    stored_before = set(stored_contacts(h.db).live)
    writes.ids.clear()
    search_filters: list[Any] = []
    original = h.client.search_contacts

    def spy(filter_groups: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        search_filters.append(filter_groups)
        return original(filter_groups, *args, **kwargs)

    monkeypatch.setattr(h.client, "search_contacts", spy)

    resumed = h.run("full")

    assert resumed.status == "succeeded", resumed.message
    assert run_row(h.db, resumed.run_id).resumed_from == cut.run_id
    h.assert_exact()
    live = set(h.sandbox.portal.live_ids())
    # Each range went on after its last stored id: the resumed run stored only the rest.
    assert not stored_before & set(writes.ids)
    assert set(writes.ids) == live - stored_before
    assert cut.total_synced + resumed.total_synced == len(live)
    for _lo, hi, last, done in cut_at[0][1:]:
        if last is not None and not done:
            wanted = [
                {"propertyName": "hs_object_id", "operator": "GT", "value": str(last)},
                {"propertyName": "hs_object_id", "operator": "LT", "value": str(hi)},
            ]
            assert [{"filters": wanted}] in search_filters


def test_resume_from_a_hand_made_checkpoint_fetches_only_what_is_missing(
    make_harness: HarnessFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = make_harness(2400, seed=44)
    live = sorted(h.sandbox.portal.live_ids(), key=int)
    ids = [int(i) for i in live]
    top = ids[-1] + 1
    # The list range [0, B) stopped at its 300th contact; range 1 half done; range 2 not
    # started; range 3 done.
    b, c, d = ids[800], ids[1400], ids[1900]
    last_list, last_one = ids[299], ids[1100]
    layout = [
        [0, b, last_list, False],
        [b, c, last_one, False],
        [c, d, None, False],
        [d, top, ids[-1], True],
    ]
    stored = [i for i in ids if i <= last_list or b <= i <= last_one or i >= d]
    generation = _store_as_cut(h, layout, encode_cursor(last_list), stored)
    writes = Writes(monkeypatch)
    searched: list[Any] = []
    original = h.client.search_contacts

    def spy(filter_groups: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        searched.append(filter_groups)
        return original(filter_groups, *args, **kwargs)

    monkeypatch.setattr(h.client, "search_contacts", spy)

    stats = h.run("full")

    assert stats.status == "succeeded", stats.message
    h.assert_exact()
    missing = sorted(set(ids) - set(stored))
    assert sorted(int(i) for i in writes.ids) == missing
    assert stats.total_synced == len(missing)
    assert contact_store.count_seen(h.db, generation) == len(live)
    ranges = [f["filters"] for group in searched for f in group if len(f["filters"]) == 2]
    lows = {(r[0]["operator"], r[0]["value"], r[1]["value"]) for r in ranges}
    assert ("GT", str(last_one), str(c)) in lows  # range 1 went on after its last id
    assert ("GTE", str(c), str(d)) in lows  # range 2 started at its beginning
    assert not any(hi == str(top) for _op, _lo, hi in lows)  # range 3 was done


@pytest.mark.timeout(60)
def test_a_search_range_without_contacts_ends_the_backfill(
    make_sqlite_harness: HarnessFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A range whose first page is empty (ids are sparse) has no "highest id received": the
    # idle workers must still see it as ended, or they wait for it forever (CI hung here).
    h = make_sqlite_harness(1200, seed=45)
    ids = sorted(int(i) for i in h.sandbox.portal.live_ids())
    top = ids[-1] + 1
    layout = [[0, top, None, False], [top, top + 5_000, None, False]]
    _store_as_cut(h, layout, None, [])
    writes = Writes(monkeypatch)

    stats = h.run("full")

    assert stats.status == "succeeded", stats.message
    h.assert_exact()
    assert writes.layouts[-1][1][3] is True  # the empty range is recorded as done


def _rows(h: Any, ids: set[str]) -> list[dict[str, Any]]:
    """The given live contacts as a sync would store them."""
    from hubsync_core.hubspot.models import ContactRecord

    records = [
        ContactRecord(
            id=c["id"],
            properties=c["properties"],
            created_at=c.get("createdAt"),
            updated_at=c.get("updatedAt"),
        )
        for c in h.sandbox.portal.live_contacts(h.properties)
        if c["id"] in ids
    ]
    rows, _ = to_rows(records, runs.utcnow())
    return rows


def _store_as_cut(h: Any, layout: list[list[Any]], after: str | None, stored: list[int]) -> int:
    """The database as a parallel backfill cut at `layout` leaves it; returns the generation."""
    generation = 7
    with h.db.transaction() as conn:
        runs.set_state(conn, GENERATION, str(generation))
        contact_store.upsert_contacts(
            conn, _rows(h, {str(i) for i in stored}), generation=generation
        )
    run = runs.create_run(h.db, "full", "test@nowhere:1", {})
    checkpoint = {
        "phase": "contacts",
        "generation": generation,
        "mark": runs.utcnow().isoformat(),
        "ranges": layout,
        "list_after": after,
        "id_floor": 0,
    }
    with h.db.transaction() as conn:
        runs.save_progress(
            conn,
            run.id,
            pages=0,
            contacts=len(stored),
            api_calls=0,
            retries=0,
            rate_limited=0,
            errors=0,
            rejected=0,
            checkpoint=checkpoint,
        )
    runs.finish_run(h.db, run.id, "interrupted")
    return generation


@pytest.mark.parametrize(
    ("contacts", "options", "env"),
    [
        pytest.param(600, {}, {}, id="small-portal"),
        pytest.param(2000, {"max_contacts": 1500}, {}, id="max-contacts"),
        pytest.param(2000, {}, {"HUBSYNC_PARALLEL_FETCHES": "1"}, id="one-fetch"),
    ],
)
def test_small_portals_capped_runs_and_one_fetch_scan_sequentially(
    make_sqlite_harness: HarnessFactory,
    monkeypatch: pytest.MonkeyPatch,
    contacts: int,
    options: dict[str, Any],
    env: dict[str, str],
) -> None:
    h = make_sqlite_harness(contacts, seed=45, env=env)
    writes = Writes(monkeypatch)
    before = h.sandbox.stats

    stats = h.run("full", **options)

    assert stats.status == "succeeded", stats.message
    assert writes.layouts == []  # no checkpoint with ranges: the cursor scan ran
    # Only the run's one search for the expected total (and, uncapped, none after it).
    assert h.sandbox.stats.search_requests - before.search_requests == 1
    expected = options.get("max_contacts") or h.sandbox.portal.live_count()
    assert stats.total_synced == expected
    if "max_contacts" not in options:
        h.assert_exact()


def test_a_sequential_scan_cut_half_way_resumes_sequentially(
    make_sqlite_harness: HarnessFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = make_sqlite_harness(2000, seed=46)
    monkeypatch.setattr(parallel, "MIN_CONTACTS", 10_000)
    cancel = threading.Event()

    def cut(progress: SyncProgress) -> None:
        if progress.phase == "contacts" and progress.pages == 3:
            cancel.set()

    assert h.run("full", on_progress=cut, cancel=cancel).status == "cancelled"
    monkeypatch.setattr(parallel, "MIN_CONTACTS", 1_000)  # now it would qualify
    writes = Writes(monkeypatch)

    resumed = h.run("full")

    assert resumed.status == "succeeded"
    assert writes.layouts == []  # the cursor checkpoint decides: resumed as it was cut
    assert resumed.total_synced == h.sandbox.portal.live_count() - 300
    h.assert_exact()
    assert [r.status for r in all_runs(h.db)] == ["cancelled", "succeeded"]


def test_empty_id_bounds_fall_back_to_the_cursor_scan(
    make_sqlite_harness: HarnessFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = make_sqlite_harness(1500, seed=47)
    monkeypatch.setattr(parallel, "_initial_plan", lambda ctx: None)
    writes = Writes(monkeypatch)

    stats = h.run("full")

    assert stats.status == "succeeded"
    assert writes.layouts == []
    assert stats.total_synced == h.assert_exact()


def test_idle_search_workers_split_a_busy_range_and_every_contact_is_stored_once(
    make_sqlite_harness: HarnessFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Work stealing: one big search range, nothing more to cut off the list; the idle
    workers split the range's unread part (as they do when walkers, not the budget, bound
    search) and the walker stops at the split."""
    monkeypatch.setattr(parallel, "RANGE_CONTACTS", 2_000)
    monkeypatch.setattr(planner, "should_split", lambda *args: True)
    slow_search = RateLimiter(max_requests=1_000_000, interval_ms=1000, search_per_second=20)
    h = make_sqlite_harness(3000, seed=48, client_options={"rate_limiter": slow_search})
    hold_list_until_claims(h, monkeypatch, claims=1)
    counted_cut = parallel._Backfill._cut
    cuts = [0]

    def one_cut(backfill: Any, lead: Any) -> int | None:
        if cuts[0]:
            return None  # the list keeps the rest: search can only steal from itself
        index = counted_cut(backfill, lead)
        cuts[0] += index is not None
        return index

    monkeypatch.setattr(parallel._Backfill, "_cut", one_cut)
    split_done = threading.Event()
    original_split = parallel._Backfill._split

    def split(backfill: Any) -> int | None:
        index = original_split(backfill)
        if index is not None:
            split_done.set()
        return index

    monkeypatch.setattr(parallel._Backfill, "_split", split)
    backfills: list[Any] = []
    original_claim = parallel._Backfill._claim

    def claim(backfill: Any) -> int | None:
        backfills.append(backfill)
        return original_claim(backfill)

    monkeypatch.setattr(parallel._Backfill, "_claim", claim)
    original_search = h.client.search_contacts
    range_pages = [0]

    def list_done() -> bool:  # the list cursor has read its whole range (`_claim`'s view)
        return bool(backfills) and backfills[0].list_seen + 1 >= backfills[0].ranges[0].hi

    def search_contacts(filter_groups: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        if filter_groups:
            range_pages[0] += 1
            if range_pages[0] == 1:
                # The list ends before the range's first page: idle workers must not leave
                # while a range that may be worth splitting has not shown its size.
                wait_for(list_done)
            if range_pages[0] == 2:  # the range's first page is in: wait for a split
                assert split_done.wait(30), "no idle worker split the busy range"
        return original_search(filter_groups, *args, **kwargs)

    monkeypatch.setattr(h.client, "search_contacts", search_contacts)
    writes = Writes(monkeypatch)

    stats = h.run("full")

    assert stats.status == "succeeded", stats.message
    h.assert_exact()
    live = sorted(h.sandbox.portal.live_ids(), key=int)
    assert sorted(writes.ids, key=int) == live  # each contact written once
    for layout in writes.layouts:
        assert_disjoint_and_covering(layout)
    final = writes.layouts[-1]
    assert len(final) >= 3  # the list's range, the claimed one, at least one split off it
    assert all(done for *_, done in final)
