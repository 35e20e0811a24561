"""`hubsync check`: the portal, the token's scopes granted versus needed, the daily budget."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hubsync_core import cli
from hubsync_core.sandbox import Sandbox, SandboxConfig
from hubsync_core.sandbox.config import SCOPE_CONTACTS


@pytest.fixture
def start_portal(monkeypatch, tmp_path) -> Iterator:
    started: list[Sandbox] = []

    def start(**config) -> Sandbox:
        sandbox = Sandbox(SandboxConfig(contacts=20, seed=3, rate_limit=0, **config))
        sandbox.start()
        started.append(sandbox)
        monkeypatch.chdir(tmp_path)  # no stray .env
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", sandbox.token)
        monkeypatch.setenv("HUBSPOT_BASE_URL", sandbox.base_url)
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'check.db'}")
        monkeypatch.setenv("HUBSYNC_MAX_RETRIES", "0")
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()


def test_check_reports_portal_scopes_and_the_daily_budget(start_portal, capsys) -> None:
    sandbox = start_portal(daily_limit=5_000)
    code = cli.main(["check"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"portal {sandbox.config.portal_id}" in out
    assert "Token: service key or private app" in out
    assert "crm.objects.contacts.read" in out and "granted" in out
    # Write scopes are only for bulk operations: shown as missing, not a failure.
    assert "crm.objects.contacts.write" in out and "bulk updates only" in out
    left = int(out.split("Daily API budget: ")[1].split(" of ")[0].replace(",", ""))
    assert 0 < left < 5_000
    assert "of 5,000 calls left today" in out


def test_check_fails_naming_a_missing_read_scope(start_portal, capsys) -> None:
    start_portal(scopes=(SCOPE_CONTACTS,))
    code = cli.main(["check"])
    captured = capsys.readouterr()
    assert code != 0
    assert "crm.lists.read" in captured.err
