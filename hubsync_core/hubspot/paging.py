"""The one paging layer: every walk over HubSpot's pages is a generator from this module.

Three shapes of paging, one loop each (in the spirit of the Singer SDK's paginators):

- `walk_cursor`: `paging.next.after` cursors (contacts, archived contacts, list memberships);
- `walk_offsets`: `offset`/`hasMore` (the lists search);
- `walk_search_by_id`: search sorted by `hs_object_id`, continued with `hs_object_id GT <last>`
  instead of `after`, so neither the 10,000-result cap nor timestamp ties can stall it.

Each loop is bounded by one `PageGuard`, so that no server (HubSpot misbehaving, a proxy, a
mock serving random data) can keep a phase going forever. A walk stops

- with `PagingError` when a cursor repeats (HubSpot's cursors only move forward),
- with `PagingError` after `max_unusable_pages` consecutive pages without one usable record
  (naming what was wrong with them, e.g. "ids are not numeric"),
- quietly once `max_records` records were read (a trial run's `--max-contacts`), unless
  none of them was usable (`PagingError` again),

and logs its progress while it runs, so a long phase is never silent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from . import search_filters as sf
from .errors import HubSpotError
from .models import ContactRecord, ListInfo

if TYPE_CHECKING:
    from .client import HubSpotClient

log = logging.getLogger("hubsync.hubspot")

T = TypeVar("T")

#: Consecutive pages without a usable record after which a walk gives up.
MAX_UNUSABLE_PAGES = 3
#: A walk logs its progress at most this often (and once when it ends).
PROGRESS_SECONDS = 5.0
#: HubSpot's page sizes.
LIST_PAGE = 100
SEARCH_PAGE = 200
LISTS_PAGE = 500
MEMBERSHIPS_PAGE = 250


class PagingError(HubSpotError):
    """A walk over HubSpot's pages was stopped because it could not end by itself."""

    hint = (
        "HubSpot (or whatever answers at HUBSPOT_BASE_URL) sent pages that do not look like "
        "HubSpot's; check HUBSPOT_BASE_URL and any proxy in between. Nothing unreadable was stored."
    )


def numeric_id_problem(record_id: str) -> str | None:
    """Why `record_id` is not a usable HubSpot id (None when it is)."""
    if not record_id:
        return "records have no id"
    if not record_id.isdigit():
        return "ids are not numeric"
    return None


def contact_problem(record: ContactRecord) -> str | None:
    """Why a contact record cannot be stored (None when it can)."""
    return numeric_id_problem(record.id)


def _sample(value: object) -> str:
    return repr(value)[:60]


@dataclass
class PageGuard:
    """The bounds of one walk; `check_*` raise `PagingError`, `capped` says when to stop."""

    what: str
    max_records: int | None = None
    max_unusable_pages: int = MAX_UNUSABLE_PAGES
    pages: int = 0
    records: int = 0
    usable: int = 0
    _cursors: set[str] = field(default_factory=set)
    _unusable_run: int = 0
    _logged_at: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.max_unusable_pages < 1:
            raise ValueError("max_unusable_pages must be at least 1")
        if self.max_records is not None and self.max_records < 0:
            raise ValueError("max_records must not be negative")

    def check_cursor(self, cursor: str | None) -> None:
        """Refuse a cursor this walk already followed (the walk would loop)."""
        if cursor is None:
            return
        if cursor in self._cursors:
            raise PagingError(
                f"Stopped reading {self.what} after {self.pages} pages: HubSpot sent the cursor "
                f"{_sample(cursor)} a second time, so the pages would repeat forever"
            )
        self._cursors.add(cursor)

    def check_page(self, records: int, problems: Sequence[str], more: bool) -> None:
        """Count a page of `records` items, `problems` being the reasons of the unusable ones.

        A page counts as unusable when it has records and none is usable, or when it is empty
        although it promises another page (`more`).
        """
        self.pages += 1
        self.records += records
        usable = records - len(problems)
        self.usable += usable
        if usable > 0 or (records == 0 and not more):
            self._unusable_run = 0
        else:
            self._unusable_run += 1
            # A trial run's cap may come first: ending it "well" with nothing usable would
            # hide the problem, so that is an error too.
            if self._unusable_run >= self.max_unusable_pages or (
                self.capped() and self.usable == 0
            ):
                raise PagingError(self._unusable_message(problems))
        now = time.monotonic()
        if now - self._logged_at >= PROGRESS_SECONDS:
            self._logged_at = now
            self.log_progress()

    def _unusable_message(self, problems: Sequence[str]) -> str:
        if problems:
            reasons = sorted(set(problems), key=list(problems).index)
            why = f"no usable record ({'; '.join(reasons)})"
        else:
            why = "no record although each promised another page"
        return (
            f"Stopped reading {self.what}: {self._unusable_run} pages in a row had {why}; "
            f"{self.usable:,} usable of {self.records:,} records read in {self.pages} pages"
        )

    def capped(self) -> bool:
        """True once `max_records` records were read."""
        return self.max_records is not None and self.records >= self.max_records

    def remaining(self, page_size: int) -> int:
        """The page size to ask for next: `page_size`, or less near `max_records`."""
        if self.max_records is None:
            return page_size
        return max(1, min(page_size, self.max_records - self.records))

    def log_progress(self, done: bool = False) -> None:
        log.info(
            "%s: %s%d pages, %d records read",
            self.what[:1].upper() + self.what[1:],
            "done, " if done else "",
            self.pages,
            self.records,
        )


# ---------------------------------------------------------------------- generic walks


@dataclass(frozen=True)
class CursorPage(Generic[T]):
    """One page of a cursor walk: the cursor it was read with and the one that follows."""

    items: list[T]
    after: str | None
    next_after: str | None


def walk_cursor(
    fetch: Callable[[str | None, int], tuple[list[T], str | None]],
    *,
    what: str,
    after: str | None = None,
    page_size: int = LIST_PAGE,
    problem: Callable[[T], str | None] = lambda item: None,
    max_records: int | None = None,
    max_unusable_pages: int = MAX_UNUSABLE_PAGES,
) -> Iterator[CursorPage[T]]:
    """Walk `fetch(after, limit) -> (items, next_after)` from `after` until the last page.

    Each page is yielded before the next is fetched, so a consumer that stores it together
    with `next_after` can resume exactly there.
    """
    guard = PageGuard(what, max_records, max_unusable_pages)
    guard.check_cursor(after)
    cursor = after
    while True:
        items, next_after = fetch(cursor, guard.remaining(page_size))
        problems = [p for p in map(problem, items) if p]
        guard.check_page(len(items), problems, next_after is not None)
        yield CursorPage(items, cursor, next_after)
        if next_after is None or guard.capped():
            guard.log_progress(done=True)
            return
        guard.check_cursor(next_after)
        cursor = next_after


def walk_offsets(
    fetch: Callable[[int], tuple[list[T], bool, int]],
    *,
    what: str,
    problem: Callable[[T], str | None] = lambda item: None,
    max_records: int | None = None,
    max_unusable_pages: int = MAX_UNUSABLE_PAGES,
) -> Iterator[list[T]]:
    """Walk `fetch(offset) -> (items, has_more, next_offset)` from offset 0."""
    guard = PageGuard(what, max_records, max_unusable_pages)
    offset = 0
    guard.check_cursor(str(offset))
    while True:
        items, has_more, next_offset = fetch(offset)
        problems = [p for p in map(problem, items) if p]
        guard.check_page(len(items), problems, has_more)
        yield items
        if not has_more or guard.capped():
            guard.log_progress(done=True)
            return
        guard.check_cursor(str(next_offset))
        offset = next_offset


# ---------------------------------------------------------------------- contacts


def walk_contacts(
    client: HubSpotClient,
    properties: Sequence[str],
    *,
    after: str | None = None,
    page_size: int = LIST_PAGE,
    archived: bool = False,
    max_records: int | None = None,
    what: str | None = None,
) -> Iterator[CursorPage[ContactRecord]]:
    """Every contact of the list endpoint (or every archived one), page by page."""

    def fetch(cursor: str | None, limit: int) -> tuple[list[ContactRecord], str | None]:
        page = client.list_contacts(properties, after=cursor, limit=limit, archived=archived)
        return page.contacts, page.next_after

    label = what or ("the archived contacts" if archived else "the contacts list")
    return walk_cursor(
        fetch,
        what=label,
        after=after,
        page_size=page_size,
        problem=contact_problem,
        max_records=max_records,
    )


@dataclass(frozen=True)
class IdPage:
    """One page of an id-ordered search walk.

    `last_id` is where the walk continues (the largest numeric id read so far); `total` is
    what search reported for the page's filter.
    """

    contacts: list[ContactRecord]
    last_id: str | None
    total: int
    done: bool


def walk_search_by_id(
    client: HubSpotClient,
    properties: Sequence[str],
    *,
    filters: Sequence[sf.Filter] = (),
    last_id: str | None = None,
    first_id: str | None = None,
    end_id: str | None = None,
    page_size: int = SEARCH_PAGE,
    max_records: int | None = None,
    what: str = "the contacts search",
) -> Iterator[IdPage]:
    """Every contact matching `filters`, ascending by id, after `last_id` (or from `first_id`)
    and below `end_id`.

    The walk ends on an empty page, a short page, or a page without a next one. Ids that do
    not advance past `last_id` (a server ignoring the filter) stop it with `PagingError`.
    """
    guard = PageGuard(what, max_records)
    sorts = sf.by_id()
    while True:
        if last_id is not None:
            low = [sf.id_after(last_id)]
        elif first_id is not None:
            low = [sf.id_from(first_id)]
        else:
            low = []
        if end_id is not None:
            low.append(sf.id_below(end_id))
        limit = guard.remaining(page_size)
        page = client.search_contacts(
            sf.with_filters(filters, *low), properties, sorts=sorts, limit=limit
        )
        records = page.contacts
        problems = [p for p in map(contact_problem, records) if p]
        numeric = [int(r.id) for r in records if not contact_problem(r)]
        done = (
            not records
            or page.next_after is None
            or len(records) < limit
            or page.total <= len(records)
        )
        guard.check_page(len(records), problems, not done)
        new_last = last_id
        if numeric:
            highest = max(numeric)
            if last_id is not None and highest <= int(last_id):
                raise PagingError(
                    f"Stopped reading {what}: search returned ids at or below hs_object_id {last_id} "
                    "although asked for larger ones, so the pages would repeat forever"
                )
            new_last = str(highest)
        capped = guard.capped()
        yield IdPage(records, new_last, page.total, done and not capped)
        if done or capped:
            guard.log_progress(done=True)
            return
        last_id = new_last


# ---------------------------------------------------------------------- lists


def walk_lists(
    client: HubSpotClient, *, max_records: int | None = None
) -> Iterator[list[ListInfo]]:
    """Every list of the portal, page by page (lists search, offset paging)."""

    def fetch(offset: int) -> tuple[list[ListInfo], bool, int]:
        page = client.search_lists(count=LISTS_PAGE, offset=offset)
        return page.lists, page.has_more and bool(page.lists), page.offset

    return walk_offsets(fetch, what="the lists", max_records=max_records)


def walk_list_members(
    client: HubSpotClient,
    list_id: str,
    *,
    max_records: int | None = None,
) -> Iterator[CursorPage[str]]:
    """The record ids of one list's members, page by page."""

    def fetch(cursor: str | None, limit: int) -> tuple[list[str], str | None]:
        page = client.list_memberships(list_id, after=cursor, limit=limit)
        return page.record_ids, page.next_after

    return walk_cursor(
        fetch,
        what=f"the members of list {list_id}",
        page_size=MEMBERSHIPS_PAGE,
        problem=numeric_id_problem,
        max_records=max_records,
    )
