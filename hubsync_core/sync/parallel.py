"""Parallel backfill: a large full sync fetched over disjoint `hs_object_id` ranges at once.

Sequential cursor paging cannot go faster than one page per round trip (100 contacts per
250 ms = 400 contacts/s), and HubSpot's list endpoint has no filter to split it. Search does:
it filters on `hs_object_id`, sorts by it, and has its own rate limit (5 requests/s,
200 contacts each). So a large full sync runs

- the **list cursor** from the lowest id upwards (range 0: `[0, B)`), and
- **search workers** on ranges claimed from the top of the id space downwards
  (`hs_object_id GTE lo AND LT hi`, sorted ascending, limit 200, paged with
  `hs_object_id GT <last id>`: never `after`, so never HubSpot's 10,000-result cap),

all through the one client and its shared pacing budget. `top` is the highest id when the
run starts (one search sorted descending) plus one; contacts created later are the next
incremental sync's (they were created after the mark). `B` (the list range's end) is the
lowest claimed id: a search range is only claimed above every id the list has received, and
the list drops ids at or above `B`, so the ranges stay disjoint and cover `[0, top)`. How much
search takes, and when, is the planner's (sync/planner.py): each claim moves as many contacts
off the list's top as make both budgets finish together, from the pacing's forecast of the
list cursor and the search budget's rate. At the end an idle search worker splits the range
with the most pages left when the workers in flight, not the budget, bound search: a range
split at `m` keeps `[lo, m)` (its walker drops what it receives at or above `m`, under the
lock, and ends there), and `[m, hi)` becomes a new range; `m` is above every id the walker
has received, so the ranges stay disjoint.

The fetch threads also convert their pages (records to rows to upsert parameters), so the
one writer (the calling thread) only writes: every page already waiting
(up to `GROUP_CONTACTS`) goes into one transaction together with the checkpoint that covers
it, `{"ranges": [[lo, hi, last_id, done], ...], "list_after": cursor}`. A page is never split
across transactions, so a run cut anywhere resumes every range after its last stored id (and
the list at its stored cursor) without losing or storing a contact twice. Contacts are
stamped with the full sync's generation, as in the sequential scan.

Exactness as in the sequential path, with two properties of search to know about:
- search never returns archived contacts: a full sync wants only live ones;
- search lags behind writes (seconds to minutes): a contact edited while the backfill runs
  may be stored with its previous values. The full sync's high-water mark is the time it
  *started*, and the next incremental window begins at mark − overlap, so such contacts are
  read again by the next incremental sync (as contacts edited during a sequential scan are).
  A contact created or merged away in the seconds before the run may be missing from, or
  still in, the search results; the next incremental sync (and the next full sync's
  vanished sweep) settle it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hubsync_core.hubspot import search_filters as sf
from hubsync_core.hubspot.errors import BadRequestError, RateLimitedError, TransientError
from hubsync_core.hubspot.models import ContactRecord
from hubsync_core.hubspot.pacing import RateLimiter
from hubsync_core.hubspot.paging import walk_contacts, walk_search_by_id
from hubsync_core.store.contacts import PreparedContacts
from hubsync_core.sync import full, planner
from hubsync_core.sync.context import RunContext
from hubsync_core.sync.range_plan import Range, RangePlanning, Speeds
from hubsync_core.sync.records import Rejection

log = logging.getLogger("hubsync.sync")

#: Below this many expected contacts a sequential scan finishes in seconds: the parallel
#: set-up (one more search, threads) is not worth it.
MIN_CONTACTS = 8_000
#: HubSpot's largest search page.
SEARCH_LIMIT = 200
#: Most contacts one claim takes (ten search pages, about two seconds of the search budget):
#: the planner re-solves the balance at every claim, so claims stay this small (the lists
#: read alongside take a share of the list window that no plan can see in advance).
RANGE_CONTACTS = 2_000
#: Search takes work off the list only while the list would still finish no sooner than
#: search times this (planner.to_move): above 1, search is planned to end a little first and
#: then takes the list's last pages as they prove needed; 0 claims whenever there is room.
CLAIM_MARGIN = 1.15
#: Smaller ranges are not worth a search request (half a search page).
MIN_RANGE_CONTACTS = SEARCH_LIMIT // 2
#: Most contacts one write transaction takes from the fetchers' queue.
GROUP_CONTACTS = 1_000
#: How long the writer waits for a group to fill before writing what it has.
GROUP_WAIT_SECONDS = 0.05
#: Pages the fetchers may hold ready beyond what the writer takes (memory stays flat).
QUEUE_PAGES = 12
_PROPERTY = "hs_object_id"


def should_run(ctx: RunContext) -> bool:
    """Does this run's contacts phase use the parallel backfill?

    A checkpoint decides for a resumed run (its ranges must be finished as they were cut);
    otherwise: a full sync without `max_contacts`, `parallel_fetches` > 1, and at least
    `MIN_CONTACTS` contacts expected.
    """
    if "ranges" in ctx.checkpoint:
        return True
    if "after" in ctx.checkpoint:  # a sequential scan under way: resume it as it was
        return False
    if ctx.options.max_contacts is not None or ctx.settings.parallel_fetches < 2:
        return False
    return ctx.expected_total is not None and ctx.expected_total >= MIN_CONTACTS


def scan_contacts(ctx: RunContext) -> bool:
    """Store every live contact through the list cursor and parallel id-range searches.

    Returns True (a parallel backfill is never capped). Falls back to the sequential scan
    when the highest id cannot be read.
    """
    if "ranges" not in ctx.checkpoint:
        plan = _initial_plan(ctx)
        if plan is None:
            log.info("Could not read the highest contact id through search; scanning sequentially")
            return full.scan_contacts(ctx)
        ctx.checkpoint = {**ctx.checkpoint, **plan}
    backfill = _Backfill(ctx)
    backfill.run()
    return True


def _initial_plan(ctx: RunContext) -> dict[str, Any] | None:
    """The first checkpoint of a parallel backfill: one list range covering every id up to
    the highest one (the lowest comes with the list's first page)."""
    highest = ctx.highest_id  # read with the run's expected total, when it was
    if highest is None:
        try:
            highest = _edge_id(ctx, "DESCENDING")
        except (BadRequestError, TransientError, RateLimitedError):
            return None
    top = 1 if highest is None else highest + 1
    return {"ranges": [[0, top, None, False]], "list_after": None}


def _edge_id(ctx: RunContext, direction: str) -> int | None:
    page = ctx.client.search_contacts([], [_PROPERTY], sorts=sf.by_id(direction), limit=1)
    for record in page.contacts:
        if record.id.isdigit():
            return int(record.id)
    return None


@dataclass
class _Page:
    """One fetched page, converted, on its way to the writer."""

    index: int
    rows: PreparedContacts
    rejections: list[Rejection]
    merges: list[tuple[str, list[str]]]
    last: int | None
    done: bool
    describe: str
    list_after: str | None = None


#: A list page for the converter: (records kept, last id, range reached, after, next after).
_ListPage = tuple[list[ContactRecord], int | None, bool, str | None, str | None]


@dataclass
class _Finished:
    """A fetcher ended (`error` set when it failed)."""

    error: BaseException | None = None


class _Backfill(RangePlanning):
    """The fetchers, their coordination (ranges, claims) and the writer loop."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        checkpoint = ctx.checkpoint
        self.generation: int = checkpoint["generation"]
        self.ranges = [Range(*row[:4]) for row in checkpoint["ranges"]]
        self.list_after: str | None = checkpoint.get("list_after")
        # The highest id the list cursor has received (stored or not): claims stay above it.
        lead = self.ranges[0]
        self.list_seen = lead.last if lead.last is not None else lead.lo - 1
        self.top = max(r.hi for r in self.ranges)
        self.expected = max(ctx.expected_total or 0, 1)
        # The lowest id (the list's first), for the id density; until known, the list's lead.
        self.floor: int | None = checkpoint.get("id_floor")
        self.density = self._density(self.floor if self.floor is not None else self.list_seen)
        self.speeds = Speeds()
        limiter = getattr(ctx.client, "limiter", None)
        self.limiter: RateLimiter | None = limiter if isinstance(limiter, RateLimiter) else None
        #: Contacts received this run by every fetcher (kept ones).
        self.received = 0
        for span in self.ranges[1:]:  # a resumed run's open ranges: estimates until searched
            if not span.done:
                start = span.lo if span.last is None else span.last + 1
                span.left = max(span.hi - start, 0) * self.density
        self.lock = threading.Condition()
        self.stop = threading.Event()
        self.queue: queue.Queue[_Page | _Finished] = queue.Queue(maxsize=QUEUE_PAGES)
        #: The list cursor's pages on their way to its converter (None: the cursor ended).
        self.handoff: queue.Queue[_ListPage | None] = queue.Queue(maxsize=4)
        self.workers = max(1, ctx.settings.parallel_fetches - 1)
        # What the database holds (the writer's view): per range [last id, done].
        self.committed: dict[int, list[Any]] = {
            i: [r.last, r.done] for i, r in enumerate(self.ranges)
        }
        self.committed_after = self.list_after

    def _density(self, floor: int) -> float:
        """Live contacts per id above `floor` (ids are dense; merges and deletes leave gaps)."""
        return min(1.0, self.expected / max(self.top - max(floor, 0), 1))

    # -- the writer (calling thread) ------------------------------------------------------
    def run(self) -> None:
        ctx = self.ctx
        threads = [
            threading.Thread(target=self._guard, args=(self._list_worker,), daemon=True),
            threading.Thread(target=self._guard, args=(self._list_converter,), daemon=True),
        ]
        threads += [
            threading.Thread(target=self._guard, args=(self._search_worker,), daemon=True)
            for _ in range(self.workers)
        ]
        for n, thread in enumerate(threads):
            thread.name = f"hubsync-backfill-{n}"
        log.info(
            "Parallel backfill: list cursor plus %d search worker(s) over ids below %d",
            self.workers,
            self.top,
        )
        for thread in threads:
            thread.start()
        running = len(threads)
        try:
            while running:
                ctx.check_cancel()
                batch, finished = self._take()
                running -= len(finished)
                pages = [item for item in batch if isinstance(item, _Page)]
                if pages:
                    self._write(pages)
                failure = next((f.error for f in finished if f.error is not None), None)
                if failure is not None:
                    raise failure
        finally:
            self.stop.set()
            with self.lock:
                self.lock.notify_all()
            for thread in threads:
                while thread.is_alive():
                    # Unblock a fetcher waiting for room in the queue.
                    with contextlib.suppress(queue.Empty):
                        self.queue.get(timeout=0.05)
                thread.join()

    def _take(self) -> tuple[list[_Page | _Finished], list[_Finished]]:
        """The next item, plus the pages that arrive within `GROUP_WAIT_SECONDS` (up to
        GROUP_CONTACTS)."""
        while True:
            self.ctx.check_cancel()
            try:
                first = self.queue.get(timeout=0.5)
                break
            except queue.Empty:
                continue
        batch: list[_Page | _Finished] = [first]
        contacts = len(first.rows) if isinstance(first, _Page) else 0
        # Wait a moment for a full group: each transaction has a fixed cost (checkpoint,
        # progress, commit: ~1 ms of Python) that one page alone would pay every time.
        deadline = time.monotonic() + GROUP_WAIT_SECONDS
        while contacts < GROUP_CONTACTS and not isinstance(batch[-1], _Finished):
            left = deadline - time.monotonic()
            try:
                item = self.queue.get(timeout=left) if left > 0 else self.queue.get_nowait()
            except queue.Empty:
                break
            batch.append(item)
            if isinstance(item, _Page):
                contacts += len(item.rows)
        # Stop at the first failure: what came before it is stored, nothing after it.
        cut = next(
            (i for i, item in enumerate(batch) if isinstance(item, _Finished) and item.error),
            None,
        )
        if cut is not None:
            batch = batch[: cut + 1]
        finished = [item for item in batch if isinstance(item, _Finished)]
        return batch, finished

    def _write(self, pages: Sequence[_Page]) -> None:
        """Store `pages` and the checkpoint that covers them in one transaction."""
        ctx = self.ctx
        rows = PreparedContacts.join([page.rows for page in pages])
        rejections = [item for page in pages for item in page.rejections]
        merges = [item for page in pages for item in page.merges]
        for page in pages:
            progress = self.committed.setdefault(page.index, [None, False])
            if page.last is not None:
                progress[0] = page.last
            progress[1] = progress[1] or page.done
            if page.index == 0 and page.list_after is not None:
                self.committed_after = page.list_after
        with self.lock:  # claims change the layout; take it as it is now (see _claim)
            layout = [r.row() for r in self.ranges]
        for index, (last, done) in self.committed.items():
            layout[index][2], layout[index][3] = last, done
        for page in pages:
            log.info("Fetching page %d (%s)...", ctx.pages + 1, page.describe)
        checkpoint = {
            **ctx.checkpoint,
            "ranges": layout,
            "list_after": self.committed_after,
            "id_floor": self.floor,
        }
        ctx.store_page(
            rows,
            rejections,
            generation=self.generation,
            merges=merges,
            checkpoint=checkpoint,
            pages=len(pages),
        )
        log.info(
            "Pages %d-%d: Synced %d contacts (total: %d)",
            ctx.pages - len(pages) + 1,
            ctx.pages,
            len(rows),
            ctx.contacts,
        )

    # -- fetchers -------------------------------------------------------------------------
    def _guard(self, target: Any) -> None:
        try:
            target()
        except BaseException as exc:  # handed to the writer, re-raised there
            self.stop.set()
            with self.lock:
                self.lock.notify_all()
            self._put(_Finished(exc))
            return
        self._put(_Finished())

    def _put(self, item: _Page | _Finished) -> bool:
        while True:
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                if self.stop.is_set() and isinstance(item, _Page):
                    return False

    def _convert(self, records: Sequence[ContactRecord]) -> full.Converted:
        """A page as the writer stores it, converted here in the fetch thread: the writer's
        database work then runs (without the GIL) while the next pages are converted."""
        return full.convert(records, self.ctx, self.generation)

    def _waited(self) -> float:
        """Seconds this thread's last request waited for the pacing."""
        return self.limiter.last_wait() if self.limiter is not None else 0.0

    def _list_worker(self) -> None:
        """The cursor: fetch, clip at the range's end, hand over; never waits on conversion."""
        try:
            self._walk_list()
        finally:
            self._hand_over(None)

    def _walk_list(self) -> None:
        ctx = self.ctx
        lead = self.ranges[0]
        if lead.done:
            self._list_finished()
            return
        arrived = time.monotonic()
        walk = walk_contacts(
            ctx.client, ctx.properties, after=self.list_after, page_size=ctx.options.batch_size
        )
        for page in walk:
            # Arrival to arrival less the pacing's wait: what one page costs the cursor
            # (round trip, hand-over, a full queue); the pacing's forecast adds the waits.
            started, arrived = arrived, time.monotonic()
            ids = [int(r.id) for r in page.items if r.id.isdigit()]
            with self.lock:
                if ids and self.floor is None:
                    self.floor = min(ids)
                    self.density = self._density(self.floor)
                if ids:  # received: no range above it may be claimed for search any more
                    self.list_seen = max(self.list_seen, max(ids))
                self.speeds.observe("list_page", arrived - started - self._waited())
                boundary = lead.hi
                keep = [r for r in page.items if not (r.id.isdigit() and int(r.id) >= boundary)]
                reached = len(keep) < len(page.items) or page.next_after is None
                self.received += len(keep)
                if reached:
                    self.list_seen = max(self.list_seen, boundary)
                self.lock.notify_all()
            if self.stop.is_set():
                return
            kept = [int(r.id) for r in keep if r.id.isdigit()]
            last = max(kept) if kept else None
            if not self._hand_over((keep, last, reached, page.after, page.next_after)):
                return
            if reached:
                self._list_finished()
                return

    def _hand_over(self, item: _ListPage | None) -> bool:
        """Queue a list page for the converter (None: the cursor ended); False if stopped."""
        while True:
            try:
                self.handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                if self.stop.is_set():
                    return False

    def _list_converter(self) -> None:
        """Convert the cursor's pages in order, so the cursor sends its next request at once
        (its round trip, not its conversion, bounds it at Professional limits)."""
        while not self.stop.is_set():
            try:
                item = self.handoff.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is None:
                return
            keep, last, reached, after, next_after = item
            rows, rejections, merges = self._convert(keep)
            page = _Page(0, rows, rejections, merges, last, reached, f"list after={after}")
            page.list_after = next_after
            if not self._put(page):
                return

    def _list_finished(self) -> None:
        with self.lock:
            self.list_seen = max(self.list_seen, self.ranges[0].hi)
            self.lock.notify_all()

    def _search_worker(self) -> None:
        while not self.stop.is_set():
            index = self._claim()
            if index is None:
                return
            self._search_range(index)

    def _search_range(self, index: int) -> None:
        ctx = self.ctx
        span = self.ranges[index]
        last = span.last
        # The filter's end stays the one the walk began with; a split lowers `span.hi`, and
        # what arrives at or above it is dropped here (the new range reads it).
        walk = walk_search_by_id(
            ctx.client,
            ctx.properties,
            last_id=None if last is None else str(last),
            first_id=str(span.lo),
            end_id=str(span.hi),
            page_size=SEARCH_LIMIT,
            what=f"the search of ids {span.lo}-{span.hi - 1}",
        )
        started, filter_end = time.monotonic(), span.hi
        for page in walk:
            if self.stop.is_set():
                return
            arrived = time.monotonic()
            floor = span.lo if last is None else last + 1
            with self.lock:
                self.speeds.observe("search_page", arrived - started - self._waited())
                end = span.hi
                # Only what the filter asked for: nothing another range (or the list) stores.
                records = [r for r in page.contacts if r.id.isdigit() and floor <= int(r.id) < end]
                beyond = any(r.id.isdigit() and int(r.id) >= end for r in page.contacts)
                ids = [int(r.id) for r in records]
                if ids:
                    span.seen = max(span.seen or 0, max(ids))
                self.received += len(records)
                done = page.done or not ids or beyond
                if done:
                    span.left, span.ended = 0.0, True
                elif end == filter_end:  # search's own count of what the filter still holds
                    span.left = max(float(page.total - len(page.contacts)), 0.0)
                else:  # split: the total counts the other half too
                    span.left = max((span.left or 0.0) - len(records), 0.0)
            rows, rejections, merges = self._convert(records)
            new_last = max(ids) if ids else last
            describe = f"search ids {span.lo}-{end - 1} after {last}"
            if not self._put(_Page(index, rows, rejections, merges, new_last, done, describe)):
                return
            if done:
                return
            last = new_last
            started = time.monotonic()

    def _claim(self) -> int | None:
        """A range for a search worker: an unfinished one of a resumed run, a new one cut off
        the top of the list's range when the planner says search should take more, or half of
        a range in progress when more walkers would make search faster. None when nothing is
        left that a search worker could speed up."""
        with self.lock:
            while not self.stop.is_set():
                for index, span in enumerate(self.ranges[1:], start=1):
                    if not span.done and not span.taken:
                        span.taken = True
                        return index
                lead = self.ranges[0]
                list_open = not lead.done and self.list_seen + 1 < lead.hi
                if list_open and self.speeds.list_page is None:
                    self.lock.wait(0.5)  # the list's first page tells what a page costs
                    continue
                claimed = self._cut(lead) if list_open else None
                if claimed is None:
                    claimed = self._split()
                if claimed is not None:
                    return claimed
                if not list_open and not self._splittable() and not self._unseen():
                    return None
                # Nothing worth taking now; the list's pace and the ranges' totals move on.
                self.lock.wait(0.25)
            return None

    def _cut(self, lead: Range) -> int | None:
        """Cut a new search range off the top of the list's range, if the planner says
        search should take more (see sync/planner.py). Returns its index."""
        outlook = self._outlook(lead)
        movable = planner.to_move(outlook, CLAIM_MARGIN)
        size = planner.claim_size(
            movable, RANGE_CONTACTS, MIN_RANGE_CONTACTS, outlook.list_contacts
        )
        if size <= 0:
            return None
        span = lead.hi - self.list_seen - 1
        in_flight = math.ceil(planner.LIST_PAGE * span / max(outlook.list_contacts, 1.0))
        lo = planner.cut_point(
            lead.hi, self.list_seen, size, outlook.list_contacts, min(in_flight, span // 2)
        )
        if lo is None:
            return None
        log.debug(
            "Search claims ids %d-%d (~%d contacts; list at %d with ~%.0f left, %.2f s a "
            "page; search holds %d requests at %.1f/s)",
            lo,
            lead.hi - 1,
            size,
            self.list_seen,
            outlook.list_contacts,
            self.speeds.list_page or 0.0,
            outlook.search_requests,
            outlook.search_per_second,
        )
        self.ranges.append(Range(lo, lead.hi, None, False, taken=True, left=float(size)))
        lead.hi = lo
        return len(self.ranges) - 1
