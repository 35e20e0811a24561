"""The process-wide objects every page uses: the `HubSyncService` facade and its `SyncJobs`.

Built once per process (`st.cache_resource`), so a sync started on one page, tab or browser is
the same sync everywhere. Tests swap `load_settings` and `resource_factory` (see
tests/pages/conftest.py) and clear `st.cache_resource`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from hubsync_core.config import Settings, SettingsError
from hubsync_core.connection import ConnectionCheck, check_connection
from hubsync_core.freshness import sync_through
from hubsync_core.jobs import SyncJobs
from hubsync_core.service import HubSyncService

#: Who the dashboard's syncs are recorded as (the lock and `sync_runs.owner` say it).
OWNER = "dashboard"


@dataclass(frozen=True)
class AppResources:
    """The process-wide objects every page uses."""

    settings: Settings
    service: HubSyncService
    jobs: SyncJobs
    #: **Test connection** (Settings page): asks HubSpot, reports, never raises.
    check_connection: Callable[[Settings], ConnectionCheck] = check_connection


def build_resources(settings: Settings) -> AppResources:
    """The real service (database + HubSpot client, opened lazily), its background jobs, and
    the worker keeping data fresh while the dashboard runs (the sync schedule, through these
    jobs; webhook and journal events)."""
    service = HubSyncService(settings, owner=OWNER)
    jobs = SyncJobs(service)
    service.freshness_worker(sync_through(jobs, owner="schedule")).start()
    return AppResources(settings=settings, service=service, jobs=jobs)


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
    """The process-wide service and jobs for the current settings.

    Every page calls this first: it reruns through app.py when the page was opened directly.
    """
    ensure_entrypoint_ran()
    current = settings()
    return _cached_resources(current.database_url, current)


def get_service() -> HubSyncService:
    """The process-wide `HubSyncService` (the facade pages call)."""
    return resources().service


def get_jobs() -> SyncJobs:
    """The process-wide background syncs."""
    return resources().jobs
