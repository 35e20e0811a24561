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
set; otherwise a throwaway cluster (initdb + pg_ctl, fsync off, free port, temp dir; run as
user `postgres` through `runuser` when the tests run as root), started on first use and
stopped at session end. Where neither can be had the PostgreSQL cases skip with the reason,
except under `CI=true`, where they fail: CI must never silently drop a backend.

`--long` runs tests marked `slow` (long drills); without it they skip.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from portal_helpers import fast_client, sandbox_settings
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

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


class PostgresUnavailable(Exception):
    """No PostgreSQL server can be had here (the message says why)."""


def _libpq(url: str) -> str:
    """A SQLAlchemy URL as a libpq connection string for psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


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
            self._admin = psycopg.connect(_libpq(url), autocommit=True, connect_timeout=10)
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
        with psycopg.connect(_libpq(self._url_for(self.template)), autocommit=True) as conn:
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
        conn = psycopg.connect(_libpq(url), autocommit=True)
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


def _pg_bindir() -> Path:
    candidates = [os.environ.get("HUBSYNC_PG_BINDIR", "")]
    if shutil.which("pg_ctl"):
        candidates.append(str(Path(shutil.which("pg_ctl") or "").parent))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(versions, key=lambda p: int(Path(p).parent.name), reverse=True)
    for candidate in candidates:
        if (
            candidate
            and (Path(candidate) / "initdb").exists()
            and (Path(candidate) / "pg_ctl").exists()
        ):
            return Path(candidate)
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl) found: `apt-get install -y postgresql`, "
        f"or set {POSTGRES_URL_ENV} to a server"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_cluster() -> PostgresServer:
    """initdb + pg_ctl start in a temp dir; returns the server (stopping it on close)."""
    bindir = _pg_bindir()
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    data = Path(tempfile.mkdtemp(prefix="hubsync-pg-"))
    if as_root:  # initdb refuses to run as root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PostgresUnavailable("running as root and there is no `postgres` user") from exc
        if not shutil.which("runuser"):
            raise PostgresUnavailable("running as root and `runuser` is missing")
        os.chown(data, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data.chmod(0o700)
    cluster = data / "cluster"
    log = data / "server.log"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*prefix, *args], capture_output=True, text=True, timeout=120, check=False
        )

    def stop() -> None:
        run(str(bindir / "pg_ctl"), "-D", str(cluster), "-m", "immediate", "-w", "stop")
        shutil.rmtree(data, ignore_errors=True)

    done = run(
        str(bindir / "initdb"),
        *("-D", str(cluster), "-U", "postgres", "--auth=trust", "-E", "UTF8"),
        *("--locale=C.UTF-8", "--no-sync"),
    )
    if done.returncode != 0:
        shutil.rmtree(data, ignore_errors=True)
        raise PostgresUnavailable(f"initdb failed: {(done.stderr or done.stdout).strip()[-500:]}")
    for _attempt in range(3):  # a free port can be taken between probe and bind: retry
        port = _free_port()
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -k {data} -c max_connections=200 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        done = run(
            str(bindir / "pg_ctl"),
            *("-D", str(cluster), "-l", str(log), "-o", options, "-w", "-t", "60", "start"),
        )
        if done.returncode == 0:
            atexit.register(stop)  # in case the session ends without fixture teardown
            url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
            try:
                return PostgresServer(url, stop)
            except Exception:
                stop()
                raise
    tail = log.read_text(errors="replace")[-800:] if log.exists() else done.stderr
    shutil.rmtree(data, ignore_errors=True)
    raise PostgresUnavailable(f"pg_ctl could not start a throwaway cluster: {tail.strip()}")


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
