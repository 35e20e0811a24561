"""Browser tests: the real app in a subprocess, driven by headless Debian Chromium.

Shared by every `tests/browser/test_*_browser.py`. Plain Playwright (sync API), no
pytest-playwright. What it gives:

- `app_server` (session): `streamlit run app.py` on a free loopback port, on the demo portal
  (no token), with a fresh temporary data dir. `app_server.url_for("sync")` builds page URLs,
  `app_server.database()` opens the app's database, `app_server.cli(...)` runs `hubsync` on
  it, `app_server.log_path` holds its output.
  `launch_fresh_app(extra_env=...)` starts another one for one test (stopped after it).
- `browser` (session) and `new_page()` (a factory of pages, each in its own browser context,
  for tests that need two visitors), and `page` (one such page).
- Helpers, as the `ui` fixture (no import from conftest needed): `ui.wait_for_app_idle(page)`,
  `ui.assert_no_exception(page)`, `ui.open_page(page, app_server, "sync")`,
  `ui.sync_now(page, app_server, mode="full")` (a sync through the Sync page, waiting for
  "Sync complete"), `ui.ensure_synced(page, app_server)` (that sync, once per app),
  `ui.screenshot(page, name)` into `test-artifacts/` (gitignored).

Without Chromium the tests skip and say why, except under `CI=true`, where they fail.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from hubsync_core.store.database import Database

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Contacts in the demo portal the browser tests sync: enough pages that progress is seen
#: moving (the sandbox allows 100 requests per 10 s, one page of 100 contacts per request),
#: few enough that a sync takes seconds.
DEMO_CONTACTS = 3000
#: Added to each demo-portal API answer so a sync lasts long enough to watch, switch pages
#: and reload while it runs.
DEMO_LATENCY_MS = 250
#: Streamlit page paths (see app.py's navigation): "" is the default page, Overview.
PAGE_PATHS = {
    "overview": "",
    "sync": "sync",
    "contacts": "contacts",
    "insights": "insights",
    "segments": "segments",
    "settings": "settings",
}
STARTUP_SECONDS = 60.0
#: Playwright waits (ms): generous, as CI machines can be slow; they only bound failures.
APP_TIMEOUT_MS = 30_000
SYNC_TIMEOUT_MS = 180_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in tests/browser is a browser test (run or deselect with `-m browser`)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _chromium_or_skip() -> str:
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    problem = None
    if not path:
        problem = "Chromium not found at /usr/bin/chromium (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright Python package is not installed (pip install -e '.[test]')"
    if problem:
        if _in_ci():
            pytest.fail(f"browser tests cannot run in CI: {problem}")
        pytest.skip(f"browser test skipped: {problem}")
    assert path is not None
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AppServer:
    """A running dashboard process."""

    url: str
    data_dir: Path
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    demo_contacts: int

    def url_for(self, page: str = "overview", query: str = "") -> str:
        """The URL of a page by name ("overview", "sync", "contacts", ...), with a query string."""
        path = PAGE_PATHS.get(page, page)
        suffix = f"?{query.lstrip('?')}" if query else ""
        return f"{self.url}/{path}{suffix}"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.data_dir / 'demo.db'}"

    def database(self) -> Database:
        """The app's database (the demo portal's `demo.db`), for assertions."""
        from hubsync_core.store.database import Database

        return Database(self.database_url)

    def log_tail(self, lines: int = 60) -> str:
        with contextlib.suppress(OSError):
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return "(no server output)"

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`hubsync ARGS` in a subprocess with the app's environment, in the app's folder (so
        on the same database); its output captured as text."""
        return subprocess.run(
            [sys.executable, "-m", "hubsync_core.cli", *args],
            cwd=self.data_dir.parent,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def launch_app(workdir: Path, *, extra_env: dict[str, str] | None = None) -> AppServer:
    """Start `streamlit run app.py` like Streamlit's own end-to-end suite; wait until healthy.

    The process runs in `workdir` (holding a copy of `.streamlit/config.toml`), so a
    developer's `.env` or `secrets.toml` in the repository (a real token) is never read:
    the app talks to the demo portal.
    """
    port = _free_port()
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    (workdir / ".streamlit").mkdir(exist_ok=True)
    shutil.copy(REPO / ".streamlit" / "config.toml", workdir / ".streamlit" / "config.toml")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HUBSPOT_", "HUBSYNC_", "STREAMLIT_")) and k != "DATABASE_URL"
    }
    env.update(
        HUBSYNC_DATA_DIR=str(data_dir),
        HUBSYNC_DEMO_CONTACTS=str(DEMO_CONTACTS),
        HUBSYNC_DEMO_LATENCY_MS=str(DEMO_LATENCY_MS),
        # A still demo portal: no edits of its own, no scheduled syncs mid-test.
        HUBSYNC_DEMO_LIVE_ACTIVITY="0",
        HUBSYNC_DEMO_SCHEDULE_MINUTES="0",
        PYTHONUNBUFFERED="1",
        # The app and `python -m hubsync_core.cli` import this checkout, not whichever
        # checkout an editable install last pointed at.
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    env.update(extra_env or {})
    log_path = workdir / "server.log"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO / "app.py"),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    with open(log_path, "wb") as log:  # a file, not a pipe: a full pipe would block the app
        process = subprocess.Popen(
            command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    server = AppServer(
        url=f"http://127.0.0.1:{port}",
        data_dir=data_dir,
        log_path=log_path,
        env=env,
        process=process,
        demo_contacts=int(env["HUBSYNC_DEMO_CONTACTS"]),
    )
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"the app exited with status {process.returncode}:\n{server.log_tail()}"
            )
        with contextlib.suppress(urllib.error.URLError, OSError):
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as resp:
                if resp.read().decode().strip() == "ok":
                    return server
        if time.monotonic() > deadline:
            stop_app(server)
            raise RuntimeError(f"the app was not healthy within {STARTUP_SECONDS}s")
        time.sleep(0.2)  # polling an external process's health endpoint


def stop_app(server: AppServer) -> None:
    """Terminate the app and wait for it (kill if it does not stop)."""
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=15)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return _chromium_or_skip()


@pytest.fixture(scope="session")
def app_server(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The dashboard on the demo portal, shared by the session's browser tests.

    Tests share its database: a test that needs exact totals runs a *full* sync (whose
    totals do not depend on what ran before) and compares counts before and after.
    """
    server = launch_app(tmp_path_factory.mktemp("app"))
    try:
        yield server
    finally:
        stop_app(server)
        # Keep the server output next to the screenshots for anyone debugging a failure.
        ARTIFACTS.mkdir(exist_ok=True)
        with contextlib.suppress(OSError):
            shutil.copy(server.log_path, ARTIFACTS / "server.log")


@pytest.fixture
def launch_fresh_app(
    chromium_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., AppServer]]:
    """Start another app of the test's own (a fresh database; `extra_env` e.g. a token),
    stopped after the test: `server = launch_fresh_app(extra_env={...})`."""
    started: list[AppServer] = []

    def launch(extra_env: dict[str, str] | None = None) -> AppServer:
        server = launch_app(tmp_path_factory.mktemp("fresh-app"), extra_env=extra_env)
        started.append(server)
        return server

    yield launch
    for server in started:
        stop_app(server)


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    """A factory of pages, each in a fresh browser context (its own cookies and storage)."""
    contexts = []

    def make() -> Page:
        # Tall: Streamlit scrolls inside its own container, so screenshots show the viewport.
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1280, "height": 2000}
        )
        context.set_default_timeout(APP_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        with contextlib.suppress(Exception):
            context.close()


@pytest.fixture
def page(new_page: Callable[[], Page]) -> Page:
    """One page in a fresh context (downloads accepted, tall viewport)."""
    return new_page()


# --- helpers -------------------------------------------------------------------------------


def wait_for_app_idle(page: Page, timeout: float = APP_TIMEOUT_MS) -> None:
    """Wait until the app is drawn and its script is not running."""
    page.wait_for_selector('[data-testid="stAppViewContainer"]', timeout=timeout)
    page.wait_for_selector(
        '.stApp[data-test-script-state="notRunning"]', state="attached", timeout=timeout
    )


def assert_no_exception(page: Page) -> None:
    """No Streamlit exception box on the page."""
    boxes = page.locator('[data-testid="stException"]')
    count = boxes.count()
    texts = [boxes.nth(i).inner_text() for i in range(count)]
    assert count == 0, f"stException on {page.url}: {texts}"


def open_page(page: Page, app: AppServer, name: str = "overview", query: str = "") -> None:
    """Load a page by URL and wait for it to finish rendering."""
    page.goto(app.url_for(name, query))
    wait_for_app_idle(page)


def sync_now(page: Page, app: AppServer, *, mode: str | None = None) -> None:
    """Run a sync from the Sync page and wait for "Sync complete" (mode: auto/full/incremental)."""
    open_page(page, app, "sync")
    if mode is not None:
        page.get_by_test_id("stRadio").get_by_text(mode, exact=True).click()
        wait_for_app_idle(page)
    page.get_by_role("button", name="Sync now").click()
    page.get_by_text("Sync complete").first.wait_for(timeout=SYNC_TIMEOUT_MS)
    wait_for_app_idle(page)


def ensure_synced(page: Page, app: AppServer) -> None:
    """The demo portal synced through the Sync page, once per app (a no-op when the app's
    database already holds contacts)."""
    db = app.database()
    try:
        from hubsync_core.store import explorer

        synced = explorer.count_contacts(db) > 0
    finally:
        db.dispose()
    if not synced:
        sync_now(page, app, mode="full")
        assert_no_exception(page)


def screenshot(page: Page, name: str) -> Path:
    """Save a screenshot of the page as test-artifacts/<name>.png (gitignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


class BrowserHelpers:
    """The helpers above, as one fixture value: `ui.open_page(page, app_server, "sync")`."""

    wait_for_app_idle = staticmethod(wait_for_app_idle)
    assert_no_exception = staticmethod(assert_no_exception)
    open_page = staticmethod(open_page)
    sync_now = staticmethod(sync_now)
    ensure_synced = staticmethod(ensure_synced)
    screenshot = staticmethod(screenshot)
    APP_TIMEOUT_MS = APP_TIMEOUT_MS
    SYNC_TIMEOUT_MS = SYNC_TIMEOUT_MS


@pytest.fixture(scope="session")
def ui() -> BrowserHelpers:
    return BrowserHelpers()
