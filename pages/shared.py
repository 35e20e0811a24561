"""What every dashboard page shares: process-wide resources, the frame, and presentation helpers.

- `resources()`: the `HubSyncService` and `SyncJobs` for the current settings, built once per
  process (`st.cache_resource`), so a sync started on one page, tab or browser is the same
  sync everywhere. Tests swap `load_settings` and `resource_factory` (see
  tests/pages/conftest.py) and clear `st.cache_resource`.
- `render_frame()`: the sidebar (which portal, the last sync) and the demo banner.
- `is_signed_in()` / `render_login()`: Streamlit's built-in OIDC sign-in when secrets.toml has
  an `[auth]` section (app.py gates every page with them).
- Formatting helpers and renderers for sync progress and outcomes (presentation only: every
  number comes from `hubsync_core`).

Nothing here decides anything about syncing or data; that lives in `hubsync_core`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import streamlit as st

from hubsync_core.clock import naive_utc, utcnow
from hubsync_core.config import Settings, SettingsError
from hubsync_core.connection import (
    DEMO_EXPLANATION,
    DEMO_LABEL,
    ConnectionCheck,
    check_connection,
)
from hubsync_core.hubspot.models import RateLimitStatus
from hubsync_core.jobs import JobStatus, SyncJobs
from hubsync_core.run_status import RunStatus
from hubsync_core.service import HubSyncService
from hubsync_core.store import runs
from hubsync_core.store.lock import SyncAlreadyRunning
from hubsync_core.store.models import SyncRun
from hubsync_core.sync.model import SyncOptions, SyncProgress, SyncStats

#: Who the dashboard's syncs are recorded as (the lock and `sync_runs.owner` say it).
OWNER = "dashboard"

# --- resources ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppResources:
    """The process-wide objects every page uses."""

    settings: Settings
    service: HubSyncService
    jobs: SyncJobs
    #: **Test connection** (Settings page): asks HubSpot, reports, never raises.
    check_connection: Callable[[Settings], ConnectionCheck] = check_connection


def build_resources(settings: Settings) -> AppResources:
    """The real service (database + HubSpot client, opened lazily) and its background jobs."""
    service = HubSyncService(settings, owner=OWNER)
    return AppResources(settings=settings, service=service, jobs=SyncJobs(service))


#: Reads the settings (environment, .env, secrets.toml). Tests replace it.
load_settings: Callable[[], Settings] = Settings.load
#: Builds the process-wide resources from settings. Tests replace it with fakes.
resource_factory: Callable[[Settings], AppResources] = build_resources


@st.cache_resource(show_spinner=False)
def _cached_resources(key: str, _settings: Settings) -> AppResources:
    # `_settings` is not hashed (it holds the token); `key` names the database it serves.
    return resource_factory(_settings)


def settings() -> Settings:
    """The settings, or stop the page with one line naming the bad setting."""
    try:
        return load_settings()
    except SettingsError as exc:
        st.error(f"HubSync cannot start: {exc}", icon="⚠️")
        st.caption("Fix it in the environment, .env or .streamlit/secrets.toml, then reload.")
        st.stop()
        raise  # unreachable: st.stop() raises


def ensure_entrypoint_ran() -> None:
    """Make sure app.py (sign-in gate, sidebar, banner) ran before any page.

    Because the page files live in `pages/`, Streamlit starts in its legacy pages-directory mode
    until app.py first calls `st.navigation`. If a fresh server's first request is a deep link
    (say /sync), Streamlit runs pages/sync.py alone, skipping app.py and its sign-in gate (also
    AppTest, which resets that mode before every run). Switching the mode off and rerunning
    runs app.py first. `PagesManager.uses_pages_directory` is Streamlit's own flag for it.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a later Streamlit without the legacy mode
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()


def resources() -> AppResources:
    """The process-wide service and jobs for the current settings."""
    ensure_entrypoint_ran()
    current = settings()
    return _cached_resources(current.database_url, current)


def get_service() -> HubSyncService:
    """The process-wide `HubSyncService` (what pages query)."""
    return resources().service


def get_jobs() -> SyncJobs:
    """The process-wide background syncs."""
    return resources().jobs


# --- sign-in --------------------------------------------------------------------------------


def auth_config() -> Mapping[str, Any] | None:
    """The `[auth]` section of secrets.toml, or None when sign-in is not configured.

    Fails closed: a secrets file that exists but cannot be read stops the app rather than
    dropping the sign-in it may configure.
    """
    try:
        section = st.secrets.get("auth")
    except FileNotFoundError:  # Streamlit's "no secrets" and "unreadable secrets" alike
        if secrets_file_exists():
            st.error(
                "HubSync cannot start: .streamlit/secrets.toml could not be read, so sign-in "
                "cannot be checked. Fix the file, then reload.",
                icon="⚠️",
            )
            st.stop()
        return None
    return section if isinstance(section, Mapping) and section else None


def secrets_file_exists() -> bool:
    """Whether any of the secrets files Streamlit reads exists."""
    return any(Path(path).expanduser().is_file() for path in st.get_option("secrets.files"))


def login_providers(config: Mapping[str, Any]) -> list[str | None]:
    """Named providers (`[auth.google]`, ...) or `[None]` for the single default provider."""
    named = [name for name, value in config.items() if isinstance(value, Mapping)]
    return [*named] if named and "client_id" not in config else [None]


def is_signed_in() -> bool:
    """True when no sign-in is configured, or the visitor has signed in."""
    if auth_config() is None:
        return True
    return bool(getattr(st.user, "is_logged_in", False))


def render_login() -> None:
    """The sign-in screen shown instead of any page."""
    config = auth_config() or {}
    st.title("🔄 HubSync")
    st.write("Sign in to see this HubSpot portal's contacts.")
    for provider in login_providers(config):
        label = f"Sign in with {provider.title()}" if provider else "Sign in"
        if st.button(label, key=f"login-{provider or 'default'}", type="primary"):
            if provider:
                st.login(provider)
            else:
                st.login()


# --- the frame: sidebar and demo banner -----------------------------------------------------


def render_frame(app: AppResources) -> None:
    """Sidebar (portal, last sync, sign-out) and, on the demo portal, the banner."""
    with st.sidebar:
        st.markdown("### 🔄 HubSync")
        if app.settings.demo:
            st.markdown(f"**Portal:** 🧪 {DEMO_LABEL}")
        else:
            st.markdown("**Portal:** 🟢 HubSpot portal connected")
        _sidebar_last_sync(app, polling=app.jobs.status().running)
        if auth_config() is not None and getattr(st.user, "is_logged_in", False):
            name = getattr(st.user, "email", None) or getattr(st.user, "name", None) or ""
            st.caption(f"Signed in {('as ' + str(name)) if name else ''}")
            if st.button("Sign out", key="logout"):
                st.logout()
    if app.settings.demo:
        demo_banner()


def _sidebar_last_sync(app: AppResources, *, polling: bool) -> None:
    # While a sync runs, every page's sidebar follows it (and says when it ended).
    @st.fragment(run_every=2.0 if polling else None)
    def last_sync() -> None:
        last = runs.latest_run(app.service.db)
        if last is None:
            st.caption("Last sync: never")
        elif last.status == RunStatus.RUNNING:
            st.caption(f"🔄 Sync running since {when(last.started_at)}")
        else:
            st.caption(f"Last sync: {when(last.finished_at or last.started_at)}")
            st.caption(f"Status: {status_label(last.status)}")

    last_sync()


def demo_banner() -> None:
    """On the demo portal, every page says so, with the one-line path to a real portal."""
    st.info(DEMO_EXPLANATION, icon="🧪")


# --- formatting -----------------------------------------------------------------------------

STATUS_LABELS = {
    RunStatus.RUNNING: "🔄 running",
    RunStatus.SUCCEEDED: "✅ succeeded",
    RunStatus.PARTIAL: "⚠️ partial",
    RunStatus.FAILED: "❌ failed",
    RunStatus.CANCELLED: "⏹️ cancelled",
    RunStatus.INTERRUPTED: "⚡ interrupted",
}


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def when(value: datetime | None, now: datetime | None = None) -> str:
    """`2026-11-28 06:14 UTC (5 min ago)`; stored times are naive UTC."""
    if value is None:
        return "—"
    value = naive_utc(value)
    now = naive_utc(now) if now else utcnow()
    return f"{value:%Y-%m-%d %H:%M} UTC ({ago((now - value).total_seconds())})"


def ago(seconds: float) -> str:
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def duration(seconds: float | None) -> str:
    """`4.2 s`, `3 min 05 s`, `1 h 02 min`."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def number(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def size(num_bytes: int | None) -> str:
    if num_bytes is None:
        return "unknown"
    value = float(num_bytes)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{num_bytes} bytes"  # pragma: no cover


# --- sync state -----------------------------------------------------------------------------


def already_running_message(run: SyncRun | None) -> str:
    """The "A sync is already running (started … by …)" line for the running run."""
    if run is None:
        return "A sync is already running in this app."
    return str(SyncAlreadyRunning(run.owner, run.started_at, run.id))


def latest_outcome(app: AppResources, status: JobStatus) -> SyncStats | None:
    """The newest finished sync's result: this process's own (richer) or the stored run's."""
    run = runs.latest_run(app.service.db, finished=True)
    result = status.result
    if result is not None and (
        (run is not None and result.run_id == run.id)
        or (result.run_id is None and (run is None or run.started_at <= result.timestamp))
    ):
        return result
    return SyncStats.from_run(run) if run is not None else None


def resume_options(stats: SyncStats) -> SyncOptions:
    """Options for **Resume**: the same mode again (the engine resumes from the checkpoint)."""
    if stats.mode == "chainge":
        return SyncOptions(chainge_only=True, owner=OWNER)
    mode = stats.mode if stats.mode in ("full", "incremental") else "auto"
    return SyncOptions(mode=mode, owner=OWNER)  # type: ignore[arg-type]


def render_progress(progress: SyncProgress | None) -> None:
    """Live numbers of a running sync."""
    if progress is None:
        st.write("⏳ Starting the sync…")
        return
    total = progress.expected_total
    if total:
        st.progress(
            progress.fraction or 0.0,
            text=f"{progress.contacts:,} of {total:,} contacts",
        )
    phase = f" · phase **{progress.phase}**" if progress.phase else ""
    st.markdown(f"🔄 **{progress.mode}** sync, run #{progress.run_id}{phase}")
    row1 = st.columns(5)
    row1[0].metric("Pages fetched", number(progress.pages))
    row1[1].metric("Contacts stored", number(progress.contacts))
    row1[2].metric("Contacts/s", f"{progress.contacts_per_second:,.1f}")
    row1[3].metric("Elapsed", duration(progress.elapsed_seconds))
    eta = progress.eta_seconds
    row1[4].metric("ETA", duration(eta) if eta is not None else "—")
    row2 = st.columns(5)
    row2[0].metric("API calls", number(progress.api_calls))
    row2[1].metric("Retries", number(progress.retries))
    row2[2].metric("429s", number(progress.rate_limited))
    row2[3].metric("Rate-limit headroom", headroom(progress))
    row2[4].metric("Errors", number(progress.errors))
    if progress.message:
        st.caption(progress.message)


def headroom(progress: SyncProgress) -> str:
    """`87 / 100` requests left in HubSpot's current window, when the headers said."""
    return _headroom(progress.rate_limit_remaining, progress.rate_limit_max)


def headroom_of(limit: RateLimitStatus) -> str:
    """The same for the headers a connection test saw."""
    return _headroom(limit.remaining, limit.max)


def _headroom(remaining: int | None, maximum: int | None) -> str:
    if remaining is None:
        return "—"
    return f"{remaining} / {maximum}" if maximum else str(remaining)


def render_outcome(stats: SyncStats) -> None:
    """The end of a sync: "Sync complete" with its statistics, or what went wrong and what next."""
    if stats.ok:
        st.success(
            f"**Sync complete**: {stats.total_synced:,} contacts in {stats.total_pages:,} pages, "
            f"{duration(stats.duration_seconds)} ({stats.mode}).",
            icon="✅",
        )
    elif stats.status == RunStatus.CANCELLED:
        st.warning(f"**Sync cancelled.** {stats.message}", icon="⏹️")
    elif stats.status in (RunStatus.PARTIAL, RunStatus.INTERRUPTED):
        st.warning(f"**Sync {stats.status}.** {stats.message}", icon="⚠️")
    else:
        st.error(f"**Sync failed.** {stats.message}", icon="❌")
    if stats.correlation_id:
        st.caption(
            f"HubSpot correlation id: `{stats.correlation_id}` (quote it to HubSpot support)"
        )
    if stats.hint:
        st.markdown(f"**What to do next:** {stats.hint}")
    cols = st.columns(4)
    cols[0].metric("total_synced", number(stats.total_synced))
    cols[1].metric("total_pages", number(stats.total_pages))
    cols[2].metric("errors", number(stats.errors))
    cols[3].metric("duration", duration(stats.duration_seconds))
    if any(stats.by_segment.values()):
        st.caption("by_segment")
        st.dataframe(
            [{"segment": name, "contacts": count} for name, count in stats.by_segment.items()],
            hide_index=True,
        )
    details = [
        f"run #{stats.run_id}" if stats.run_id else None,
        f"{stats.api_calls:,} API calls",
        f"{stats.retries:,} retries",
        f"{stats.rate_limited:,} 429s",
        f"{stats.rejected:,} rejected" if stats.rejected else None,
        f"{stats.archived:,} archived" if stats.archived else None,
    ]
    st.caption(" · ".join(d for d in details if d))
    for warning in stats.warnings:
        st.caption(f"⚠️ {warning}")


def history_rows(history: list[SyncRun]) -> list[dict[str, Any]]:
    """The Sync history table's rows (newest first)."""
    return [
        {
            "run": run.id,
            "mode": run.mode,
            "status": status_label(run.status),
            "started (UTC)": run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            "duration": duration(run.duration_seconds),
            "contacts": run.contacts,
            "pages": run.pages,
            "API calls": run.api_calls,
            "retries": run.retries,
            "429s": run.rate_limited,
            "errors": run.errors,
        }
        for run in history
    ]


# --- settings page helpers ------------------------------------------------------------------


#: Settings shown on the Settings page: the environment name and how to show its value.
def setting_rows(app: AppResources) -> list[dict[str, str]]:
    """Each setting, its value as shown (token masked, URL without password), and its source."""
    return [
        {"setting": name, "value": value, "from": source}
        for name, value, source in app.settings.describe()
    ]


def rate_limit_text(limit: RateLimitStatus) -> str | None:
    """`97 of 100 requests left per 10 s; 249,000 of 250,000 today`, when HubSpot said."""
    if limit.remaining is None:
        return None
    seconds = (limit.interval_ms or 10_000) / 1000
    text = f"{limit.remaining} of {limit.max} requests left per {seconds:g} s"
    if limit.daily_remaining is not None and limit.daily is not None:
        text += f"; {limit.daily_remaining:,} of {limit.daily:,} today"
    return text
