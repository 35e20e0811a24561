"""What the scenarios stand on: a sandbox in its own process, databases (SQLite files and a
PostgreSQL server), and measured child processes.

Every sync, peer run and export runs in a child process of its own (`benchmarks.child`), so
its CPU time and peak RSS are its own, apart from the sandbox's and the suite's.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.postgres import PostgresUnavailable, libpq, start_cluster

REPO = Path(__file__).resolve().parent.parent
POSTGRES_URL_ENV = "HUBSYNC_BENCH_POSTGRES_URL"
TOKEN = "demo-sandbox-token"


class BenchError(RuntimeError):
    """A benchmark could not run (the message says why)."""


# -- child processes -------------------------------------------------------------------------


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child: ours, no `.env` surprises, the repo importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "HUBSYNC_"))}
    env.pop("DATABASE_URL", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env.update(extra or {})
    return env


def run_child(args: list[str], env: dict[str, str] | None = None, timeout: float = 3600) -> Any:
    """Run `python -m benchmarks.child ARGS` in a scratch directory; return its JSON answer."""
    with tempfile.TemporaryDirectory(prefix="hubsync-bench-") as workdir:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.child", *args],
            cwd=workdir,  # no .env of the working tree is read
            env=child_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip()[-2000:]
        raise BenchError(f"child {args[0]} failed ({done.returncode}): {tail}")
    return json.loads(lines[-1])


# -- the sandbox -----------------------------------------------------------------------------


@dataclass
class SandboxProcess:
    """`python -m benchmarks.child sandbox ...` serving one portal until stopped."""

    process: subprocess.Popen[str]
    base_url: str

    @classmethod
    def start(
        cls,
        contacts: int,
        *,
        latency_ms: int = 0,
        rate_limit: int = 0,
        search_rate_limit: int = 0,
        search_counts_toward_burst: bool = False,
        seed: int = 42,
    ) -> SandboxProcess:
        args = [
            sys.executable,
            "-m",
            "benchmarks.child",
            "sandbox",
            *("--contacts", str(contacts), "--seed", str(seed)),
            *("--latency-ms", str(latency_ms), "--rate-limit", str(rate_limit)),
            *("--search-rate-limit", str(search_rate_limit)),
        ]
        if search_counts_toward_burst:
            args.append("--search-counts-toward-burst")
        process = subprocess.Popen(
            args,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("http"):
            process.kill()
            raise BenchError(f"the sandbox did not start: {line!r}")
        sandbox = cls(process, line)
        atexit.register(sandbox.stop)
        return sandbox

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base_url}/_sandbox/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read() or b"null")

    def stats(self) -> dict[str, Any]:
        return dict(self.admin("GET", "stats"))

    def live_contacts(self) -> int:
        return int(self.admin("GET", "info")["liveContacts"])

    def peak_rss_mb(self) -> float | None:
        return _vm_hwm_mb(self.process.pid)

    def env(self) -> dict[str, str]:
        return {"HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_BASE_URL": self.base_url}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _vm_hwm_mb(pid: int) -> float | None:
    """A live process's peak resident set size (VmHWM), in MB."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# -- databases -------------------------------------------------------------------------------


class Databases:
    """Fresh databases for the runs: SQLite files in a scratch folder, and PostgreSQL
    databases on `HUBSYNC_BENCH_POSTGRES_URL` or on a throwaway cluster started on demand."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._names = itertools.count()
        self._postgres: _Postgres | None = None

    def new(self, backend: str, label: str) -> str:
        """The URL of a new, empty database on `backend` ("sqlite" or "postgresql")."""
        n = next(self._names)
        if backend == "sqlite":
            path = self.workdir / f"{label}-{n}.db"
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(f"{path}{suffix}")
            return f"sqlite:///{path}"
        if self._postgres is None:
            self._postgres = _Postgres.open()
        return self._postgres.create(f"hubsync_bench_{os.getpid()}_{label}_{n}")

    def drop(self, url: str) -> None:
        """Remove a database made by `new` (files, or the PostgreSQL database)."""
        if url.startswith("sqlite"):
            path = url.removeprefix("sqlite:///")
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(f"{path}{suffix}")
        elif self._postgres is not None:
            self._postgres.drop(url)

    def versions(self) -> dict[str, str | None]:
        postgres = self._postgres.version if self._postgres is not None else None
        return {"sqlite": sqlite3.sqlite_version, "postgresql": postgres}

    @property
    def postgres_settings(self) -> str | None:
        return self._postgres.describe if self._postgres is not None else None

    def close(self) -> None:
        if self._postgres is not None:
            self._postgres.close()
            self._postgres = None


class _Postgres:
    """A PostgreSQL server the suite may create databases on."""

    def __init__(self, url: str, describe: str, stop: Any = None) -> None:
        import psycopg

        self.url = url
        self.describe = describe
        self._stop = stop
        self._admin = psycopg.connect(libpq(url), autocommit=True, connect_timeout=10)
        self.version = str(self._admin.execute("SHOW server_version").fetchone()[0])

    @classmethod
    def open(cls) -> _Postgres:
        external = os.environ.get(POSTGRES_URL_ENV)
        if external:
            return cls(external, f"external server ({POSTGRES_URL_ENV})")
        return _start_cluster()

    def create(self, name: str) -> str:
        self._admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        self._admin.execute(f'CREATE DATABASE "{name}"')
        from sqlalchemy.engine import make_url

        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        name = make_url(url).database
        with contextlib.suppress(Exception):
            self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._admin.close()
        if self._stop is not None:
            self._stop()
            self._stop = None


def _start_cluster() -> _Postgres:
    """A throwaway cluster (benchmarks/postgres.py, as the tests start one) but with
    PostgreSQL's default durability (fsync and synchronous_commit on): the figures should be
    what a real server gives, not a test double's."""
    try:
        url, stop = start_cluster(durable=True, prefix="hubsync-bench-pg-")
    except PostgresUnavailable as exc:
        raise BenchError(f"{exc} (or set {POSTGRES_URL_ENV})") from exc
    return _Postgres(url, "throwaway cluster, default settings (fsync on)", stop)


# -- the machine -----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    memory = None
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/meminfo", encoding="ascii") as info:
            memory = round(int(info.readline().split()[1]) / 1024 / 1024, 1)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": os.getloadavg(),
    }


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="hubsync-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
