"""Settings: sources, defaults, validation naming the setting, and a token that never shows."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from hubsync_core.config import DEFAULT_BASE_URL, Secret, Settings, SettingsError

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"


def load(env: dict[str, str], tmp_path: Path | None = None, **files: str) -> Settings:
    dotenv = secrets = None
    if tmp_path is not None:
        if "dotenv" in files:
            dotenv = tmp_path / ".env"
            dotenv.write_text(files["dotenv"])
        if "secrets" in files:
            secrets = tmp_path / "secrets.toml"
            secrets.write_text(files["secrets"])
    return Settings.load(env, dotenv_path=dotenv, secrets_path=secrets)


def test_defaults_run_the_demo_portal_on_a_sqlite_file_in_the_data_folder(tmp_path):
    settings = load({"HUBSYNC_DATA_DIR": str(tmp_path)})

    assert settings.demo
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.database_url == f"sqlite:///{tmp_path / 'demo.db'}"
    assert (settings.engaged_days, settings.cold_days) == (30, 90)
    assert settings.chainge_list_id is None


def test_a_token_switches_to_the_real_portal_and_its_own_database(tmp_path):
    settings = load({"HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSYNC_DATA_DIR": str(tmp_path)})

    assert not settings.demo
    assert settings.database_url.endswith("hubsync.db")
    assert settings.access_token is not None and settings.access_token.reveal() == TOKEN


def test_the_original_specs_api_key_name_is_accepted():
    settings = load({"HUBSPOT_API_KEY": TOKEN})

    assert settings.access_token == Secret(TOKEN)
    assert settings.sources["HUBSPOT_ACCESS_TOKEN"] == "environment"


def test_environment_wins_over_dotenv_which_wins_over_secrets(tmp_path):
    settings = load(
        {"HUBSYNC_ENGAGED_DAYS": "10"},
        tmp_path,
        dotenv="HUBSYNC_ENGAGED_DAYS=20\nHUBSYNC_COLD_DAYS=120\n",
        secrets='HUBSYNC_COLD_DAYS = "200"\nCHAINGE_LIST_ID = "42"\n',
    )

    assert settings.engaged_days == 10
    assert settings.cold_days == 120
    assert settings.chainge_list_id == "42"
    assert settings.sources["HUBSYNC_ENGAGED_DAYS"] == "environment"
    assert settings.sources["HUBSYNC_COLD_DAYS"] == ".env"
    assert settings.sources["CHAINGE_LIST_ID"] == "secrets.toml"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("HUBSYNC_ENGAGED_DAYS", "thirty", "HUBSYNC_ENGAGED_DAYS: must be a whole number"),
        ("HUBSYNC_COLD_DAYS", "0", "HUBSYNC_COLD_DAYS: must be at least 1"),
        ("HUBSYNC_COLD_DAYS", "10", "HUBSYNC_COLD_DAYS: must not be less than"),
        ("CHAINGE_LIST_ID", "abc", "CHAINGE_LIST_ID: must be a numeric HubSpot list id"),
        ("HUBSPOT_BASE_URL", "api.hubapi.com", "HUBSPOT_BASE_URL: must start with http"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL: must be a sqlite"),
        ("HUBSYNC_READ_TIMEOUT", "-1", "HUBSYNC_READ_TIMEOUT: must be more than 0"),
        ("HUBSYNC_PROPERTIES", "email, bad name!", "HUBSYNC_PROPERTIES: 'bad name!'"),
        ("HUBSYNC_SEARCH_COUNTS_TOWARD_BURST", "maybe", "must be true or false"),
    ],
)
def test_a_bad_value_gives_one_clear_error_naming_the_setting(name, value, expected):
    with pytest.raises(SettingsError, match=expected) as caught:
        load({name: value})
    assert caught.value.name in {name, "HUBSYNC_COLD_DAYS"}


def test_postgres_urls_get_the_psycopg_driver():
    settings = load({"DATABASE_URL": "postgresql://u:p@db/hubsync"})

    assert settings.database_url == "postgresql+psycopg://u:p@db/hubsync"


def test_properties_list_and_all():
    assert load({"HUBSYNC_PROPERTIES": "Industry, lead_score;region"}).properties == (
        "industry",
        "lead_score",
        "region",
    )
    assert load({"HUBSYNC_PROPERTIES": "all"}).all_properties


def test_the_token_never_shows_in_repr_str_or_pickle():
    settings = load({"HUBSPOT_ACCESS_TOKEN": TOKEN})

    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings.access_token)
    assert TOKEN not in f"{settings.access_token}"
    assert settings.access_token is not None
    assert settings.access_token.masked() == "••••5555"
    with pytest.raises(TypeError):
        pickle.dumps(settings.access_token)


def test_short_tokens_are_masked_entirely():
    assert Secret("abc123").masked() == "••••"


def test_describe_lists_every_setting_with_its_source_and_hides_secrets(tmp_path):
    settings = load(
        {
            "HUBSPOT_ACCESS_TOKEN": TOKEN,
            "DATABASE_URL": "postgresql+psycopg://hubsync:s3cret@db/hubsync",
        }
    )

    rows = {name: (value, source) for name, value, source in settings.describe()}

    assert rows["HUBSPOT_ACCESS_TOKEN"] == ("••••5555", "environment")
    assert rows["DATABASE_URL"] == ("postgresql+psycopg://hubsync:***@db/hubsync", "environment")
    assert rows["HUBSYNC_COLD_DAYS"] == ("90", "default")
    documented = Path(__file__).resolve().parents[1].joinpath(".env.example").read_text()
    for name in rows:
        assert f"{name}=" in documented, f"{name} is not documented in .env.example"
