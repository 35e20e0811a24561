"""A throwaway PostgreSQL cluster (initdb + pg_ctl in a temp dir, on a free port), for the tests
(tests/conftest.py) and the benchmarks (benchmarks/infra.py) alike.

`start_cluster()` returns the maintenance database's URL and a `stop()` that shuts the cluster
down and removes its files (also registered with `atexit`). When the process runs as root the
server runs as user `postgres` through `runuser` (initdb refuses root). Anything missing raises
`PostgresUnavailable` with the reason.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url

#: Where PostgreSQL's server binaries are, when they are in none of the usual places.
BINDIR_ENV = "HUBSYNC_PG_BINDIR"


class PostgresUnavailable(Exception):
    """No PostgreSQL server can be had here (the message says why)."""


def libpq(url: str) -> str:
    """A SQLAlchemy URL as a libpq connection string for psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pg_bindir() -> Path:
    """The folder holding `initdb` and `pg_ctl` (the newest installed version)."""
    candidates = [os.environ.get(BINDIR_ENV, "")]
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
        f"set {BINDIR_ENV}, or point the tests/benchmarks at a server by URL"
    )


def start_cluster(
    *, durable: bool, max_connections: int = 100, prefix: str = "hubsync-pg-"
) -> tuple[str, Callable[[], None]]:
    """Start a throwaway cluster; its maintenance database's URL and the `stop` function.

    `durable=False` turns fsync, synchronous commit and full-page writes off (tests: speed
    over crash safety); `durable=True` keeps PostgreSQL's defaults (benchmarks: the figures
    should be what a real server gives).
    """
    bindir = pg_bindir()
    runner: list[str] = []
    data = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError as exc:
            shutil.rmtree(data, ignore_errors=True)
            raise PostgresUnavailable("running as root and there is no `postgres` user") from exc
        if not shutil.which("runuser"):
            shutil.rmtree(data, ignore_errors=True)
            raise PostgresUnavailable("running as root and `runuser` is missing")
        os.chown(data, user.pw_uid, user.pw_gid)
        runner = ["runuser", "-u", "postgres", "--"]
    data.chmod(0o700)
    cluster, log = data / "cluster", data / "server.log"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*runner, *args], capture_output=True, text=True, timeout=120, check=False
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
    settings = f"-c max_connections={max_connections}"
    if not durable:
        settings += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    for _attempt in range(3):  # a free port can be taken between probe and bind: retry
        port = free_port()
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {data} {settings}"
        done = run(
            str(bindir / "pg_ctl"),
            *("-D", str(cluster), "-l", str(log), "-o", options, "-w", "-t", "60", "start"),
        )
        if done.returncode == 0:
            atexit.register(stop)  # in case the process ends without calling it
            return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", stop
    tail = log.read_text(errors="replace")[-800:] if log.exists() else done.stderr
    shutil.rmtree(data, ignore_errors=True)
    raise PostgresUnavailable(f"pg_ctl could not start a throwaway cluster: {tail.strip()}")
