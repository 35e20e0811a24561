"""The counting audit: prove the local copy equals HubSpot with about two searches per id range.

For each of ~100 `hs_object_id` ranges (cut at quantiles of the local ids, so sparse ids give
ranges of equal size) HubSpot's search answers two totals at one call each: every live contact,
and those modified since the copy was last proven. The same counts come from the local copy
for free. A missed change leaves the local contact with an older modification date, so the
second count differs; the modified ones come back with the count (up to a page), which names
stale and missing contacts at no extra call; local contacts changed since the proof that it does
not list are looked up by id (100 a search), which names extra rows even where a lost contact
in the same range cancels them out in the live count. Where the live counts still differ, the
range is bisected (one count per level) until a range fits one search page, whose ids name the
missing and extra contacts. Differences younger than the search index lag are pending, not drift.

Counting cannot see a lost contact and an extra row older than the proof inside the same range:
their counts cancel (the README says so).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hubsync_core.audit.model import AuditReport, RangeDrift
from hubsync_core.hubspot import search_filters as sf
from hubsync_core.hubspot.client import HubSpotClient
from hubsync_core.hubspot.models import ContactRecord
from hubsync_core.hubspot.paging import SEARCH_PAGE, contact_problem, walk_search_by_id
from hubsync_core.store.audit import epoch_ms
from hubsync_core.sync.records import parse_time

#: Top-level ranges for a full portal (the issue's "about a hundred").
MAX_RANGES = 100
#: Fewer ranges for small portals: at least this many local contacts per range.
MIN_RANGE_SIZE = 500
_PROPS = (sf.ID_PROPERTY, sf.MODIFIED_PROPERTY)
#: Ids per `hs_object_id IN (...)` search (HubSpot takes at most 100 values).
_ID_BATCH = 100


@dataclass(frozen=True)
class LocalCopy:
    """The local live contacts: numeric ids ascending and their modification times (ms)."""

    ids: list[int]
    modified: list[int]

    def bounds(self, low: int, high: int | None) -> tuple[int, int]:
        start = bisect.bisect_left(self.ids, low)
        end = len(self.ids) if high is None else bisect.bisect_left(self.ids, high)
        return start, end

    def count(self, low: int, high: int | None) -> int:
        start, end = self.bounds(low, high)
        return end - start

    def modified_since(self, low: int, high: int | None, since_ms: int) -> dict[int, int]:
        start, end = self.bounds(low, high)
        return {
            self.ids[k]: self.modified[k] for k in range(start, end) if self.modified[k] >= since_ms
        }

    def slice(self, low: int, high: int | None) -> dict[int, int]:
        start, end = self.bounds(low, high)
        return dict(zip(self.ids[start:end], self.modified[start:end], strict=True))


def plan_ranges(ids: list[int], max_ranges: int = MAX_RANGES) -> list[tuple[int, int | None]]:
    """Id ranges `[low, high)` covering every id (the last one open-ended), cut at quantiles of
    the local ids so each holds about as many contacts however sparse the ids are."""
    count = min(max_ranges, max(1, -(-len(ids) // MIN_RANGE_SIZE)))
    cuts = sorted({ids[len(ids) * k // count] for k in range(1, count)}) if ids else []
    lows = [0, *cuts]
    highs: list[int | None] = [*cuts, None]
    return list(zip(lows, highs, strict=True))


@dataclass
class _Found:
    """Differences with HubSpot's (missing, stale) or the local (extra) modification time."""

    missing: dict[int, int] = field(default_factory=dict)
    extra: dict[int, int] = field(default_factory=dict)
    stale: dict[int, int] = field(default_factory=dict)
    #: Local contacts modified since the proof that HubSpot's modified set did not list.
    suspects: dict[int, int] = field(default_factory=dict)

    def net(self, low: int, high: int | None) -> int:
        """HubSpot's live count minus the local one that the named contacts explain."""

        def inside(ids: dict[int, int]) -> int:
            return sum(1 for i in ids if i >= low and (high is None or i < high))

        return inside(self.missing) - inside(self.extra)

    def compare(self, hubspot: dict[int, int], local: dict[int, int], *, extras: bool) -> None:
        for record_id, hs_ms in hubspot.items():
            mine = local.get(record_id)
            if mine is None:
                self.missing[record_id] = hs_ms
            elif hs_ms > mine:
                self.stale[record_id] = hs_ms
        if extras:
            for record_id, local_ms in local.items():
                if record_id not in hubspot:
                    self.extra[record_id] = local_ms


class CountingAudit:
    """One audit run against `client` (HTTP) of the `local` copy (read from the store)."""

    def __init__(
        self,
        client: HubSpotClient,
        local: LocalCopy,
        since: datetime,
        *,
        index_lag: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self.client = client
        self.local = local
        self.since = since
        self.since_ms = epoch_ms(since)
        self.index_lag = index_lag
        self.clock = clock

    # -- HubSpot side ---------------------------------------------------------------------
    def _search(self, filters: list[sf.Filter], limit: int) -> tuple[int, dict[int, int]]:
        """(total, {id: lastmodifieddate ms} of the first page sorted by id)."""
        page = self.client.search_contacts(
            sf.group(*filters), list(_PROPS), sorts=sf.by_id(), limit=limit
        )
        return page.total, _modified_by_id(page.contacts)

    def _walk(self, low: int, high: int | None, filters: list[sf.Filter]) -> dict[int, int]:
        """Every id (with its modification time) in `[low, high)` matching `filters`."""
        found: dict[int, int] = {}
        walk = walk_search_by_id(
            self.client,
            _PROPS,
            filters=filters,
            first_id=str(low),
            end_id=None if high is None else str(high),
            what="the audit's id listing",
        )
        for page in walk:
            found.update(_modified_by_id(page.contacts))
        return found

    # -- the audit ------------------------------------------------------------------------
    def run(self) -> AuditReport:
        started, t0 = self.clock(), time.monotonic()
        calls_before = self.client.counters().api_calls
        cutoff_ms = epoch_ms(started - self.index_lag)
        ranges = plan_ranges(self.local.ids)
        checked = [(low, high, _Found()) for low, high in ranges]
        # Pass 1: two totals per range; the modified contacts name the stale and missing ones,
        # and local contacts modified since the proof that HubSpot did not list are suspects.
        live_counts = [self._check_range(low, high, found) for low, high, found in checked]
        self._verify_suspects(checked)
        # Pass 2: where the live counts still differ after what is named, bisect and list.
        for (low, high, found), live_hs in zip(checked, live_counts, strict=True):
            if live_hs != self.local.count(low, high) + found.net(low, high):
                self._bisect(low, high, live_hs, found)
        missing: dict[int, int] = {}
        extra: dict[int, int] = {}
        stale: dict[int, int] = {}
        drift: list[RangeDrift] = []
        for low, high, found in checked:
            found.suspects.clear()
            missing.update(found.missing)
            extra.update(found.extra)
            stale.update(found.stale)
            if found.missing or found.extra or found.stale:
                drift.append(_range_drift(low, high, found, cutoff_ms))
        pending = sorted(
            {i for d in (missing, stale) for i, ms in d.items() if ms > cutoff_ms}
            | {i for i, ms in extra.items() if ms > cutoff_ms}
        )
        settled = set(pending)

        def named(found: dict[int, int]) -> list[str]:
            return [str(i) for i in sorted(found) if i not in settled]

        return AuditReport(
            checked_at=started,
            since=self.since,
            hubspot_total=sum(live_counts),
            local_total=len(self.local.ids),
            ranges=len(ranges),
            api_calls=self.client.counters().api_calls - calls_before,
            seconds=time.monotonic() - t0,
            missing=named(missing),
            extra=named(extra),
            stale=named(stale),
            pending=[str(i) for i in pending],
            range_drift=drift,
        )

    def _check_range(self, low: int, high: int | None, found: _Found) -> int:
        """Count one top-level range (two searches); return HubSpot's live count in it."""
        in_range = sf.id_range(low, high)
        live_hs, _ = self._search(in_range, 1)
        changed = [*in_range, sf.modified_from(self.since_ms)]
        mod_hs, first_page = self._search(changed, SEARCH_PAGE)
        mod_local = self.local.modified_since(low, high, self.since_ms)
        listed: dict[int, int] | None = None
        if mod_hs > len(first_page):
            if mod_hs != len(mod_local):
                listed = self._walk(low, high, changed)
        elif first_page or mod_local:
            listed = first_page  # the whole modified set came with its count
        if listed is not None:
            found.compare(listed, self.local.slice(low, high), extras=False)
            found.suspects.update({i: ms for i, ms in mod_local.items() if i not in listed})
        return live_hs

    def _verify_suspects(self, checked: list[tuple[int, int | None, _Found]]) -> None:
        """Local contacts changed since the proof that HubSpot's modified set lacks: ask for
        them by id (100 a search); those HubSpot does not have are extra."""
        suspects = {i: (ms, found) for _, _, found in checked for i, ms in found.suspects.items()}
        ids = sorted(suspects)
        for start in range(0, len(ids), _ID_BATCH):
            chunk = ids[start : start + _ID_BATCH]
            _, present = self._search([sf.id_in(chunk)], SEARCH_PAGE)
            for record_id in chunk:
                if record_id not in present:
                    ms, found = suspects[record_id]
                    found.extra[record_id] = ms

    def _bisect(self, low: int, high: int | None, live_hs: int, found: _Found) -> None:
        """Narrow a range whose live counts differ (beyond the contacts already named) until it
        fits a page, then list its ids."""
        start, end = self.local.bounds(low, high)
        local_count = end - start
        if live_hs == local_count + found.net(low, high):
            return
        if max(live_hs, local_count) <= SEARCH_PAGE or local_count < 2:
            found.compare(self._walk(low, high, []), self.local.slice(low, high), extras=True)
            return
        mid = self.local.ids[start + local_count // 2]
        if mid <= low:
            found.compare(self._walk(low, high, []), self.local.slice(low, high), extras=True)
            return
        left_hs, _ = self._search(sf.id_range(low, mid), 1)
        self._bisect(low, mid, left_hs, found)
        self._bisect(mid, high, live_hs - left_hs, found)


def _modified_by_id(records: Sequence[ContactRecord]) -> dict[int, int]:
    out: dict[int, int] = {}
    for record in records:
        if contact_problem(record):
            continue
        when = parse_time(record.properties.get(sf.MODIFIED_PROPERTY) or record.updated_at)
        out[int(record.id)] = epoch_ms(when)
    return out


def _range_drift(low: int, high: int | None, found: _Found, cutoff_ms: int) -> RangeDrift:
    def drift(d: dict[int, int]) -> int:
        return sum(1 for ms in d.values() if ms <= cutoff_ms)

    pending = sum(1 for d in (found.missing, found.extra, found.stale) for ms in d.values())
    counts = (drift(found.missing), drift(found.extra), drift(found.stale))
    return RangeDrift(low, high, *counts, pending=pending - sum(counts))
