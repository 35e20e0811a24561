"""Shared fixtures: a database on SQLite and on PostgreSQL for every storage-touching test.

Fixtures (names are a contract; other test folders use them):

- `database_url` -- parametrized `sqlite` (a new file in `tmp_path`) and `postgresql` (a
  database holding exactly what a fresh migrated database holds: reused between tests,
  emptied and checked against the template's schema before each; see `PostgresServer`).
  The PostgreSQL case carries the `postgres` marker (`-m "not postgres"` deselects it).
- `db` -- a `Database` on `database_url` (schema current), disposed after the test.
- `sqlite_db` -- a `Database` on a SQLite file, for tests that only need SQLite.
- `empty_database_url` -- like `database_url` but an empty database (no tables), for
  migration tests.
- `postgres_url` (session) -- URL of the test server's maintenance database
  (`postgresql+psycopg://user@host:port/postgres`); `postgres_server` (session) -- the
  server handle, with `create_database()` / `drop_database(url)` for tests that need a
  database of their own.

PostgreSQL: `HUBSYNC_TEST_POSTGRES_URL` (a server URL whose user may create databases) if
set; otherwise a throwaway cluster (benchmarks/postgres.py, shared with the benchmarks: initdb +
pg_ctl, fsync off, free port, temp dir), started on first use and stopped at session end.
Where neither can be had the PostgreSQL cases skip with the reason,
except under `CI=true`, where they fail: CI must never silently drop a backend.

`--long` runs tests marked `slow` (long drills); without it they skip.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel
from sync_helpers import HarnessFactory, fast_client, sandbox_settings

from benchmarks.postgres import PostgresUnavailable, libpq, start_cluster
from hubsync_core.hubspot.client import HubSpotClient
from hubsync_core.sandbox import Sandbox, SandboxConfig
from hubsync_core.service import HubSyncService
from hubsync_core.store.database import Database

POSTGRES_URL_ENV = "HUBSYNC_TEST_POSTGRES_URL"


# -- options and markers ------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long",
        action="store_true",
        default=False,
        help="also run the long drills (tests marked slow)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--long"):
        return
    skip_slow = pytest.mark.skip(reason="long drill: run with --long")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


# -- PostgreSQL server ----------------------------------------------------------------------


#: What must match the template for a used database to be reset rather than replaced.
_SCHEMA_FINGERPRINT = """
SELECT md5(coalesce((
    SELECT string_agg(concat_ws(':', table_name, column_name, data_type, is_nullable,
                                column_default), ',' ORDER BY table_name, column_name)
    FROM information_schema.columns WHERE table_schema = 'public'), '')
  || coalesce((SELECT string_agg(indexdef, ',' ORDER BY indexdef)
               FROM pg_indexes WHERE schemaname = 'public'), ''))
"""


class _Reusable:
    """A test database kept for the next test, with a connection to reset it through."""

    def __init__(self, name: str, url: str, conn: Any) -> None:
        self.name, self.url, self.conn = name, url, conn


class PostgresServer:
    """A PostgreSQL server the tests create databases on.

    `database_url` databases are reused: creating one from the template costs 10-500 ms
    (it copies the system catalogs, slow when the disk is busy), emptying a used one ~10 ms.
    Before reuse, leftover connections are terminated, the schema is compared with the
    template's (a test that altered it gets a brand-new database instead), every table is
    emptied, sequences restart, and the template's own rows are copied back.
    """

    def __init__(self, url: str, stop: Callable[[], None] | None = None) -> None:
        import psycopg

        self.url = url
        self._stop = stop
        self._names = (f"hubsync_test_{os.getpid()}_{n}" for n in itertools.count())
        self._free: list[_Reusable] = []
        self._lent: dict[str, _Reusable] = {}
        try:
            self._admin = psycopg.connect(libpq(url), autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise PostgresUnavailable(f"cannot connect to {self._safe(url)}: {exc}") from exc
        version = self._admin.info.server_version
        # FILE_COPY (PostgreSQL 15+) copies a small template faster than WAL_LOG.
        self._strategy = " STRATEGY FILE_COPY" if version >= 150000 else ""
        self._wait = ", 5000" if version >= 140000 else ""  # pg_terminate_backend timeout
        self.template = f"hubsync_template_{os.getpid()}"
        try:
            self._admin.execute(f'DROP DATABASE IF EXISTS "{self.template}"')
            self._admin.execute(f'CREATE DATABASE "{self.template}"')
        except psycopg.Error as exc:
            self._admin.close()
            raise PostgresUnavailable(
                f"cannot create databases on {self._safe(url)} (the user needs CREATEDB): {exc}"
            ) from exc
        migrated = Database(self._url_for(self.template))  # the schema, made once
        migrated.dispose()
        with psycopg.connect(libpq(self._url_for(self.template)), autocommit=True) as conn:
            self._fingerprint = conn.execute(_SCHEMA_FINGERPRINT).fetchone()[0]
            # Children before parents, should foreign keys ever appear.
            self._tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
            self._sequences = [
                r[0]
                for r in conn.execute(
                    "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
                )
            ]
            self._seed: list[tuple[str, bytes]] = []  # rows the migration itself wrote
            for table in self._tables:
                if conn.execute(f'SELECT EXISTS (SELECT FROM "{table}")').fetchone()[0]:
                    with conn.cursor().copy(f'COPY "{table}" TO STDOUT') as copy:
                        self._seed.append((table, b"".join(bytes(b) for b in copy)))

    @staticmethod
    def _safe(url: str) -> str:
        return make_url(url).render_as_string(hide_password=True)

    def _url_for(self, name: str) -> str:
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def create_database(self, *, migrated: bool = True) -> str:
        """A new database (with HubSync's current schema unless `migrated=False`); its URL.

        The caller drops it with `drop_database`."""
        name = next(self._names)
        if migrated:
            self._admin.execute(
                f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"{self._strategy}'
            )
        else:
            self._admin.execute(f'CREATE DATABASE "{name}"')
        return self._url_for(name)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def clean_database(self) -> str:
        """A migrated database holding only what migration wrote; give it back with
        `return_database`."""
        import psycopg

        while self._free:
            spare = self._free.pop()
            if self._reset(spare):
                self._lent[spare.url] = spare
                return spare.url
            self._discard(spare)
        url = self.create_database()
        conn = psycopg.connect(libpq(url), autocommit=True)
        spare = _Reusable(make_url(url).database or "", url, conn)
        self._lent[url] = spare
        return url

    def return_database(self, url: str) -> None:
        spare = self._lent.pop(url, None)
        if spare is not None:
            self._free.append(spare)

    def _reset(self, spare: _Reusable) -> bool:
        try:
            self._admin.execute(
                f"SELECT pg_terminate_backend(pid{self._wait}) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> %s",
                (spare.name, spare.conn.info.backend_pid),
            )
            conn = spare.conn
            if conn.execute(_SCHEMA_FINGERPRINT).fetchone()[0] != self._fingerprint:
                return False
            with conn.transaction():
                for table in self._tables:
                    conn.execute(f'DELETE FROM "{table}"')
                for sequence in self._sequences:
                    conn.execute(f'ALTER SEQUENCE "{sequence}" RESTART')
                for table, rows in self._seed:
                    with conn.cursor().copy(f'COPY "{table}" FROM STDIN') as copy:
                        copy.write(rows)
            return True
        except Exception:  # a broken connection or an odd leftover: use a new database
            return False

    def _discard(self, spare: _Reusable) -> None:
        with contextlib.suppress(Exception):
            spare.conn.close()
        with contextlib.suppress(Exception):
            self.drop_database(spare.url)

    def close(self) -> None:
        for spare in [*self._free, *self._lent.values()]:
            self._discard(spare)
        with contextlib.suppress(Exception):
            self._admin.execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        with contextlib.suppress(Exception):
            self._admin.close()
        if self._stop is not None:
            self._stop()
            self._stop = None


def _start_cluster() -> PostgresServer:
    """A throwaway cluster (benchmarks/postgres.py), fsync off: tests want speed."""
    url, stop = start_cluster(durable=False, max_connections=200)
    try:
        return PostgresServer(url, stop)
    except Exception:
        stop()
        raise


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"PostgreSQL is required when CI=true: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (external or throwaway); skips/fails if none."""
    server: PostgresServer | None = None
    try:
        external = os.environ.get(POSTGRES_URL_ENV)
        server = PostgresServer(external) if external else _start_cluster()
    except (PostgresUnavailable, ImportError) as exc:
        _unavailable(str(exc))
    assert server is not None
    yield server
    server.close()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """URL of the test server's maintenance database (session-wide)."""
    return postgres_server.url


# -- per-test databases ---------------------------------------------------------------------

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


def _database_url(
    request: pytest.FixtureRequest, tmp_path: Path, *, migrated: bool
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / ('hubsync.db' if migrated else 'hubsync-empty.db')}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    if migrated:
        url = server.clean_database()
        yield url
        server.return_database(url)
    else:
        url = server.create_database(migrated=False)
        yield url
        server.drop_database(url)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database with the current schema, on SQLite and on PostgreSQL."""
    yield from _database_url(request, tmp_path, migrated=True)


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database (no tables), on SQLite and on PostgreSQL."""
    yield from _database_url(request, tmp_path, migrated=False)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A `Database` on `database_url`, disposed after the test."""
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """A `Database` on a SQLite file, for tests that only need SQLite."""
    database = Database(f"sqlite:///{tmp_path / 'hubsync-sqlite.db'}")
    yield database
    database.dispose()


# ---------------------------------------------------------------------------------------------
# A sandbox portal and services syncing from it into the test database.
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A 1,200-contact portal without rate limits or faults."""
    with Sandbox(SandboxConfig(contacts=1200, seed=7, rate_limit=0, search_rate_limit=0)) as sb:
        yield sb


@pytest.fixture
def make_harness(db: Database) -> Iterator[HarnessFactory]:
    """Sync harnesses (sandbox, settings, fast client; `sync_helpers.Harness`) on the test
    database, SQLite and PostgreSQL; their sandboxes and clients are closed afterwards."""
    factory = HarnessFactory(db)
    yield factory
    factory.close()


@pytest.fixture
def make_sqlite_harness(sqlite_db: Database) -> Iterator[HarnessFactory]:
    """The same on SQLite only (tests about HTTP or the engine, not storage)."""
    factory = HarnessFactory(sqlite_db)
    yield factory
    factory.close()


@pytest.fixture
def make_service(sandbox: Sandbox, db: Database) -> Iterator[Callable[..., HubSyncService]]:
    """Build services on the test database against the sandbox (closed after the test)."""
    made: list[HubSyncService] = []

    def make(client: HubSpotClient | None = None, **env: str) -> HubSyncService:
        settings = sandbox_settings(sandbox, db.url, **env)
        service = HubSyncService(settings, database=db, client=client or fast_client(sandbox))
        made.append(service)
        return service

    yield make
    for service in made:
        if service._client is not None:
            service._client.close()


@pytest.fixture(autouse=True)
def _demo_portal_answers_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo portal's realistic latency (HUBSYNC_DEMO_LATENCY_MS, ~120 ms) is for people;
    tests that reach it through the environment get answers at once."""
    monkeypatch.setenv("HUBSYNC_DEMO_LATENCY_MS", "0")
