"""Measure the Contacts explorer and the CSV export at size (not a test).

    python benchmarks/bench_explorer.py --contacts 200000 [--db /tmp/bench.db] [--url URL]
        [--reuse] [--export-only] [--analyze] [--separate] [--json out.json]

Data and filters are the benchmark suite's (`benchmarks/explorer.py`: `fill`, `FILTERS`), so
both measure the same thing; this script measures a filter change as the Contacts page makes
it (`explore`: page of 50 + total + segment, lifecycle and list facets on one connection),
reporting the median per filter and p50/p95 over every filter and repeat, then a full CSV
export with its time and the process's peak RSS (`--export-only` for the export's RSS alone).

SQLite statistics: HubSync never runs ANALYZE, so by default the SQLite database is measured
without `sqlite_stat1` (as users have it); `--analyze` measures with statistics. PostgreSQL is
analyzed and vacuumed after a fill (autovacuum does both for users).
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script too

from benchmarks.explorer import FILTERS, fill
from hubsync_core.store.database import Database
from hubsync_core.store.explorer import (
    FACETS,
    ContactFilter,
    explore,
    facet_counts,
    query_contacts,
)
from hubsync_core.store.export import write_csv

#: `sync_state` key marking a database this script filled (it refuses to wipe any other).
MARKER = "bench_explorer"


def samples(fn: Callable[[], object], repeats: int) -> list[float]:
    """Wall times in ms; the first call warms caches and is not counted."""
    fn()
    found = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        found.append((time.perf_counter() - start) * 1000)
    return found


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def prepare(db: Database, contacts: int, reuse: bool, analyze: bool) -> None:
    """Fill (unless `reuse` finds the right count) and set the planner statistics."""
    with db.connect() as conn:
        have = conn.execute(sa.text("SELECT count(*) FROM contacts")).scalar_one()
        mine = conn.execute(
            sa.text("SELECT value FROM sync_state WHERE key = :k"), {"k": MARKER}
        ).scalar_one_or_none()
    if have and not mine:
        raise SystemExit(f"{db.location()} holds contacts not written by a benchmark: not touching")
    if not (reuse and have == contacts):
        start = time.perf_counter()
        fill(db, contacts)
        with db.transaction() as conn:
            conn.execute(sa.text("DELETE FROM sync_state WHERE key = :k"), {"k": MARKER})
            conn.execute(
                sa.text("INSERT INTO sync_state (key, value) VALUES (:k, '1')"), {"k": MARKER}
            )
        print(f"filled {contacts:,} contacts in {time.perf_counter() - start:.1f} s")
        if not db.is_sqlite:
            with db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                    sa.text("VACUUM ANALYZE")
                )
    if db.is_sqlite:
        with db.engine.connect() as conn:
            if analyze:
                conn.execute(sa.text("ANALYZE"))
            elif conn.execute(
                sa.text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
            ).first():
                conn.execute(sa.text("DELETE FROM sqlite_stat1"))
            conn.commit()
        db.engine.dispose()  # statistics are read when a connection loads the schema


def queries(db: Database, args: argparse.Namespace) -> dict[str, object]:
    facets = tuple(f for f in args.facets.split(",") if f)
    stats = "" if not db.is_sqlite else (", with ANALYZE" if args.analyze else ", no ANALYZE")
    print(f"{db.dialect}{stats}, {args.contacts:,} contacts; ms as min / median of {args.repeats}")
    print(
        f"explore = page of 50 + total + facets ({', '.join(facets)}) on one connection"
        + ("; separate = query_contacts + facet_counts x3" if args.separate else "")
    )
    print(f"{'filter':32} {'explore':>15} {'separate':>15} {'matches':>9}")
    every: list[float] = []
    per_filter: dict[str, dict[str, float]] = {}
    for label, flt in FILTERS.items():

        def together(flt: ContactFilter = flt) -> object:
            return explore(db, flt, sort=args.sort, limit=50, facets=facets)  # type: ignore[arg-type]

        def separate(flt: ContactFilter = flt) -> object:
            page = query_contacts(db, flt, sort=args.sort, limit=50)
            return page, [facet_counts(db, flt, f) for f in FACETS]  # type: ignore[arg-type]

        found = samples(together, args.repeats)
        every += found
        total = query_contacts(db, flt, limit=0).total
        sep = ""
        if args.separate:
            apart = samples(separate, args.repeats)
            sep = f"{min(apart):6.0f} / {statistics.median(apart):6.0f}"
        best, median = min(found), statistics.median(found)
        per_filter[label] = {"min_ms": best, "median_ms": median, "matches": total}
        print(f"{label:32} {best:6.0f} / {median:6.0f} {sep:>15} {total:9,}")
    p50, p95 = percentile(every, 0.5), percentile(every, 0.95)
    print(f"{'every filter change':32} p50 {p50:6.0f}   p95 {p95:6.0f}   ({len(every)} samples)")
    sorts: dict[str, float] = {}
    for sort in ("email", "hubspot_id", "created_at"):
        found = samples(lambda sort=sort: query_contacts(db, ContactFilter(), sort=sort), 3)
        sorts[sort] = statistics.median(found)
        print(f"{'page sorted by ' + sort:32} {min(found):6.0f} / {sorts[sort]:6.0f}")
    return {"filter_p50_ms": p50, "filter_p95_ms": p95, "per_filter": per_filter, "sorts": sorts}


def exports(db: Database) -> dict[str, object]:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    found: dict[str, object] = {}
    for label, sort in (("export all (updated_at)", "updated_at"), ("export all (email)", "email")):
        sink = _CountingSink()
        start = time.perf_counter()
        rows = write_csv(db, ContactFilter(archived="include"), sink, sort=sort)
        elapsed = time.perf_counter() - start
        found[sort] = {"rows": rows, "seconds": elapsed, "bytes": sink.size}
        print(f"{label:32} {rows:,} rows in {elapsed:.2f} s, {sink.size / 1e6:.1f} MB of CSV")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB (before the exports: {before:.0f} MB)")
    found["peak_rss_mb"] = peak
    return found


class _CountingSink(io.RawIOBase):
    """A binary stream that only counts bytes (so the file does not inflate RSS)."""

    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.size += len(data)
        return len(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--db", default="/tmp/hubsync-bench.db")
    parser.add_argument("--url", help="database URL (overrides --db), e.g. PostgreSQL")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="keep existing data if the count fits")
    parser.add_argument("--sort", default="updated_at")
    parser.add_argument(
        "--facets",
        default=",".join(FACETS),
        help="facets counted per filter change (default: the Contacts page's three)",
    )
    parser.add_argument("--analyze", action="store_true", help="SQLite: with ANALYZE statistics")
    parser.add_argument(
        "--separate", action="store_true", help="also time query_contacts + facet_counts x3"
    )
    parser.add_argument(
        "--export-only", action="store_true", help="only the exports (peak RSS is theirs alone)"
    )
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()

    db = Database(args.url or f"sqlite:///{args.db}")
    prepare(db, args.contacts, args.reuse, args.analyze)
    results: dict[str, object] = {"dialect": db.dialect, "contacts": args.contacts}
    if not args.export_only:
        results["queries"] = queries(db, args)
    results["exports"] = exports(db)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
