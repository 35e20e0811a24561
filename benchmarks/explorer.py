"""The Contacts explorer and the CSV export at size (folded in from `bench_explorer.py`).

    python -m benchmarks.explorer --contacts 200000 [--url URL] [--repeats 5]

Fills a database with synthetic contacts (segments, lists, properties) written straight into
the tables, then times, for a set of realistic filters, a filter change as the Contacts page
makes it (`explore`: page of 50 + total + segment and lifecycle facet counts on one
connection) and the facet counts alone, and reports p50/p95 over every filter and repeat.
The suite (`python -m benchmarks`) runs the full CSV export in a child process of its own,
so the export's peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hubsync_core.store import contact_params, upkeep
from hubsync_core.store.database import Database
from hubsync_core.store.explorer import ContactFilter, explore, facet_counts
from hubsync_core.store.explorer.sql import CONTACTS, LISTS, MEMBERS, SEGMENTS

NOW = datetime(2026, 11, 28, 12, 0, 0)
STAGES = [
    "subscriber",
    "lead",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "partner",
    None,
]
FIRST = ["Ann", "Bob", "Chloé", "Dmitri", "Émile", "Fatima", "Grace", "Hiro", "Ines", "Jon"]
LAST = ["Lee", "Müller", "Smith", "O'Brien", "Nakamura", "García", "Novak", "Brown"]
COMPANIES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Chainge",
    "CHAINGE Labs",
    "Vandelay",
]
#: The rows below are built in the upsert's column order (the contacts table's).
COLUMNS = contact_params.COLUMNS
LIST_IDS = ("101", "102", "103")
CHUNK = 20_000

#: The filters a sales-ops user changes between (each timed as a filter change).
FILTERS: dict[str, ContactFilter] = {
    "unfiltered": ContactFilter(),
    "segment chainge": ContactFilter(segments=("chainge",)),
    "segments engaged|high_value": ContactFilter(segments=("engaged", "high_value")),
    "segments cold&high_value (all)": ContactFilter(
        segments=("cold", "high_value"), segment_match="all"
    ),
    "search 'acme 12'": ContactFilter(search="acme 12"),
    "search 'müller'": ContactFilter(search="müller"),
    "search rare 'user19999@'": ContactFilter(search="user19999@"),
    "stage lead + created 2025": ContactFilter(
        lifecycle_stages=("lead",), created_from=date(2025, 1, 1), created_to=date(2025, 12, 31)
    ),
    "no email": ContactFilter(has_email=False),
    "list 101 + chainge": ContactFilter(list_ids=("101",), segments=("chainge",)),
    "archived only": ContactFilter(archived="only"),
}


def _contacts(n: int, seed: int) -> Iterator[tuple[tuple[Any, ...], list[str], list[str]]]:
    """(contact row, its segments, its lists) for `n` synthetic contacts."""
    rng = random.Random(seed)
    choice, randint, rand = rng.choice, rng.randint, rng.random
    for i in range(n):
        hid = str(1000 + i * 3)
        company = f"{choice(COMPANIES)} {randint(1, 500)}"
        stage = choice(STAGES)
        created = NOW - timedelta(days=randint(0, 5 * 365), seconds=randint(0, 86399))
        # Somewhere between creation and now, to the second (real dates rarely tie).
        updated = (created + (NOW - created) * rand()).replace(microsecond=0)
        email = None if rand() < 0.05 else f"user{i}@example{i % 97}.com"
        archived = rand() < 0.02
        first, last = choice(FIRST), choice(LAST)
        props = {
            "email": email,
            "firstname": first,
            "lastname": last,
            "company": company,
            "lifecyclestage": stage,
            "country": choice(["DE", "FR", "US", "NL"]),
            "hs_lead_status": choice(["NEW", "OPEN", None]),
            "city": choice(["Berlin", "Paris", "Austin", "Utrecht"]),
        }
        row = (
            hid,
            email,
            first,
            last,
            company,
            f"+49 30 {randint(1000000, 9999999)}",
            choice(["CEO", "CTO", "Buyer", "Engineer", None]),
            stage,
            props,
            created,
            updated,
            NOW,
            archived,
            NOW if archived else None,
            "archived" if archived else None,
            1,
        )
        segments = []
        if "chainge" in company.lower():
            segments.append("chainge")
        age = (NOW - updated).days
        if age <= 30:
            segments.append("engaged")
        if age >= 90:
            segments.append("cold")
        if stage in ("customer", "evangelist", "opportunity"):
            segments.append("high_value")
        lists = [list_id for list_id in LIST_IDS if rand() < 0.1]
        yield row, segments, lists


def fill(db: Database, n: int, seed: int = 7) -> None:
    """Replace the database's contacts with `n` synthetic ones (and segments, lists)."""
    with db.transaction() as conn:
        for table in (SEGMENTS, MEMBERS, LISTS, CONTACTS):
            conn.execute(sa.delete(table))
        conn.execute(
            sa.insert(LISTS),
            [{"list_id": i, "name": f"List {i}", "synced_at": NOW} for i in LIST_IDS],
        )
    raw = db.engine.raw_connection()
    try:
        writer = _copy_chunk if db.dialect == "postgresql" else _insert_chunk
        batch: list[tuple[tuple[Any, ...], list[str], list[str]]] = []
        for item in _contacts(n, seed):
            batch.append(item)
            if len(batch) == CHUNK:
                writer(raw, batch)
                batch = []
        if batch:
            writer(raw, batch)
        raw.commit()
    finally:
        raw.close()
    if db.is_sqlite:
        with db.engine.connect() as conn:
            conn.execute(sa.text("ANALYZE"))
    else:
        # The tables as a full sync leaves them: vacuumed and analyzed (store/upkeep.py).
        upkeep.vacuum_explorer_tables(db)


def _insert_chunk(raw: Any, batch: list[tuple[tuple[Any, ...], list[str], list[str]]]) -> None:
    """SQLite: driver-level executemany, values as SQLAlchemy would store them."""

    def stamp(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat(" ", "microseconds")

    rows = [
        (*r[:8], json.dumps(r[8]), *map(stamp, r[9:12]), int(r[12]), stamp(r[13]), r[14], r[15])
        for r, _, _ in batch
    ]
    cursor = raw.cursor()
    marks = ", ".join("?" * len(COLUMNS))
    cursor.executemany(f"INSERT INTO contacts ({', '.join(COLUMNS)}) VALUES ({marks})", rows)
    cursor.executemany(
        "INSERT INTO contact_segments (segment, hubspot_id) VALUES (?, ?)",
        [(s, r[0]) for r, segments, _ in batch for s in segments],
    )
    cursor.executemany(
        "INSERT INTO list_memberships (list_id, hubspot_id) VALUES (?, ?)",
        [(i, r[0]) for r, _, lists in batch for i in lists],
    )
    cursor.close()


def _copy_chunk(raw: Any, batch: list[tuple[tuple[Any, ...], list[str], list[str]]]) -> None:
    """PostgreSQL: COPY, the fastest way in."""
    cursor = raw.cursor()
    with cursor.copy(f"COPY contacts ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for r, _, _ in batch:
            copy.write_row((*r[:8], json.dumps(r[8]), *r[9:]))
    with cursor.copy("COPY contact_segments (segment, hubspot_id) FROM STDIN") as copy:
        for r, segments, _ in batch:
            for s in segments:
                copy.write_row((s, r[0]))
    with cursor.copy("COPY list_memberships (list_id, hubspot_id) FROM STDIN") as copy:
        for r, _, lists in batch:
            for i in lists:
                copy.write_row((i, r[0]))
    cursor.close()


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def _timed(fn: Callable[[], object], repeats: int) -> list[float]:
    """Wall times in ms; a first call warms caches and is not counted."""
    fn()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def measure(db: Database, repeats: int = 5, sort: str = "updated_at") -> dict[str, Any]:
    """Filter-change and facet latencies (ms) over every filter in `FILTERS`."""
    change: list[float] = []
    facets: list[float] = []
    per_filter: dict[str, dict[str, float]] = {}
    for label, flt in FILTERS.items():

        def filter_change(flt: ContactFilter = flt) -> object:
            return explore(db, flt, sort=sort, limit=50, facets=("segment", "lifecycle"))

        def facet_only(flt: ContactFilter = flt) -> object:
            return [facet_counts(db, flt, f) for f in ("segment", "lifecycle")]

        times = _timed(filter_change, repeats)
        facet_times = _timed(facet_only, repeats)
        change += times
        facets += facet_times
        per_filter[label] = {
            "filter_median_ms": statistics.median(times),
            "facets_median_ms": statistics.median(facet_times),
            "matches": explore(db, flt, limit=0, facets=()).page.total,
        }
    return {
        "filter_p50_ms": _percentile(change, 0.5),
        "filter_p95_ms": _percentile(change, 0.95),
        "facet_p50_ms": _percentile(facets, 0.5),
        "facet_p95_ms": _percentile(facets, 0.95),
        "samples": len(change),
        "per_filter": per_filter,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--url", default="sqlite:////tmp/hubsync-bench-explorer.db")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="keep existing data if the count fits")
    args = parser.parse_args()
    db = Database(args.url)
    with db.connect() as conn:
        have = conn.execute(sa.text("SELECT count(*) FROM contacts")).scalar_one()
    if not (args.reuse and have == args.contacts):
        started = time.perf_counter()
        fill(db, args.contacts)
        print(f"filled {args.contacts:,} contacts in {time.perf_counter() - started:.1f} s")
    result = measure(db, args.repeats)
    print(f"{db.dialect}, {args.contacts:,} contacts, ms over {result['samples']} samples")
    print(f"{'filter':32} {'change':>8} {'facets':>8} {'matches':>9}")
    for label, row in result["per_filter"].items():
        print(
            f"{label:32} {row['filter_median_ms']:8.0f} {row['facets_median_ms']:8.0f} "
            f"{row['matches']:9,}"
        )
    print(
        f"filter change p50/p95 {result['filter_p50_ms']:.0f}/{result['filter_p95_ms']:.0f} ms, "
        f"facets p50/p95 {result['facet_p50_ms']:.0f}/{result['facet_p95_ms']:.0f} ms"
    )
    db.dispose()


if __name__ == "__main__":
    main()
