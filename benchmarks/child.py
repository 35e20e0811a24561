"""The suite's child processes: `python -m benchmarks.child COMMAND ...`.

- `sandbox`: serve a sandbox portal until terminated (prints its base URL first).
- `sync`: one HubSync sync, as `hubsync sync` runs it, settings from the environment.
- `peer`: HubSpot's official client (`crm.contacts.get_all()`) feeding SQLModel one row at a
  time, a session add and commit per row: what a user would write by hand.
- `export`: the full CSV export of a database.
- `load`: N concurrent HTTP clients hitting one URL of `hubsync api` (keep-alive, one
  connection each) for a while, or until a sync run ends: requests/s and latency.
- `bulk`: one `bulk set` on every live contact (see benchmarks/bulk.py).

`sync`, `peer` and `export` print one JSON line: what they did, their wall and CPU seconds,
and the process's peak RSS (`ru_maxrss`), which is theirs alone.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import sys
import time
from datetime import datetime
from typing import Any


def _usage() -> tuple[float, float]:
    """(CPU seconds of this process, all threads, so far; peak RSS in MB)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _emit(result: dict[str, Any]) -> None:
    print(json.dumps(result, default=str), flush=True)


# -- sandbox ---------------------------------------------------------------------------------


def cmd_sandbox(args: argparse.Namespace) -> int:
    from hubsync_core.sandbox import SandboxConfig, serve_forever

    config = SandboxConfig(
        contacts=args.contacts,
        seed=args.seed,
        latency_ms=args.latency_ms,
        rate_limit=args.rate_limit,
        search_rate_limit=args.search_rate_limit,
        search_counts_toward_burst=args.search_counts_toward_burst,
    )
    serve_forever(config, "127.0.0.1", 0, on_ready=lambda sb: print(sb.base_url, flush=True))
    return 0


# -- HubSync ---------------------------------------------------------------------------------


def cmd_sync(args: argparse.Namespace) -> int:
    from hubsync_core.config import Settings
    from hubsync_core.service import HubSyncService
    from hubsync_core.sync.model import SyncOptions, SyncProgress

    settings = Settings.load(dotenv_path=None, secrets_path=None)
    phases: dict[str, float] = {}

    def on_progress(progress: SyncProgress) -> None:
        phases.setdefault(progress.phase, time.perf_counter())

    with HubSyncService(settings, owner="cli") as service:
        service.db  # noqa: B018 - open (and migrate) the database before the clock starts
        profile = None
        if args.profile:
            import cProfile

            profile = cProfile.Profile()
        cpu_before, _ = _usage()
        started = time.perf_counter()
        if profile is not None:
            profile.enable()
        stats = service.sync(SyncOptions(mode=args.mode, owner="cli"), on_progress=on_progress)
        if profile is not None:
            profile.disable()
            profile.dump_stats(args.profile)
        wall = time.perf_counter() - started
        cpu_after, peak = _usage()
    result = stats.to_dict()
    order = sorted(phases.items(), key=lambda item: item[1])
    contacts_phase = phase_offset = None
    for (name, at), following in zip(order, [*order[1:], (None, started + wall)], strict=True):
        if name in ("contacts", "changes"):
            contacts_phase, phase_offset = following[1] - at, at - started
    result.update(
        wall_seconds=wall,
        cpu_seconds=cpu_after - cpu_before,
        peak_rss_mb=peak,
        contacts_phase_seconds=contacts_phase,
        contacts_phase_offset=phase_offset,
    )
    _emit(result)
    return 0 if stats.status == "succeeded" else 1


def cmd_audit(args: argparse.Namespace) -> int:
    """`hubsync audit [--repair]` through the facade; the report with wall and CPU time."""
    from hubsync_core.config import Settings
    from hubsync_core.service import HubSyncService

    settings = Settings.load(dotenv_path=None, secrets_path=None)
    with HubSyncService(settings, owner="cli") as service:
        service.db  # noqa: B018 - open the database before the clock starts
        cpu_before, _ = _usage()
        started = time.perf_counter()
        report = service.audit(repair=args.repair)
        wall = time.perf_counter() - started
        cpu_after, peak = _usage()
    _emit(
        {
            **report.as_dict(),
            "wall_seconds": wall,
            "cpu_seconds": cpu_after - cpu_before,
            "peak_rss_mb": peak,
        }
    )
    return 0


# -- the peer --------------------------------------------------------------------------------


def cmd_peer(args: argparse.Namespace) -> int:
    from hubspot import HubSpot
    from sqlalchemy import JSON, Column, create_engine
    from sqlmodel import Field, Session, SQLModel

    class PeerContact(SQLModel, table=True):  # what a user would declare by hand
        __tablename__ = "peer_contacts"

        hubspot_id: str = Field(primary_key=True)
        email: str | None = None
        firstname: str | None = None
        lastname: str | None = None
        company: str | None = None
        phone: str | None = None
        jobtitle: str | None = None
        lifecyclestage: str | None = None
        properties: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
        created_at: datetime | None = None
        updated_at: datetime | None = None

    engine = create_engine(args.database_url)
    SQLModel.metadata.create_all(engine)
    names = args.properties.split(",")
    cpu_before, _ = _usage()
    started = time.perf_counter()
    client = HubSpot(access_token=args.token, host=args.base_url)
    contacts = client.crm.contacts.get_all(properties=names)
    fetched = time.perf_counter()
    with Session(engine) as session:
        for contact in contacts:
            props = contact.properties or {}
            session.add(
                PeerContact(
                    hubspot_id=contact.id,
                    email=props.get("email"),
                    firstname=props.get("firstname"),
                    lastname=props.get("lastname"),
                    company=props.get("company"),
                    phone=props.get("phone"),
                    jobtitle=props.get("jobtitle"),
                    lifecyclestage=props.get("lifecyclestage"),
                    properties=props,
                    created_at=contact.created_at,
                    updated_at=contact.updated_at,
                )
            )
            session.commit()
    wall = time.perf_counter() - started
    cpu_after, peak = _usage()
    engine.dispose()
    _emit(
        {
            "total_synced": len(contacts),
            "wall_seconds": wall,
            "fetch_seconds": fetched - started,
            "cpu_seconds": cpu_after - cpu_before,
            "peak_rss_mb": peak,
        }
    )
    return 0


# -- export ----------------------------------------------------------------------------------


class _ByteCounter(io.RawIOBase):
    """A binary sink that only counts bytes (so the CSV itself does not inflate RSS)."""

    def __init__(self) -> None:
        super().__init__()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:  # type: ignore[override]
        self.size += len(data)
        return len(data)


def cmd_export(args: argparse.Namespace) -> int:
    from hubsync_core.store.database import Database
    from hubsync_core.store.explorer import ContactFilter
    from hubsync_core.store.export import write_csv

    db = Database(args.database_url)
    _, before = _usage()
    sink = _ByteCounter()
    started = time.perf_counter()
    rows = write_csv(db, ContactFilter(archived="include"), sink, sort=args.sort)
    wall = time.perf_counter() - started
    _, peak = _usage()
    db.dispose()
    _emit(
        {
            "rows": rows,
            "wall_seconds": wall,
            "bytes": sink.size,
            "peak_rss_mb": peak,
            "rss_before_mb": before,
        }
    )
    return 0


# -- load ------------------------------------------------------------------------------------


def cmd_load(args: argparse.Namespace) -> int:
    import http.client
    import threading
    from urllib.parse import urlsplit

    target = urlsplit(args.url)
    path = target.path + (f"?{target.query}" if target.query else "")
    headers = {"Authorization": f"Bearer {args.token}"}
    stop = threading.Event()
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    stopped_by = "deadline"

    def client() -> None:
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        while not stop.is_set():
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                answer = conn.getresponse()
                answer.read()
                key = str(answer.status)
            except (OSError, http.client.HTTPException) as exc:
                key = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[key] = statuses.get(key, 0) + 1
        conn.close()

    def run_status() -> str:
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        try:
            conn.request("GET", f"/api/integrations/hubspot/sync/runs/{args.run}", headers=headers)
            return str(json.loads(conn.getresponse().read())["status"])
        finally:
            conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    deadline = started + args.seconds
    while time.perf_counter() < deadline:
        time.sleep(0.25)
        if args.run and run_status() != "running":
            stopped_by = "run ended"
            break
    stop.set()
    for thread in threads:
        thread.join(120)
    wall = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(share: float) -> float | None:
        return ordered[min(int(share * len(ordered)), len(ordered) - 1)] * 1000 if ordered else None

    _emit(
        {
            "requests": len(ordered),
            "statuses": statuses,
            "errors": sum(n for k, n in statuses.items() if k != "200"),
            "seconds": wall,
            "requests_per_s": len(ordered) / wall,
            "p50_ms": pct(0.50),
            "p95_ms": pct(0.95),
            "p99_ms": pct(0.99),
            "max_ms": ordered[-1] * 1000 if ordered else None,
            "stopped_by": stopped_by,
            "run_status_after": run_status() if args.run else None,
        }
    )
    return 0


# -- entry -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.child")
    commands = parser.add_subparsers(dest="command", required=True)
    sandbox = commands.add_parser("sandbox")
    sandbox.add_argument("--contacts", type=int, required=True)
    sandbox.add_argument("--seed", type=int, default=42)
    sandbox.add_argument("--latency-ms", type=int, default=0)
    sandbox.add_argument("--rate-limit", type=int, default=0)
    sandbox.add_argument("--search-rate-limit", type=int, default=0)
    sandbox.add_argument("--search-counts-toward-burst", action="store_true")
    sandbox.set_defaults(handler=cmd_sandbox)
    sync = commands.add_parser("sync")
    sync.add_argument("--mode", default="full")
    sync.add_argument("--profile", help="write a cProfile of the sync (calling thread) here")
    sync.set_defaults(handler=cmd_sync)
    audit = commands.add_parser("audit")
    audit.add_argument("--repair", action="store_true")
    audit.set_defaults(handler=cmd_audit)
    peer = commands.add_parser("peer")
    peer.add_argument("--base-url", required=True)
    peer.add_argument("--token", required=True)
    peer.add_argument("--database-url", required=True)
    peer.add_argument("--properties", required=True)
    peer.set_defaults(handler=cmd_peer)
    export = commands.add_parser("export")
    export.add_argument("--database-url", required=True)
    export.add_argument("--sort", default="updated_at")
    export.set_defaults(handler=cmd_export)
    load = commands.add_parser("load")
    load.add_argument("--url", required=True)
    load.add_argument("--token", required=True)
    load.add_argument("--clients", type=int, default=16)
    load.add_argument("--seconds", type=float, default=15.0)
    load.add_argument("--run", type=int, help="stop early once this sync run is not running")
    load.set_defaults(handler=cmd_load)
    bulk = commands.add_parser("bulk")
    bulk.add_argument("--property", default="lead_score")
    bulk.add_argument("--value", required=True)
    bulk.set_defaults(handler=cmd_bulk)
    args = parser.parse_args(argv)
    return int(args.handler(args))


def cmd_bulk(args: argparse.Namespace) -> int:
    from benchmarks.bulk import cmd_bulk as run_bulk

    _emit(run_bulk(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
