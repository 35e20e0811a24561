"""HubSync's benchmark suite: every scenario against the sandbox on loopback, on SQLite and
PostgreSQL, printed as a table and written as JSON.

    python -m benchmarks [--quick] [--backend sqlite|postgresql|both] [--only a,b] [--repeats N]
    python benchmarks/run.py ...            (the same)

See benchmarks/README.md for the scenarios and what each column means.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python benchmarks/run.py`: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import budgets, rounds
from benchmarks.api import QUICK_API, ApiSizes
from benchmarks.changes import (
    INCREMENTAL_ARCHIVED,
    archive_contacts,
    change_contacts,
    change_list,
    check_incremental,
)
from benchmarks.exact import check_counts, check_full
from benchmarks.infra import (
    TOKEN,
    BenchError,
    Databases,
    SandboxProcess,
    machine,
    run_child,
    scratch_dir,
)
from benchmarks.report import HEADER, Row, brief, format_row, phase_note, short_count, table

SCENARIOS = (
    "ingest",
    "rate",
    "budgets",
    "latency",
    "incremental",
    "explorer",
    "peer",
    "million",
    "api",
    "freshness",
    "audit",
    "bulk",
)
BACKENDS = ("sqlite", "postgresql")
#: The incremental scenarios measure the sync alone: the counting audit that follows each
#: incremental sync by default (`HUBSYNC_AUDIT_AFTER_SYNC`) has its own searches.
NO_AUDIT = {"HUBSYNC_AUDIT_AFTER_SYNC": "false"}
RESULTS_DIR = Path(__file__).resolve().parent / "results"
#: HubSpot Starter's list-endpoint ceiling: 100 requests per 10 s x 100 contacts.
CEILING = 1_000.0
#: Issue 17 item 2: contacts/s end to end at 250 ms latency, 12,000 contacts.
LATENCY_TARGET = 1_000.0


@dataclass(frozen=True)
class Sizes:
    """How big each scenario is (full run, or `QUICK` for CI)."""

    ingest: int = 100_000
    rate: int = 20_000
    rate_latency_ms: int = 50
    #: The budgets scenario (benchmarks/budgets.py): Starter and Professional, 50 ms.
    budgets: int = 30_000
    latency: int = 12_000
    latency_ms: int = 250
    incremental_stored: int = 200_000
    incremental_changed: int = 500
    explorer: tuple[int, ...] = (200_000, 1_000_000)
    explorer_repeats: int = 5
    peer: int = 10_000
    million: int = 1_000_000
    freshness: int = 20_000
    freshness_deliveries: int = 300
    #: Portal sizes of the audit scenario (benchmarks/audit.py); SQLite only.
    audit: tuple[int, ...] = (10_000, 200_000)
    bulk: int = 20_000
    bulk_latency_ms: int = 250
    repeats: int = 3
    api: ApiSizes = field(default_factory=ApiSizes)


QUICK = Sizes(
    ingest=1_500,
    rate=1_000,
    budgets=9_000,  # above the parallel backfill's 8,000 threshold
    latency=600,
    latency_ms=50,
    incremental_stored=1_500,
    incremental_changed=20,
    explorer=(2_000,),
    explorer_repeats=1,
    peer=300,
    million=0,
    freshness=0,  # `--only freshness` at full size; the acceptance test runs it at 2,000
    audit=(),  # `--only audit`; tests/audit run the acceptance scenarios at 3,000
    bulk=300,
    bulk_latency_ms=50,
    repeats=1,
    api=QUICK_API,
)


class Suite:
    def __init__(self, sizes: Sizes, backends: tuple[str, ...], log: Callable[[str], None]):
        self.sizes = sizes
        self.backends = backends
        self.log = log
        self.rows: list[Row] = []

    # -- helpers ----------------------------------------------------------------------------
    def sync(
        self,
        sandbox: SandboxProcess,
        url: str,
        mode: str = "full",
        env: dict[str, str] | None = None,
        profile: str | None = None,
    ) -> dict[str, Any]:
        """One `hubsync sync` in a child process; its stats with the sandbox's own counts."""
        before = sandbox.stats()
        args = ["sync", "--mode", mode]
        if profile:
            args += ["--profile", profile]
        result = run_child(
            args,
            {
                **sandbox.env(),
                "DATABASE_URL": url,
                "HUBSYNC_INCREMENTAL_LAG_MINUTES": "0",
                **(env or {}),
            },
        )
        after = sandbox.stats()
        result["sandbox_requests"] = after["requests"] - before["requests"]
        result["sandbox_search_requests"] = after["searchRequests"] - before["searchRequests"]
        result["sandbox_429"] = after["rateLimited"] - before["rateLimited"]
        if result.get("status") != "succeeded":
            raise BenchError(f"sync ended {result.get('status')}: {result.get('message')}")
        return result

    def sync_row(
        self, scenario: str, backend: str, runs: list[dict[str, Any]], note: str, live: int
    ) -> Row:
        """A table row from repeated syncs (each checked to have stored exactly the portal's
        `live` contacts): the median run by contacts/s."""
        check_counts(runs, live)
        for run in runs:
            run["contacts_per_s"] = run["total_synced"] / max(run["duration_seconds"], 1e-9)
            phase = run.get("contacts_phase_seconds")
            run["phase_contacts_per_s"] = run["total_synced"] / phase if phase else None
        ordered = sorted(runs, key=lambda r: r["contacts_per_s"])
        median = ordered[len(ordered) // 2]
        synced = median["total_synced"]
        row = Row(
            scenario,
            backend,
            synced,
            seconds=median["duration_seconds"],
            contacts_per_s=statistics.median(r["contacts_per_s"] for r in runs),
            api_calls=median["sandbox_requests"],
            rate_limited=median["sandbox_429"],
            cpu_s_per_10k=median["cpu_seconds"] / max(synced, 1) * 10_000,
            peak_rss_mb=median["peak_rss_mb"],
            note=note,
            runs=[brief(r) for r in runs],
            extra={
                "portal_live": live,
                "phase_contacts_per_s": statistics.median(
                    r["phase_contacts_per_s"] or 0 for r in runs
                ),
            },
        )
        return row

    def add(self, row: Row) -> None:
        self.rows.append(row)
        self.log(format_row(row))

    def repeated_syncs(
        self, sandbox: SandboxProcess, databases: Databases, backend: str, label: str, **kw: Any
    ) -> list[dict[str, Any]]:
        """Full syncs into new databases, each checked exact (`check_full`: its summary kept)."""
        runs = []
        for _ in range(self.sizes.repeats):
            url = databases.new(backend, label)
            try:
                since, result = rounds.last_seq(sandbox), self.sync(sandbox, url, **kw)
                result.update(rounds=rounds.outside_walk(sandbox, since))
                runs.append({**result, "checked": check_full(sandbox, url)})
            finally:
                databases.drop(url)
        return runs

    # -- scenarios --------------------------------------------------------------------------
    def ingest(self, databases: Databases) -> None:
        """Zero latency, no rate limit: how fast the local side goes."""
        sandbox = SandboxProcess.start(self.sizes.ingest)
        try:
            live = sandbox.live_contacts()
            for backend in self.backends:
                runs = self.repeated_syncs(sandbox, databases, backend, "ingest")
                row = self.sync_row("ingest", backend, runs, "", live)
                row.note = f"{phase_note(row)}; median of {len(runs)}"
                self.add(row)
        finally:
            sandbox.stop()

    def rate(self, databases: Databases) -> None:
        """HubSpot Starter's burst limit (100 requests per 10 s) with 50 ms latency; then the
        same with search drawing on the burst budget too (HubSpot's documents are unclear)."""
        for in_burst in (False, True):
            sandbox = SandboxProcess.start(
                self.sizes.rate,
                latency_ms=self.sizes.rate_latency_ms,
                rate_limit=100,
                search_rate_limit=5,
                search_counts_toward_burst=in_burst,
            )
            env = {"HUBSYNC_SEARCH_COUNTS_TOWARD_BURST": "true"} if in_burst else {}
            label = "rate-bound, search in burst" if in_burst else "rate-bound"
            try:
                live = sandbox.live_contacts()
                for backend in self.backends:
                    runs = self.repeated_syncs(sandbox, databases, backend, "rate", env=env)
                    row = self.sync_row(label, backend, runs, "", live)
                    share = (row.contacts_per_s or 0) / CEILING
                    share_429 = (row.rate_limited or 0) / max(row.api_calls or 0, 1)
                    row.extra.update(share_of_ceiling=share, share_429=share_429)
                    row.note = f"{share:.0%} of the 1,000/s ceiling, {share_429:.1%} 429s; {phase_note(row)}"
                    self.add(row)
            finally:
                sandbox.stop()

    def budgets(self, databases: Databases) -> None:
        """Both budgets at once at Starter and Professional limits (benchmarks/budgets.py)."""
        budgets.run(self, databases, self.sizes.budgets, self.sizes.rate_latency_ms)

    def latency(self, databases: Databases) -> None:
        """250 ms per request and the burst limit (issue 17 item 2: >= 1,000/s end to end)."""
        sandbox = SandboxProcess.start(
            self.sizes.latency,
            latency_ms=self.sizes.latency_ms,
            rate_limit=100,
            search_rate_limit=5,
        )
        try:
            live = sandbox.live_contacts()
            cap = 100 / (self.sizes.latency_ms / 1000)
            for backend in self.backends:
                runs = self.repeated_syncs(sandbox, databases, backend, "latency")
                row = self.sync_row("latency-bound", backend, runs, "", live)
                row.note = (
                    f"end to end {row.contacts_per_s or 0:,.0f}/s (target {LATENCY_TARGET:,.0f}); "
                    f"{phase_note(row)} (sequential paging caps at {cap:,.0f}/s); round trips "
                    "outside the walk: {before} before, {after} after; ".format(**runs[0]["rounds"])
                    + runs[0]["checked"]
                )
                self.add(row)
        finally:
            sandbox.stop()

    def incremental(self, databases: Databases) -> None:
        """A full sync of N contacts, then M changed in HubSpot, then an incremental sync; and
        the same with contacts archived and list members changed too. Each run is checked
        to leave the database equal to the portal (live count, every change stored)."""
        sizes = self.sizes
        sandbox = SandboxProcess.start(sizes.incremental_stored)
        try:
            for backend in self.backends:
                url = databases.new(backend, "incremental")
                try:
                    full = self.sync(sandbox, url)
                    edits = change_contacts(sandbox, url, sizes.incremental_changed)
                    quiet = self.sync(sandbox, url, mode="incremental", env=NO_AUDIT)
                    check_incremental(sandbox, url, edits)
                    edits = change_contacts(sandbox, url, sizes.incremental_changed, "Again")
                    archived = archive_contacts(sandbox, url, INCREMENTAL_ARCHIVED)
                    change_list(sandbox, url)
                    busy = self.sync(sandbox, url, mode="incremental", env=NO_AUDIT)
                    check_incremental(sandbox, url, edits, archived)
                finally:
                    databases.drop(url)
                for result, label, extra_note in (
                    (quiet, "incremental", "no list changed, nothing archived"),
                    (
                        busy,
                        "incremental, lists+archived",
                        f"{INCREMENTAL_ARCHIVED} archived, 1 list changed",
                    ),
                ):
                    row = Row(
                        label,
                        backend,
                        result["total_synced"],
                        seconds=result["duration_seconds"],
                        contacts_per_s=None,
                        api_calls=result["sandbox_requests"],
                        rate_limited=result["sandbox_429"],
                        cpu_s_per_10k=None,
                        peak_rss_mb=result["peak_rss_mb"],
                        note=(
                            f"{full['total_synced']:,} stored, {len(edits)} changed, "
                            f"{extra_note}; {result['sandbox_search_requests']} searches, "
                            f"{result['duration_seconds']:.1f} s; exact"
                        ),
                        runs=[brief(full), brief(result)],
                        extra={"changed": len(edits), "stored": full["total_synced"]},
                    )
                    self.add(row)
        finally:
            sandbox.stop()

    def explorer(self, databases: Databases) -> None:
        """Filter and facet latency, and the full CSV export, at size."""
        from benchmarks import explorer
        from hubsync_core.store.database import Database

        for count in self.sizes.explorer:
            for backend in self.backends:
                url = databases.new(backend, f"explorer{count}")
                try:
                    db = Database(url)
                    started = time.perf_counter()
                    explorer.fill(db, count)
                    filled = time.perf_counter() - started
                    measured = explorer.measure(db, self.sizes.explorer_repeats)
                    db.dispose()
                    export = run_child(["export", "--database-url", url])
                finally:
                    databases.drop(url)
                if export["rows"] != count:
                    raise BenchError(f"export wrote {export['rows']} of {count} rows")
                row = Row(
                    f"explorer {short_count(count)}",
                    backend,
                    count,
                    seconds=export["wall_seconds"],
                    peak_rss_mb=export["peak_rss_mb"],
                    query_p50_ms=measured["filter_p50_ms"],
                    query_p95_ms=measured["filter_p95_ms"],
                    note=(
                        f"facets p50/p95 {measured['facet_p50_ms']:.0f}/"
                        f"{measured['facet_p95_ms']:.0f} ms; CSV export "
                        f"{export['wall_seconds']:.1f} s ({export['bytes'] / 1e6:.0f} MB)"
                    ),
                    extra={"fill_seconds": filled, "export": export, "queries": measured},
                )
                self.add(row)

    def peer(self, databases: Databases) -> None:
        """HubSpot's official client + SQLModel, row by row, against HubSync on one sandbox."""
        from hubsync_core.sync.records import CORE_PROPERTIES

        sandbox = SandboxProcess.start(self.sizes.peer)
        try:
            live = sandbox.live_contacts()
            for backend in self.backends:
                url = databases.new(backend, "peer-hubsync")
                try:
                    ours = self.sync(sandbox, url)
                finally:
                    databases.drop(url)
                check_counts([ours], live)
                url = databases.new(backend, "peer")
                before = sandbox.stats()
                try:
                    theirs = run_child(
                        [
                            "peer",
                            *("--base-url", sandbox.base_url, "--token", TOKEN),
                            *("--database-url", url, "--properties", ",".join(CORE_PROPERTIES)),
                        ]
                    )
                finally:
                    databases.drop(url)
                after = sandbox.stats()
                if theirs["total_synced"] != live:
                    raise BenchError(f"the peer stored {theirs['total_synced']} of {live}")
                ours_rate = ours["total_synced"] / ours["duration_seconds"]
                theirs_rate = theirs["total_synced"] / theirs["wall_seconds"]
                ratio = ours_rate / theirs_rate
                self.add(
                    Row(
                        "peer: official client + SQLModel",
                        backend,
                        theirs["total_synced"],
                        seconds=theirs["wall_seconds"],
                        contacts_per_s=theirs_rate,
                        api_calls=after["requests"] - before["requests"],
                        rate_limited=after["rateLimited"] - before["rateLimited"],
                        cpu_s_per_10k=theirs["cpu_seconds"] / max(live, 1) * 10_000,
                        peak_rss_mb=theirs["peak_rss_mb"],
                        note=f"HubSync {ours_rate:,.0f}/s on the same portal: {ratio:.1f}x",
                        runs=[theirs],
                        extra={"hubsync": brief(ours), "ratio": ratio},
                    )
                )
        finally:
            sandbox.stop()

    def api(self, databases: Databases) -> None:
        """`GET .../contacts?segment=chainge&limit=100` through `hubsync api` under load."""
        from benchmarks import api

        sizes = self.sizes.api
        for window in api.windows(self.backends, databases, sizes):
            note = (
                f"server CPU {window['server_cpu_ms_per_request']:.1f} ms/request; "
                f"{sizes.clients} clients, {window['seconds']:.0f} s"
            )
            if window["window"] == "during sync":
                note += f", sync wrote {window['sync_contacts_during_window']:,} contacts"
            self.add(
                Row(
                    f"api contacts {window['window']}",
                    window["backend"],
                    sizes.contacts,
                    seconds=window["seconds"],
                    query_p50_ms=window["p50_ms"],
                    query_p95_ms=window["p95_ms"],
                    note=f"{window['requests_per_s']:,.0f} req/s, p99 {window['p99_ms']:.0f} ms, "
                    f"{window['errors']} errors; {note}",
                    extra=window,
                )
            )

    def bulk(self, databases: Databases) -> None:
        """Contacts written per second by a bulk update (see benchmarks/bulk.py)."""
        from benchmarks import bulk

        bulk.run(self, databases, self.sizes.bulk, self.sizes.bulk_latency_ms)

    def million(self, databases: Databases) -> None:
        """One 1,000,000-contact full sync (SQLite): flat memory."""
        if not self.sizes.million:
            return
        sandbox = SandboxProcess.start(self.sizes.million)
        try:
            live = sandbox.live_contacts()
            url = databases.new("sqlite", "million")
            try:
                result = self.sync(sandbox, url)
            finally:
                databases.drop(url)
            check_counts([result], live)
            result["contacts_per_s"] = result["total_synced"] / result["duration_seconds"]
            self.add(
                Row(
                    "1M full sync",
                    "sqlite",
                    result["total_synced"],
                    seconds=result["duration_seconds"],
                    contacts_per_s=result["contacts_per_s"],
                    api_calls=result["sandbox_requests"],
                    rate_limited=result["sandbox_429"],
                    cpu_s_per_10k=result["cpu_seconds"] / result["total_synced"] * 10_000,
                    peak_rss_mb=result["peak_rss_mb"],
                    note=f"sandbox peak RSS {sandbox.peak_rss_mb() or 0:.0f} MB",
                    runs=[brief(result)],
                )
            )
        finally:
            sandbox.stop()

    def freshness(self, databases: Databases) -> None:
        """Webhooks through the API server into SQLite: acknowledged events/s, apply
        latency, API calls per 1,000 changed contacts (see benchmarks/freshness.py)."""
        if "sqlite" not in self.backends or not self.sizes.freshness:
            return
        from benchmarks import freshness

        workdir = databases.workdir / "freshness"
        workdir.mkdir(parents=True, exist_ok=True)
        figures = freshness.run(
            workdir, self.sizes.freshness, self.sizes.freshness_deliveries, self.log
        )
        self.add(
            Row(
                "freshness (webhooks)",
                "sqlite",
                figures["contacts"],
                seconds=figures["seconds_changes_to_applied"],
                api_calls=figures["api_calls"],
                query_p50_ms=figures["apply_latency_p50_ms"],
                query_p95_ms=figures["apply_latency_p95_ms"],
                note=(
                    f"{figures['ack_events_per_s']:,.0f} events/s acknowledged; "
                    f"{figures['api_calls_per_1000_changed']:.1f} API calls per 1,000 changed "
                    f"contacts; p50/p95 = apply latency"
                ),
                extra=figures,
            )
        )

    def audit(self, databases: Databases) -> None:
        """`hubsync audit` calls and seconds, exact and damaged (see benchmarks/audit.py)."""
        if "sqlite" not in self.backends or not self.sizes.audit:
            return
        from benchmarks import audit

        for figures in audit.run(databases, self.sizes.audit, self.sync, self.log):
            for kind in ("exact", "damaged"):
                note = f"{figures['ranges']} ranges"
                if kind == "damaged":
                    counts = figures["damaged_counts"]
                    note += (
                        f"; named {counts['missing']} missing, {counts['extra']} extra, "
                        f"{counts['stale']} stale (exactly the damage: {figures['named_exactly']})"
                        f"; repair {figures['repair_calls']} calls, then "
                        f"{figures['after_repair']} in {figures['after_repair_calls']} calls"
                    )
                self.add(
                    Row(
                        f"audit, {kind}",
                        "sqlite",
                        figures["contacts"],
                        seconds=figures[f"{kind}_seconds"],
                        api_calls=figures[f"{kind}_calls"],
                        note=note,
                        extra=figures,
                    )
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes (CI: seconds, not minutes)"
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--only", help=f"comma-separated scenarios to run (default all: {', '.join(SCENARIOS)})"
    )
    parser.add_argument("--repeats", type=int, help="runs per headline scenario (median)")
    parser.add_argument("--output", type=Path, help="JSON file to write (default results/...)")
    args = parser.parse_args(argv)

    sizes = QUICK if args.quick else Sizes()
    if args.repeats:
        sizes = replace(sizes, repeats=args.repeats)
    chosen = tuple(args.only.split(",")) if args.only else SCENARIOS
    unknown = [s for s in chosen if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {', '.join(SCENARIOS)}")
    backends = BACKENDS if args.backend == "both" else (args.backend,)

    def log(line: str) -> None:
        print(line, flush=True)

    started = time.perf_counter()
    info = machine()
    log(
        f"HubSync benchmarks ({'quick' if args.quick else 'full'}) on {info['cpu']}, "
        f"{info['nproc']} cores, load {info['load_average'][0]:.2f}"
    )
    log(HEADER)
    suite = Suite(sizes, backends, log)
    with scratch_dir() as workdir:
        databases = Databases(workdir)
        try:
            for name in SCENARIOS:
                if name in chosen:
                    getattr(suite, name)(databases)
            versions = databases.versions()
            postgres = databases.postgres_settings
        finally:
            databases.close()
    info["load_average_end"] = __import__("os").getloadavg()
    report = {
        "machine": {**info, "sqlite": versions["sqlite"], "postgresql": versions["postgresql"]},
        "postgresql_server": postgres,
        "mode": "quick" if args.quick else "full",
        "sizes": asdict(sizes),
        "backends": list(backends),
        "scenarios": list(chosen),
        "seconds": time.perf_counter() - started,
        "rows": [asdict(r) for r in suite.rows],
    }
    output = args.output
    if output is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        output = RESULTS_DIR / f"bench-{stamp}{'-quick' if args.quick else ''}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    log("")
    log(table(suite.rows))
    log(f"\n{len(suite.rows)} rows in {report['seconds']:.0f} s; JSON: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
