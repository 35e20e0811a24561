"""`hubsync api --help`, `hubsync api token`, and the refused non-loopback bind."""

from __future__ import annotations

import pytest

from hubsync_core import cli


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUBSYNC_API_TOKEN", raising=False)
    monkeypatch.setenv("HUBSYNC_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_api_has_help(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["api", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "--host" in out and "--port" in out and "token" in out


def test_api_token_says_where_the_token_is_and_prints_it_only_on_request(data_dir, capsys):
    assert cli.main(["api", "token"]) == 0
    told = capsys.readouterr().out
    token = (data_dir / "api-token").read_text().strip()
    assert str(data_dir / "api-token") in told and token not in told
    assert cli.main(["api", "token", "--show"]) == 0
    assert capsys.readouterr().out.strip() == token


def test_a_configured_token_is_named_not_shown(data_dir, capsys, monkeypatch):
    monkeypatch.setenv("HUBSYNC_API_TOKEN", "configured-token-0123456789")
    assert cli.main(["api", "token"]) == 0
    out = capsys.readouterr().out
    assert "HUBSYNC_API_TOKEN" in out and "configured-token" not in out
    assert not (data_dir / "api-token").exists()


def test_serving_all_interfaces_without_a_configured_token_is_refused(data_dir, capsys):
    assert cli.main(["api", "--host", "0.0.0.0", "--port", "0"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "HUBSYNC_API_TOKEN" in err and "0.0.0.0" in err
