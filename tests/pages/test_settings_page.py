"""The Settings page: connection test, masked token, sources, database, windows, clearing."""

from __future__ import annotations

from hubsync_core.connection import ConnectionCheck
from hubsync_core.hubspot.errors import AuthenticationError, MissingScopesError
from hubsync_core.store.overview import overview as read_overview

TOKEN = "pat-na1-SECRET-a1b2c3d4e5f6-9z8y"


def test_the_token_is_masked_and_never_echoed(harness) -> None:
    harness.use_token(TOKEN)
    at = harness.app("settings")
    assert not at.exception
    rendered = harness.texts(at)
    assert TOKEN not in rendered
    assert TOKEN[:-4] not in rendered
    assert "••••9z8y" in rendered
    assert "**Token:** `••••9z8y` (from environment)" in [m.value for m in at.markdown]


def test_settings_show_where_each_value_came_from(harness) -> None:
    harness.environ["HUBSYNC_ENGAGED_DAYS"] = "14"
    at = harness.app("settings")
    table = at.dataframe[0].value
    rows = {row["setting"]: (row["value"], row["from"]) for _, row in table.iterrows()}
    assert rows["HUBSYNC_ENGAGED_DAYS"] == ("14", "environment")
    assert rows["HUBSYNC_COLD_DAYS"] == ("90", "default")
    assert rows["HUBSPOT_ACCESS_TOKEN"] == ("(none)", "default")
    assert rows["DATABASE_URL"] == (f"sqlite:///{harness.db.location()}", "environment")


def test_test_connection_shows_portal_time_zone_and_headroom(harness) -> None:
    at = harness.app("settings")
    assert harness.connection_checks == []  # nothing is asked before the click
    at.button(key="test_connection").click().run()
    assert not at.exception
    assert "Connected to portal 24681357" in at.success[0].value
    assert harness.metric(at, "Portal id") == "24681357"
    assert harness.metric(at, "Time zone") == "Europe/Berlin"
    assert harness.metric(at, "Rate-limit headroom") == "97 / 100"
    assert "Rate limit: 97 of 100 requests left per 10 s" in [c.value for c in at.caption]
    assert len(harness.connection_checks) == 1


def test_test_connection_names_a_missing_scope_and_what_to_do(harness) -> None:
    harness.connection = ConnectionCheck(
        ok=False,
        demo=False,
        portal_id="24681357",
        missing_scopes=("crm.lists.read",),
        message="Connected to portal 24681357, but the token is missing the scope(s): crm.lists.read",
        hint=MissingScopesError.hint,
    )
    at = harness.app("settings")
    at.button(key="test_connection").click().run()
    assert "crm.lists.read" in at.error[0].value
    assert "**Missing scopes:** `crm.lists.read`" in [m.value for m in at.markdown]
    assert f"**What to do next:** {MissingScopesError.hint}" in [m.value for m in at.markdown]


def test_test_connection_failure_shows_the_correlation_id_and_never_the_token(harness) -> None:
    harness.use_token(TOKEN)
    harness.connection = ConnectionCheck(
        ok=False,
        demo=False,
        message="The access token is invalid.",
        hint=AuthenticationError.hint,
        correlation_id="abcd-0001",
    )
    at = harness.app("settings")
    at.button(key="test_connection").click().run()
    assert "Connection problem: The access token is invalid." in at.error[0].value
    assert "HubSpot correlation id: `abcd-0001`" in [c.value for c in at.caption]
    assert "Portal id" not in [m.label for m in at.metric]  # no portal was reached
    assert TOKEN not in harness.texts(at)


def test_the_database_location_and_size_are_shown(harness) -> None:
    at = harness.app("settings")
    assert f"**Location:** `{harness.db.location()}`" in [m.value for m in at.markdown]
    assert harness.metric(at, "Size").endswith(("KB", "MB", "bytes"))


def test_segment_windows_are_shown(harness) -> None:
    harness.environ["HUBSYNC_ENGAGED_DAYS"] = "21"
    at = harness.app("settings")
    windows = at.dataframe[1].value
    rules = dict(zip(windows["segment"], windows["rule"], strict=True))
    assert "21 days" in rules["engaged"]
    assert "90 days" in rules["cold"]


def test_clear_all_contacts_needs_the_typed_confirmation(synced_harness) -> None:
    at = synced_harness.app("settings")
    assert at.button(key="clear_contacts").disabled
    at.text_input(key="clear_confirm").input("clear please").run()
    assert at.button(key="clear_contacts").disabled
    assert read_overview(synced_harness.db).total > 0


def test_clear_all_contacts_removes_them_keeps_history_and_says_how_many(synced_harness) -> None:
    before = read_overview(synced_harness.db)
    stored = before.total + before.archived
    at = synced_harness.app("settings")
    at.text_input(key="clear_confirm").input("CLEAR").run()
    at.button(key="clear_contacts").click().run()
    assert not at.exception
    assert f"Removed {stored:,} contacts. Sync history was kept." in at.success[0].value
    after = read_overview(synced_harness.db)
    assert after.total == 0 and after.archived == 0
    assert after.last_run == before.last_run


def test_clearing_is_disabled_while_a_sync_runs(harness) -> None:
    jobs = harness.use_fake_jobs()
    jobs.state = harness.idle_status(running=True, local=True)
    at = harness.app("settings")
    at.text_input(key="clear_confirm").input("CLEAR").run()
    assert at.button(key="clear_contacts").disabled
