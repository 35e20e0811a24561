"""Helpers shared by the sync tests and the drills: settings and clients for a sandbox portal,
and the one question every drill ends with: does the database hold exactly the sandbox's live
contacts (ids and stored properties), with nothing duplicated and every gone contact flagged?

Imported as a top-level module (`from sync_helpers import ...`): pytest puts `tests/` on
`sys.path` because `tests/` itself is not a package.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from hubsync_core.clock import utcnow
from hubsync_core.config import Secret, Settings
from hubsync_core.hubspot import endpoints
from hubsync_core.hubspot.client import HubSpotClient
from hubsync_core.hubspot.pacing import RateLimiter
from hubsync_core.sandbox import Sandbox, SandboxConfig
from hubsync_core.store import runs
from hubsync_core.store.database import Database
from hubsync_core.store.models import Contact, SyncRun
from hubsync_core.sync.engine import run_sync
from hubsync_core.sync.model import SyncOptions, SyncStats
from hubsync_core.sync.records import CORE_PROPERTIES, parse_time

CONTACTS = Contact.__table__  # type: ignore[attr-defined]
COLUMN_PROPERTIES = ("firstname", "lastname", "company", "phone", "jobtitle", "lifecyclestage")
#: Paths as the sandbox sees them (for `fail_next(..., path=...)`); note that LIST_PATH is a
#: prefix of SEARCH_PATH.
SEARCH_PATH = endpoints.DEFAULT.contacts_search
LIST_PATH = endpoints.DEFAULT.contacts


# -- sandbox, settings, client --------------------------------------------------------------


def quiet_sandbox(contacts: int, seed: int, **config: Any) -> Sandbox:
    """A started sandbox without rate limits, latency or faults unless asked for."""
    options: dict[str, Any] = {
        "contacts": contacts,
        "seed": seed,
        "rate_limit": 0,
        "search_rate_limit": 0,
    }
    options.update(config)
    sandbox = Sandbox(SandboxConfig(**options))
    sandbox.start()
    return sandbox


def sandbox_env(sandbox: Sandbox, database_url: str, **env: str) -> dict[str, str]:
    """The environment a HubSync process needs to sync `sandbox` into `database_url`.

    The incremental lag defaults to 0 here so mutations made just before a run are inside
    its window without waiting (tests that exercise the lag pass a clock instead). The audit
    after incremental syncs is off unless asked for, so tests counting a sync's calls measure
    the sync alone.
    """
    values = {
        "HUBSPOT_ACCESS_TOKEN": sandbox.token,
        "HUBSPOT_BASE_URL": sandbox.base_url,
        "DATABASE_URL": database_url,
        "HUBSYNC_INCREMENTAL_LAG_MINUTES": "0",
        "HUBSYNC_AUDIT_AFTER_SYNC": "false",
    }
    values.update(env)
    return values


def sandbox_settings(sandbox: Sandbox, database_url: str, **env: str) -> Settings:
    """Settings from an explicit environment (no `.env`, no secrets file is read)."""
    return Settings.load(
        sandbox_env(sandbox, database_url, **env), dotenv_path=None, secrets_path=None
    )


def fast_options() -> dict[str, Any]:
    """Client options for tests: backoffs of a few milliseconds and no client-side pacing (the
    sandboxes used with them have no rate limit, or inject their 429s as faults)."""
    return {
        "backoff_base": 0.001,
        "backoff_cap": 0.004,
        "jitter": random.Random(1234).random,
        "rate_limiter": RateLimiter(max_requests=1_000_000, interval_ms=1000, search_per_second=0),
    }


def fast_client(sandbox: Sandbox, **options: Any) -> HubSpotClient:
    """A fast client (see `fast_options`) with 3 retries unless told otherwise."""
    merged: dict[str, Any] = {"max_retries": 3, **fast_options(), **options}
    return HubSpotClient(Secret(sandbox.token), sandbox.base_url, **merged)


def settings_client(settings: Settings, **options: Any) -> HubSpotClient:
    """A fast client built from settings (retries, timeouts: HUBSYNC_MAX_RETRIES, ...)."""
    return HubSpotClient.from_settings(settings, **{**fast_options(), **options})


def synced_properties(settings: Settings, sandbox: Sandbox | None = None) -> list[str]:
    """The properties a sync of `settings` requests (with `all`: every one the portal has)."""
    every = sandbox.portal.property_names() if settings.all_properties and sandbox else []
    return list(dict.fromkeys([*CORE_PROPERTIES, *every, *settings.properties]))


# -- what the database should hold ----------------------------------------------------------


def _strip_nul(value: Any) -> Any:
    return value.replace("\x00", "") if isinstance(value, str) else value


def expected_live(sandbox: Sandbox, properties: Sequence[str]) -> dict[str, dict[str, Any]]:
    """id -> properties of every live sandbox contact, as a sync stores them (NULs removed)."""
    return {
        contact["id"]: {_strip_nul(k): _strip_nul(v) for k, v in contact["properties"].items()}
        for contact in sandbox.portal.live_contacts(list(properties))
    }


@dataclass
class StoredContacts:
    live: dict[str, dict[str, Any]]
    archived: dict[str, dict[str, Any]]
    rows: int


def stored_contacts(db: Database) -> StoredContacts:
    """Every stored contact row, split into live and archived, keyed by id."""
    live: dict[str, dict[str, Any]] = {}
    archived: dict[str, dict[str, Any]] = {}
    rows = 0
    with db.connect() as conn:
        for row in conn.execute(sa.select(CONTACTS)).mappings():
            rows += 1
            (archived if row["archived"] else live)[row["hubspot_id"]] = dict(row)
    return StoredContacts(live, archived, rows)


def db_mismatches(
    db: Database, sandbox: Sandbox, properties: Sequence[str], *, limit: int = 10
) -> list[str]:
    """What differs between the database and the sandbox's live contacts (empty when exact).

    Checks ids, every stored property, the columns derived from them, that no live sandbox
    contact is archived, that every stored contact gone from the sandbox is archived, and that
    archived sandbox contacts carry `archived_at`.
    """
    expected = expected_live(sandbox, properties)
    stored = stored_contacts(db)
    problems: list[str] = []
    missing = sorted(set(expected) - set(stored.live), key=int)
    extra = sorted(set(stored.live) - set(expected), key=int)
    if missing:
        problems.append(f"{len(missing)} live contacts missing, e.g. {missing[:limit]}")
    if extra:
        problems.append(f"{len(extra)} stored live contacts are not live, e.g. {extra[:limit]}")
    wrong: list[str] = []
    for hubspot_id, props in expected.items():
        row = stored.live.get(hubspot_id)
        if row is None:
            continue
        if row["properties"] != props:
            diff = sorted(
                k
                for k in set(row["properties"]) | set(props)
                if row["properties"].get(k, "<absent>") != props.get(k, "<absent>")
            )
            wrong.append(f"{hubspot_id}: properties {diff}")
            continue
        for name in COLUMN_PROPERTIES:
            if row[name] != props.get(name):
                wrong.append(f"{hubspot_id}: column {name}")
        email = props.get("email")
        if row["email"] != ((email.strip() or None) if email else None):
            wrong.append(f"{hubspot_id}: column email")
        modified = parse_time(props.get("lastmodifieddate"))
        if modified is not None and row["updated_at"] != modified:
            wrong.append(f"{hubspot_id}: updated_at {row['updated_at']} != {modified}")
    if wrong:
        problems.append(f"{len(wrong)} contacts differ, e.g. {wrong[:limit]}")
    archived_in_sandbox = set(sandbox.portal.archived_ids())
    flagged = [i for i in archived_in_sandbox if i in stored.archived]
    no_time = [i for i in flagged if stored.archived[i]["archived_at"] is None]
    if no_time:
        problems.append(f"archived contacts without archived_at: {no_time[:limit]}")
    if stored.rows != len(stored.live) + len(stored.archived):
        problems.append("row count does not add up")  # pragma: no cover - a key is unique
    return problems


def assert_db_equals_sandbox(
    db: Database, sandbox: Sandbox, properties: Sequence[str] | Settings
) -> int:
    """Assert the database holds exactly the sandbox's live contacts; returns how many."""
    names = (
        synced_properties(properties, sandbox) if isinstance(properties, Settings) else properties
    )
    problems = db_mismatches(db, sandbox, names)
    assert not problems, "database differs from the sandbox:\n" + "\n".join(problems)
    return sandbox.portal.live_count()


# -- runs, state, raw dumps -----------------------------------------------------------------


def run_row(db: Database, run_id: int | None) -> SyncRun:
    assert run_id is not None
    run = runs.get_run(db, run_id)
    assert run is not None, f"no sync run {run_id}"
    return run


def all_runs(db: Database) -> list[SyncRun]:
    """Every run, oldest first."""
    return list(reversed(runs.history(db, limit=10_000)))


def high_water_mark(db: Database) -> datetime | None:
    value = runs.get_state(db, "high_water_mark")
    return datetime.fromisoformat(value) if value else None


def lock_rows(db: Database) -> list[Mapping[str, Any]]:
    with db.connect() as conn:
        return list(conn.execute(sa.text("SELECT * FROM sync_lock")).mappings())


def table_rows(db: Database, table: str) -> list[Mapping[str, Any]]:
    with db.connect() as conn:
        return list(conn.execute(sa.text(f'SELECT * FROM "{table}"')).mappings())


def dump_database_text(db: Database) -> str:
    """Every value of every table as text (for "this string is nowhere in the database")."""
    parts: list[str] = []
    inspector = sa.inspect(db.engine)
    with db.connect() as conn:
        for table in inspector.get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                parts.extend(str(value) for value in row)
    return "\n".join(parts)


def list_members_in_db(db: Database) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for row in table_rows(db, "list_memberships"):
        out.setdefault(row["list_id"], set()).add(row["hubspot_id"])
    return out


def list_members_in_sandbox(sandbox: Sandbox) -> dict[str, set[str]]:
    return {
        info["listId"]: set(sandbox.portal.list_member_ids(info["listId"]))
        for info in sandbox.portal.lists()
    }


def segment_members_in_db(db: Database) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for row in table_rows(db, "contact_segments"):
        out.setdefault(row["segment"], set()).add(row["hubspot_id"])
    return out


def wait_for(
    condition: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.005
) -> Any:
    """Poll `condition` until it returns something truthy (and return that) or fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def ids_sample(ids: Iterable[str], count: int, seed: int) -> list[str]:
    """A deterministic sample of ids, in ascending order."""
    pool = sorted(ids, key=int)
    return sorted(random.Random(seed).sample(pool, count), key=int)


# -- one sync setup -------------------------------------------------------------------------


@dataclass
class Harness:
    """A sandbox, a database, settings and a fast client: `run()` syncs one more time."""

    sandbox: Sandbox
    db: Database
    settings: Settings
    client: HubSpotClient

    @property
    def properties(self) -> list[str]:
        return synced_properties(self.settings, self.sandbox)

    def run(
        self,
        mode: str = "auto",
        *,
        clock: Callable[[], datetime] | None = None,
        on_progress: Callable[[Any], None] | None = None,
        cancel: Any = None,
        **options: Any,
    ) -> SyncStats:
        """One `run_sync` (returns its `SyncStats`)."""
        extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
        return run_sync(
            self.settings,
            self.db,
            self.client,
            SyncOptions(mode=mode, **options),  # type: ignore[arg-type]
            on_progress=on_progress,
            cancel=cancel,
            **extra,
        )

    def assert_exact(self) -> int:
        return assert_db_equals_sandbox(self.db, self.sandbox, self.properties)

    def mismatches(self) -> list[str]:
        return db_mismatches(self.db, self.sandbox, self.properties)


def settle(sandbox: Sandbox, ids: Iterable[str]) -> None:
    """Wait until the wall clock has passed the modification time of `ids`.

    The sandbox gives a burst of creations strictly increasing times (the newest time + 1 ms
    each), which can run a few milliseconds ahead of the clock; a run started before the clock
    caught up would (rightly) leave them to the next window.
    """
    latest = 0
    for hubspot_id in ids:
        contact = sandbox.portal.contact(hubspot_id)
        if contact is not None:
            moment = parse_time(contact["properties"]["lastmodifieddate"])
            assert moment is not None
            latest = max(latest, epoch_ms(moment))
    wait_for(lambda: epoch_ms(utcnow()) > latest, timeout=10)


def modified_in_window(sandbox: Sandbox, window: Mapping[str, int]) -> list[str]:
    """Ids of live contacts whose `lastmodifieddate` is inside an incremental window."""
    found = []
    for contact in sandbox.portal.live_contacts(["lastmodifieddate"]):
        moment = parse_time(contact["properties"]["lastmodifieddate"])
        assert moment is not None
        if window["start"] <= epoch_ms(moment) <= window["end"]:
            found.append(contact["id"])
    return found


def epoch_ms(moment: datetime) -> int:
    """Naive UTC datetime -> epoch milliseconds, in integer arithmetic."""
    return (moment - datetime(1970, 1, 1)) // timedelta(milliseconds=1)


def pages(count: int, size: int) -> int:
    """Requests needed to read `count` items `size` at a time (one even when empty)."""
    return max(1, -(-count // size))


class HarnessFactory:
    """Builds harnesses on one database and closes their sandboxes and clients afterwards."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._opened: list[Harness] = []

    def __call__(
        self,
        contacts: int = 1200,
        seed: int = 11,
        *,
        env: Mapping[str, str] | None = None,
        client_options: Mapping[str, Any] | None = None,
        **config: Any,
    ) -> Harness:
        sandbox = quiet_sandbox(contacts, seed, **config)
        settings = sandbox_settings(
            sandbox, self.db.url, **{"HUBSYNC_MAX_RETRIES": "3", **dict(env or {})}
        )
        client = settings_client(settings, **(client_options or {}))
        harness = Harness(sandbox, self.db, settings, client)
        self._opened.append(harness)
        return harness

    def close(self) -> None:
        for harness in self._opened:
            harness.client.close()
            harness.sandbox.stop()


# -- audited runs: the run's counters against what the sandbox saw --------------------------


@dataclass
class RunAudit:
    """One run and what the sandbox saw of it."""

    stats: Any
    run: SyncRun
    requests: int
    faults: dict[str, int]


def _delta(after: Mapping[Any, int], before: Mapping[Any, int]) -> dict[Any, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)}


def audited_run(h: Harness, mode: str = "auto", **kwargs: Any) -> RunAudit:
    """Run once and check the run's counters against the sandbox's own count:

    - `api_calls` is the number of requests the sandbox received during the run;
    - `rate_limited` is the number of 429s it sent (injected or not);
    - `retries` is every attempt that did not end the call: api_calls minus the answers the
      client accepted minus the calls that ended in a raised error.
    """
    sandbox = h.sandbox
    before, client_before = sandbox.stats, h.client.counters()
    stats = h.run(mode, **kwargs)

    def all_answered() -> Any:
        now = sandbox.stats
        answered = sum(_delta(now.responses, before.responses).values())
        resets = now.faults_injected.get("reset", 0) - before.faults_injected.get("reset", 0)
        return now if answered + resets == now.requests - before.requests else None

    # A "slow" answer is still being written after the client gave up on it.
    after = wait_for(all_answered, timeout=60)
    client_after = h.client.counters()
    run = run_row(h.db, stats.run_id)
    requests = after.requests - before.requests
    faults = _delta(after.faults_injected, before.faults_injected)
    responses = _delta(after.responses, before.responses)
    assert run.api_calls == stats.api_calls == requests, (run.api_calls, requests)
    assert run.rate_limited == stats.rate_limited == after.rate_limited - before.rate_limited
    accepted = responses.get(200, 0) - faults.get("truncated", 0) - faults.get("slow", 0)
    raised = client_after.errors - client_before.errors
    assert run.retries == stats.retries == requests - accepted - raised, (
        run.retries,
        requests,
        accepted,
        raised,
        faults,
    )
    assert run.status == stats.status
    return RunAudit(stats, run, requests, {k: v for k, v in faults.items() if v})


# -- the CLI in a subprocess ----------------------------------------------------------------

_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH")


#: The checkout these tests belong to.
REPO_ROOT = str(Path(__file__).resolve().parent.parent)


def cli_env(sandbox: Sandbox, database_url: str, data_dir: str, **env: str) -> dict[str, str]:
    """A clean environment for `python -m hubsync_core.cli` against a sandbox."""
    values = {k: v for k, v in os.environ.items() if k in _PASSED_THROUGH}
    values.update(sandbox_env(sandbox, database_url, HUBSYNC_DATA_DIR=data_dir, **env))
    return values


def start_cli(args: Sequence[str], env: Mapping[str, str], cwd: str, log_name: str) -> Any:
    """Start `python -m hubsync_core.cli ARGS`; stdout/stderr go to files in `cwd`
    (`<log_name>.out`, `<log_name>.err`)."""
    out = open(Path(cwd) / f"{log_name}.out", "wb")  # noqa: SIM115 - closed with the process
    err = open(Path(cwd) / f"{log_name}.err", "wb")  # noqa: SIM115
    # The child imports this checkout, like the tests do (not the installed package).
    env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [REPO_ROOT, env.get("PYTHONPATH")]))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hubsync_core.cli", *args],
        env=dict(env),
        cwd=cwd,
        stdout=out,
        stderr=err,
        stdin=subprocess.DEVNULL,
    )
    proc.log_files = (out, err)  # type: ignore[attr-defined]
    return proc


def finish_cli(proc: Any, timeout: float = 120) -> tuple[int, str, str]:
    """Wait for a `start_cli` process; returns (exit code, stdout, stderr)."""
    code = proc.wait(timeout=timeout)
    texts = []
    for handle in proc.log_files:
        handle.close()
        texts.append(Path(handle.name).read_text(encoding="utf-8", errors="replace"))
    return code, texts[0], texts[1]
