"""The audit's result: which contacts differ, per id range, and the verdict users read."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from hubsync_core.clock import iso_z

IN_SYNC, DRIFT, PENDING = "in_sync", "drift", "pending"
#: Example ids shown per kind in the verdict text.
EXAMPLES = 5
#: Ids kept per kind in a saved report (the counts are always exact).
KEPT_IDS = 1000


@dataclass(frozen=True)
class RangeDrift:
    """Differences found inside one top-level id range `[low, high)` (high None: no end)."""

    low: int
    high: int | None
    missing: int = 0
    extra: int = 0
    stale: int = 0
    pending: int = 0

    @property
    def label(self) -> str:
        return f"{self.low:,}–{self.high:,}" if self.high is not None else f"{self.low:,}–"


@dataclass(frozen=True)
class RepairOutcome:
    """What `--repair` did: re-read (stored), removed, and the run it was recorded as."""

    run_id: int
    reread: int
    removed: int
    api_calls: int


@dataclass(frozen=True)
class AuditReport:
    """One audit. Ids are strings; `missing`: in HubSpot, not local; `extra`: local, not in
    HubSpot; `stale`: HubSpot changed it after the local copy; `pending`: a difference younger
    than the search index lag (not drift: the next sync or audit settles it)."""

    checked_at: datetime
    since: datetime
    hubspot_total: int
    local_total: int
    ranges: int
    api_calls: int
    seconds: float
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    range_drift: list[RangeDrift] = field(default_factory=list)
    repair: RepairOutcome | None = None

    @property
    def differences(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.stale)

    @property
    def status(self) -> str:
        if self.differences:
            return DRIFT
        return PENDING if self.pending else IN_SYNC

    @property
    def in_sync(self) -> bool:
        """True unless drift was found (pending changes are not drift)."""
        return self.status != DRIFT

    def verdict(self) -> str:
        """One line, e.g. `in sync: 200,000 of 200,000; checked 12:04 UTC; 41 calls`."""
        when = f"checked {self.checked_at:%H:%M} UTC; {self.api_calls:,} calls"
        if self.status == DRIFT:
            parts = [
                f"{len(ids):,} {kind}"
                for kind, ids in (
                    ("missing", self.missing),
                    ("extra", self.extra),
                    ("stale", self.stale),
                )
                if ids
            ]
            line = (
                f"drift: {self.differences:,} differences ({', '.join(parts)}); HubSpot "
                f"{self.hubspot_total:,}, local {self.local_total:,}; {when}"
            )
        else:
            line = f"in sync: {self.local_total:,} of {self.hubspot_total:,}; {when}"
        if self.pending:
            line += f"; {len(self.pending):,} pending (changed within the index lag)"
        return line

    def details(self) -> list[str]:
        """Example ids per kind of difference, one line each."""
        lines = []
        for kind, ids in (
            ("missing", self.missing),
            ("extra", self.extra),
            ("stale", self.stale),
            ("pending", self.pending),
        ):
            if ids:
                shown = ", ".join(ids[:EXAMPLES]) + (", ..." if len(ids) > EXAMPLES else "")
                lines.append(f"  {kind}: {shown}")
        return lines

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (times ISO with Z; at most `KEPT_IDS` ids per kind, counts exact)."""
        return {
            "status": self.status,
            "verdict": self.verdict(),
            "checkedAt": iso_z(self.checked_at),
            "since": iso_z(self.since),
            "hubspotTotal": self.hubspot_total,
            "localTotal": self.local_total,
            "differences": self.differences,
            "counts": {
                "missing": len(self.missing),
                "extra": len(self.extra),
                "stale": len(self.stale),
                "pending": len(self.pending),
            },
            "missing": self.missing[:KEPT_IDS],
            "extra": self.extra[:KEPT_IDS],
            "stale": self.stale[:KEPT_IDS],
            "pending": self.pending[:KEPT_IDS],
            "ranges": self.ranges,
            "rangeDrift": [asdict(r) for r in self.range_drift],
            "apiCalls": self.api_calls,
            "seconds": round(self.seconds, 3),
            "repair": asdict(self.repair) if self.repair else None,
        }
