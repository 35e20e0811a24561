"""The shell: navigation, every page rendering, sidebar, demo notice, sign-in gate, secrets."""

from __future__ import annotations

import pytest

from hubsync_core.connection import DEMO_EXPLANATION
from hubsync_core.store import runs

PAGES = ("overview", "sync", "contacts", "insights", "segments", "changes", "settings")
CANARY = "pat-na1-CANARY-7f3e9a1b2c4d5e6f"
AUTH = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "not-a-real-secret",
        "client_id": "hubsync",
        "client_secret": "not-a-real-secret",
        "server_metadata_url": "https://accounts.example.com/.well-known/openid-configuration",
    }
}


def test_navigation_lists_the_seven_pages_in_order(harness) -> None:
    at = harness.app()
    # AppTest keeps the pages st.navigation registered (title and URL path of each).
    registered = list(at._registered_pages.values())
    assert [p["page_name"] for p in registered] == [
        "Overview",
        "Sync",
        "Contacts",
        "Insights",
        "Segments",
        "Changes",
        "Settings",
    ]
    assert [p["url_pathname"] for p in registered] == [
        "",
        *(("changelog" if p == "changes" else p) for p in PAGES[1:]),
    ]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_an_empty_database(harness, page: str) -> None:
    at = harness.app(page)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, f"{page} drew no title"


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_a_synced_database(synced_harness, page: str) -> None:
    at = synced_harness.app(page)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, f"{page} drew no title"


def test_a_new_user_without_a_token_lands_on_overview_with_the_demo_portal(harness) -> None:
    at = harness.app()
    assert at.title[0].value == "🏠 Overview"
    assert DEMO_EXPLANATION in [box.value for box in at.info]
    assert "Demo portal" in " ".join(m.value for m in at.sidebar.markdown)


def test_every_page_says_it_shows_the_demo_portal(harness) -> None:
    for page in PAGES:
        at = harness.app(page)
        assert DEMO_EXPLANATION in [box.value for box in at.info], page


def test_with_a_token_the_sidebar_shows_a_connected_portal_and_no_demo_notice(harness) -> None:
    harness.use_token(CANARY)
    at = harness.app()
    assert "HubSpot portal connected" in " ".join(m.value for m in at.sidebar.markdown)
    assert DEMO_EXPLANATION not in [box.value for box in at.info]


def test_the_sidebar_shows_the_last_sync_time_and_status(harness) -> None:
    harness.finished_run("partial", contacts=200, pages=2, message="HubSpot answered 503")
    at = harness.app()
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "Last sync: " in captions and " UTC (" in captions
    assert "Status: ⚠️ partial" in captions


def test_the_sidebar_follows_a_running_sync_on_every_page(harness) -> None:
    jobs = harness.use_fake_jobs()
    runs.create_run(harness.db, "full", "cli@ops-box:4242", {})
    jobs.state = harness.idle_status(running=True, progress=harness.progress())
    for page in PAGES:
        at = harness.app(page)
        captions = [c.value for c in at.sidebar.caption]
        assert any(c.startswith("🔄 Sync running since ") for c in captions), (page, captions)


def test_the_sidebar_says_never_before_the_first_sync(harness) -> None:
    at = harness.app()
    assert "Last sync: never" in [c.value for c in at.sidebar.caption]


def test_a_bad_setting_stops_the_app_with_one_line_naming_it(harness) -> None:
    harness.environ["HUBSYNC_COLD_DAYS"] = "ninety"
    at = harness.app()
    assert not at.exception
    assert len(at.error) == 1
    assert "HUBSYNC_COLD_DAYS" in at.error[0].value


def test_sign_in_gates_every_page_when_auth_is_configured(harness) -> None:
    for page in ("overview", "sync", "settings"):
        at = harness.app()
        at.secrets = AUTH
        at.user = {"is_logged_in": False}
        if page != "overview":
            at.switch_page(f"pages/{page}.py")
        at.run()
        assert not at.exception
        assert [b.label for b in at.button] == ["Sign in"], page
        assert [t.value for t in at.title] == ["🔄 HubSync"], page
        assert not at.metric and not at.dataframe, page


def test_a_signed_in_user_sees_the_pages_and_can_sign_out(harness) -> None:
    at = harness.app()
    at.secrets = AUTH
    at.user = {"is_logged_in": True, "email": "ops@example.com"}
    at.switch_page("pages/sync.py").run()
    assert not at.exception
    assert at.title[0].value == "🔄 Sync"
    assert "Sign out" in [b.label for b in at.sidebar.button]
    assert "Signed in as ops@example.com" in [c.value for c in at.sidebar.caption]


def test_an_unreadable_secrets_file_stops_the_app_instead_of_dropping_sign_in(
    harness, monkeypatch
) -> None:
    from pages.components import signin

    monkeypatch.setattr(signin, "secrets_file_exists", lambda: True)
    at = harness.app()  # no secrets are readable here, yet "a file exists"
    assert not at.exception
    assert "secrets.toml could not be read" in at.error[0].value
    assert not at.title and not at.metric


def test_without_auth_secrets_there_is_no_gate(harness) -> None:
    at = harness.app()
    assert "Sign in" not in [b.label for b in at.button]
    assert "Sign out" not in [b.label for b in at.sidebar.button]


def test_the_token_never_appears_on_any_page(synced_harness) -> None:
    synced_harness.use_token(CANARY)
    for page in PAGES:
        at = synced_harness.app(page)
        assert not at.exception, page
        assert CANARY not in synced_harness.texts(at), page
        assert CANARY[-4:] in synced_harness.texts(at) or page != "settings"
