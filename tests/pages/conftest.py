"""AppTest harness for the dashboard: every page runs in-process on a temporary database.

How fakes get in: `pages/components/resources.py` builds the process-wide resources through two
module-level hooks, `resources.load_settings` and `resources.resource_factory`. The `harness` fixture replaces
both (and clears `st.cache_resource`), so the pages run on:

- settings read from a fixed environment (a temp `HUBSYNC_DATA_DIR`, a `DATABASE_URL`,
  never the developer's `.env` or secrets),
- a real `HubSyncService` on a real temporary SQLite database, whose HubSpot client is
  `FakeClient` (no network; **Test connection** answers `harness.connection`) and whose `sync()` is a fake runner the test controls
  (`harness.use_runner(...)`), driven by the real `SyncJobs`;
- or, for scripted states, `FakeJobs` (`harness.use_fake_jobs()`), whose `status()` returns
  whatever `JobStatus` the test sets and whose `start()` records the options.

Helpers ride on the harness (`harness.texts(at)`, `harness.metric(at, label)`,
`harness.progress(...)`, `harness.idle_status(...)`, `harness.finished_run(status, ...)`).

`synced_harness` is the same on a database filled by a real sync of a small sandbox portal
(done once per session, copied per test).
"""

from __future__ import annotations

import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `from pages.components import ...`, as the app's scripts do
    sys.path.insert(0, str(REPO))

from hubsync_core.clock import utcnow  # noqa: E402
from hubsync_core.config import Secret, Settings  # noqa: E402
from hubsync_core.connection import ConnectionCheck  # noqa: E402
from hubsync_core.hubspot.models import AccountDetails, RateLimitStatus  # noqa: E402
from hubsync_core.jobs import BulkJobStatus, JobStatus, SyncJobs  # noqa: E402
from hubsync_core.service import HubSyncService  # noqa: E402
from hubsync_core.store import runs  # noqa: E402
from hubsync_core.store.database import Database  # noqa: E402
from hubsync_core.sync.model import SyncOptions, SyncProgress, SyncStats  # noqa: E402
from pages.components import resources  # noqa: E402

APP = str(REPO / "app.py")
PAGES = ("overview", "sync", "contacts", "insights", "segments", "changes", "settings")
#: Contacts in the sandbox portal the synced database is filled from.
SYNCED_CONTACTS = 120
#: Seconds an AppTest run may take (imports on the first run dominate).
RUN_TIMEOUT = 30


class FakeClient:
    """Stands in for `HubSpotClient` where pages talk to HubSpot (account details)."""

    def __init__(self) -> None:
        self.details = AccountDetails(
            portal_id="24681357",
            time_zone="Europe/Berlin",
            rate_limit=RateLimitStatus(max=100, remaining=97, interval_ms=10_000),
        )
        self.error: Exception | None = None
        self.calls = 0

    def account_details(self) -> AccountDetails:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.details

    def close(self) -> None:
        pass


#: A fake sync: (service, options, on_progress, cancel) -> SyncStats.
Runner = Callable[
    [HubSyncService, SyncOptions, Callable[[SyncProgress], None] | None, threading.Event | None],
    SyncStats,
]


class RunnerService(HubSyncService):
    """A real service whose `sync()` is a fake runner the test controls."""

    runner: Runner | None = None

    def sync(
        self,
        options: SyncOptions,
        *,
        on_progress: Callable[[SyncProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> SyncStats:
        assert self.runner is not None, "the test did not set a runner"
        return self.runner(self, options, on_progress, cancel)


class FakeJobs:
    """A scripted `SyncJobs`: `status()` returns `self.state`; `start()` records its options."""

    def __init__(self, service: HubSyncService) -> None:
        self.service = service
        self.state = idle_status()
        self.started: list[SyncOptions] = []
        self.refusal: str | None = None
        self.cancels = 0

    @property
    def db(self) -> Database:
        return self.service.db

    def start(self, options: SyncOptions) -> str | None:
        self.started.append(options)
        return self.refusal

    def cancel(self) -> bool:
        self.cancels += 1
        return True

    def status(self) -> JobStatus:
        return self.state

    def bulk_status(self) -> BulkJobStatus:
        return BulkJobStatus(running=False, progress=None, error=None)

    def wait(self, timeout: float | None = None) -> bool:
        return True


def idle_status(**changes: Any) -> JobStatus:
    values: dict[str, Any] = dict(
        running=False, progress=None, run=None, local=False, result=None, error=None
    )
    values.update(changes)
    return JobStatus(**values)


def progress(**changes: Any) -> SyncProgress:
    """A running full sync's snapshot, 3 pages in."""
    values: dict[str, Any] = dict(
        run_id=1,
        mode="full",
        status="running",
        phase="contacts",
        started_at=utcnow() - timedelta(seconds=6),
        pages=3,
        contacts=300,
        api_calls=4,
        retries=1,
        rate_limited=2,
        errors=0,
        expected_total=1000,
        elapsed_seconds=6.0,
        rate_limit_remaining=87,
        rate_limit_max=100,
    )
    values.update(changes)
    return SyncProgress(**values)


@dataclass
class PageHarness:
    """The app's world for one test: settings, a database, the service and its jobs."""

    environ: dict[str, str]
    db: Database
    client: FakeClient = field(default_factory=FakeClient)
    service: HubSyncService | None = None
    jobs: Any = None
    #: What **Test connection** answers (`connection_checks` records each call's settings).
    connection: ConnectionCheck = field(
        default_factory=lambda: ConnectionCheck(
            ok=True,
            demo=True,
            portal_id="24681357",
            time_zone="Europe/Berlin",
            rate_limit=RateLimitStatus(max=100, remaining=97, interval_ms=10_000),
            message="Connected to portal 24681357",
        )
    )
    connection_checks: list[Settings] = field(default_factory=list)

    def settings(self) -> Settings:
        return Settings.load(self.environ, dotenv_path=None, secrets_path=None)

    def resources(self, settings: Settings) -> resources.AppResources:
        if self.service is None:
            self.service = RunnerService(
                settings,
                database=self.db,
                client=self.client,  # type: ignore[arg-type]
                owner=resources.OWNER,  # as the app's own service records its syncs
            )
        if self.jobs is None:
            self.jobs = SyncJobs(self.service)
        return resources.AppResources(
            settings=settings,
            service=self.service,
            jobs=self.jobs,
            check_connection=self.check_connection,
        )

    def check_connection(self, settings: Settings) -> ConnectionCheck:
        self.connection_checks.append(settings)
        return self.connection

    def use_token(self, token: str) -> None:
        """Configure a real-portal token (before the first run)."""
        self.environ["HUBSPOT_ACCESS_TOKEN"] = token

    def use_fake_jobs(self) -> FakeJobs:
        self.resources(self.settings())
        assert self.service is not None
        self.jobs = FakeJobs(self.service)
        return self.jobs

    def use_runner(self, runner: Runner) -> SyncJobs:
        """Real `SyncJobs` whose syncs run `runner` (in the jobs' background thread)."""
        self.resources(self.settings())
        assert isinstance(self.service, RunnerService)
        self.service.runner = runner
        return self.jobs

    # Helpers, so test modules need no import from this conftest.
    @staticmethod
    def texts(at: AppTest) -> str:
        return texts(at)

    @staticmethod
    def metric(at: AppTest, label: str) -> str:
        return metric(at, label)

    @staticmethod
    def idle_status(**changes: Any) -> JobStatus:
        return idle_status(**changes)

    @staticmethod
    def progress(**changes: Any) -> SyncProgress:
        return progress(**changes)

    def finished_run(self, status: str, **kwargs: Any) -> int:
        return finished_run(self.db, status, **kwargs)

    def app(self, page: str = "overview") -> AppTest:
        """The app, run once and switched to `page` (run again)."""
        at = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT)
        at.run()
        if page != "overview":
            at.switch_page(f"pages/{page}.py").run()
        return at


def _clear_caches() -> None:
    st.cache_resource.clear()
    st.cache_data.clear()


def _make_harness(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_file: Path
) -> Iterator[PageHarness]:
    environ = {
        "HUBSYNC_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{database_file}",
        # Tests answer at once (the demo portal's realistic latency is for people).
        "HUBSYNC_DEMO_LATENCY_MS": "0",
    }
    # The app's pages read settings through the hook, but keep the process environment in
    # line too (nothing may pick up a developer's token).
    for name in ("HUBSPOT_ACCESS_TOKEN", "HUBSPOT_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    harness = PageHarness(environ=environ, db=Database(environ["DATABASE_URL"]))
    monkeypatch.setattr(resources, "load_settings", harness.settings)
    monkeypatch.setattr(resources, "resource_factory", harness.resources)
    _clear_caches()
    try:
        yield harness
    finally:
        if isinstance(harness.jobs, SyncJobs):
            harness.jobs.cancel()
            harness.jobs.wait(10)
        if harness.service is not None:
            harness.service.close()
        harness.db.dispose()
        _clear_caches()


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PageHarness]:
    """The app on an empty database, no token (the demo portal's settings)."""
    yield from _make_harness(tmp_path, monkeypatch, tmp_path / "hubsync.db")


@pytest.fixture(scope="session")
def synced_database_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database filled by a real full sync of a small sandbox portal (made once)."""
    from hubsync_core.hubspot.client import HubSpotClient
    from hubsync_core.sandbox import Sandbox, SandboxConfig

    folder = tmp_path_factory.mktemp("synced")
    path = folder / "synced.db"
    config = SandboxConfig(contacts=SYNCED_CONTACTS, rate_limit=0, search_rate_limit=0)
    with Sandbox(config) as sandbox:  # started by entering
        settings = Settings.load(
            {"HUBSYNC_DATA_DIR": str(folder), "DATABASE_URL": f"sqlite:///{path}"},
            dotenv_path=None,
            secrets_path=None,
        )
        client = HubSpotClient(Secret(sandbox.token), sandbox.base_url)
        with HubSyncService(settings, client=client) as service:
            stats = service.sync(SyncOptions(mode="full"))
        live = sandbox.portal.live_count()
    assert stats.ok, f"could not fill the synced database: {stats.status} {stats.message}"
    assert stats.total_synced == live
    return path


@pytest.fixture
def synced_harness(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synced_database_file: Path
) -> Iterator[PageHarness]:
    """The app on a copy of the synced database."""
    target = tmp_path / "hubsync.db"
    for suffix in ("", "-wal"):
        source = Path(f"{synced_database_file}{suffix}")
        if source.exists():
            shutil.copy(source, f"{target}{suffix}")
    yield from _make_harness(tmp_path, monkeypatch, target)


# --- helpers for assertions -----------------------------------------------------------------


def texts(at: AppTest) -> str:
    """Every text the run rendered (markdown, alerts, captions, metrics, labels), one string."""
    found: list[str] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            found.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(found)


def metric(at: AppTest, label: str) -> str:
    """The value of the metric with this label."""
    for item in at.metric:
        if item.label == label:
            return str(item.value)
    raise AssertionError(f"no metric {label!r}; metrics: {[m.label for m in at.metric]}")


def finished_run(
    db: Database,
    status: str,
    *,
    mode: str = "full",
    message: str | None = None,
    hint: str | None = None,
    correlation_id: str | None = None,
    contacts: int = 0,
    pages: int = 0,
    by_segment: dict[str, int] | None = None,
) -> int:
    """Record a finished sync run as the engine would; its id."""
    run = runs.create_run(db, mode, "dashboard@test:1", {"mode": mode})
    assert run.id is not None
    with db.transaction() as conn:
        runs.save_progress(
            conn,
            run.id,
            pages=pages,
            contacts=contacts,
            api_calls=pages + 1,
            retries=0,
            rate_limited=0,
            errors=0 if status == "succeeded" else 1,
            rejected=0,
            checkpoint={"phase": "contacts", "after": "100"} if status != "succeeded" else {},
        )
    runs.finish_run(
        db,
        run.id,
        status,
        error_message=message,
        error_hint=hint,
        correlation_id=correlation_id,
        by_segment=by_segment or {},
        duration_seconds=12.5,
    )
    return run.id
