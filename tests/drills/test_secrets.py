"""Secrets (issue 8 item 5): a canary token is absent from logs at every level, exceptions and
their tracebacks, sync-run rows, the whole database, CSV exports and the CLI's output, in
success and in every failure mode; `repr` of settings and client mask it."""

from __future__ import annotations

import io
import json
import logging
import pickle
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import responses
from sync_helpers import (
    LIST_PATH,
    Harness,
    HarnessFactory,
    cli_env,
    dump_database_text,
    fast_options,
    finish_cli,
    start_cli,
)

from hubsync_core.config import Secret, Settings, SettingsError
from hubsync_core.hubspot import endpoints
from hubsync_core.hubspot.client import HubSpotClient
from hubsync_core.hubspot.errors import HubSpotError
from hubsync_core.sandbox.config import SCOPE_LISTS
from hubsync_core.service import HubSyncService
from hubsync_core.store.export import EXPORT_COLUMNS, write_csv
from hubsync_core.sync.model import SyncFailed

CANARY = "pat-na1-canary-0000-1111-2222-333344445555"
#: Pieces that would betray a partial leak (the mask shows only the last four characters).
FRAGMENTS = (CANARY, "canary-0000-1111", "1111-2222-3333", "333344445555", "pat-na1-canary")


def assert_no_canary(texts: Iterable[str], where: str) -> None:
    for n, text in enumerate(texts):
        for fragment in FRAGMENTS:
            assert fragment not in text, f"{where} (text {n}) contains {fragment!r}"


def exception_texts(exc: BaseException) -> list[str]:
    return [
        str(exc),
        repr(exc),
        repr(vars(exc)),
        "".join(traceback.format_exception(exc)),
    ]


def log_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    texts = [caplog.text]
    for record in caplog.records:
        texts.append(formatter.format(record))  # includes any traceback
        texts.append(repr(record.args))
    return texts


@pytest.fixture
def canary(make_sqlite_harness: HarnessFactory, caplog: pytest.LogCaptureFixture) -> Harness:
    caplog.set_level(logging.DEBUG)
    return make_sqlite_harness(400, seed=951, token=CANARY)


def _evidence(h: Harness, caplog: pytest.LogCaptureFixture, stats: Any) -> list[str]:
    texts = [repr(stats), json.dumps(stats.to_dict(), default=str)]
    try:
        stats.raise_for_status()
    except SyncFailed as exc:
        texts += exception_texts(exc)
    texts += log_texts(caplog)
    texts.append(dump_database_text(h.db))  # sync_runs rows included
    out = io.StringIO()
    write_csv(h.db, None, out, columns=[*EXPORT_COLUMNS, "properties"])
    texts.append(out.getvalue())
    texts += [repr(h.settings), str(h.settings), repr(h.client), str(h.settings.access_token)]
    return texts


FAILURES: dict[str, Callable[[Harness], None]] = {
    "success": lambda h: None,
    "401 token revoked": lambda h: h.sandbox.revoke_token(),
    "401 mid-run": lambda h: h.sandbox.fail_next("401", path=LIST_PATH),
    "429 daily": lambda h: h.sandbox.fail_next("daily429", path=LIST_PATH),
    "5xx exhausted": lambda h: h.sandbox.fail_next("503", count=10, path=LIST_PATH),
    "truncated JSON exhausted": lambda h: h.sandbox.fail_next(
        "truncated", count=10, path=LIST_PATH
    ),
    "network down": lambda h: h.sandbox.stop(),
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_canary_token_leaks_nowhere(
    canary: Harness, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    h = canary
    service = HubSyncService(h.settings, database=h.db, client=h.client)
    assert service.sync_all_contacts(mode="full").ok  # something to export and to sync again
    FAILURES[failure](h)

    stats = service.sync_all_contacts(mode="full")

    assert stats.ok == (failure == "success"), stats.message
    assert any(r.levelno == logging.DEBUG for r in caplog.records)  # DEBUG was captured
    assert_no_canary(_evidence(h, caplog, stats), failure)


def test_missing_scope_failure_leaks_no_token(
    make_sqlite_harness: HarnessFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    h = make_sqlite_harness(100, seed=952, token=CANARY, scopes=(SCOPE_LISTS,))

    stats = h.run("full")

    assert stats.status == "failed" and "crm.objects.contacts.read" in stats.message
    assert_no_canary(_evidence(h, caplog, stats), "403")


def test_client_errors_and_reprs_mask_the_token(canary: Harness) -> None:
    h = canary
    h.sandbox.revoke_token()
    with pytest.raises(HubSpotError) as caught:
        h.client.list_contacts(["email"])
    assert_no_canary(exception_texts(caught.value), "client exception")
    assert repr(h.client).endswith("token='••••5555')")
    assert "access_token=Secret('••••5555')" in repr(h.settings)
    with pytest.raises(TypeError):
        pickle.dumps(h.settings.access_token)


def test_a_server_echoing_the_token_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    base = "https://hubspot.test"
    client = HubSpotClient(Secret(CANARY), base, max_retries=1, **fast_options())
    with responses.RequestsMock() as mock:
        mock.add(
            responses.GET,
            f"{base}{endpoints.DEFAULT.contacts}",
            status=400,
            json={"message": f"Bad token Bearer {CANARY}", "correlationId": "c-1"},
        )
        mock.add(
            responses.POST,
            f"{base}{endpoints.DEFAULT.lists_search}",
            status=403,
            json={"message": f"no scope for {CANARY}", "category": "MISSING_SCOPES"},
        )
        for call in (lambda: client.list_contacts(["email"]), lambda: client.search_lists()):
            with pytest.raises(HubSpotError) as caught:
                call()
            assert "••••5555" in caught.value.message
            assert_no_canary(exception_texts(caught.value), "echoed token")
    assert_no_canary(log_texts(caplog), "echoed token logs")


@pytest.mark.parametrize(
    "environ",
    [
        {"HUBSPOT_ACCESS_TOKEN": CANARY + " trailing words"},
        {"HUBSPOT_API_KEY": CANARY, "HUBSYNC_MAX_RETRIES": "lots"},
        {"HUBSPOT_ACCESS_TOKEN": CANARY, "HUBSPOT_BASE_URL": "ftp://example.com"},
        {"HUBSPOT_ACCESS_TOKEN": CANARY, "DATABASE_URL": "mysql://x"},
    ],
)
def test_settings_errors_never_show_the_token(environ: dict[str, str]) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load(environ, dotenv_path=None, secrets_path=None)
    assert_no_canary(exception_texts(caught.value), "settings error")


def test_cli_output_never_shows_the_token(
    make_sqlite_harness: HarnessFactory, tmp_path: Path
) -> None:
    """Every command's stdout and stderr at DEBUG, in success and failure, in subprocesses
    started together (each scenario has its own sandbox and database folder)."""
    make_harness = make_sqlite_harness
    ok = make_harness(300, seed=953, token=CANARY)
    revoked = make_harness(50, seed=954, token=CANARY)
    revoked.sandbox.revoke_token()
    down = make_harness(50, seed=955, token=CANARY)
    down.sandbox.stop()

    def env(h: Harness, name: str, **extra: str) -> dict[str, str]:
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        url = h.db.url if h is ok else f"sqlite:///{folder / 'hubsync.db'}"
        values = cli_env(h.sandbox, url, str(folder / "data"), HUBSYNC_LOG_LEVEL="DEBUG", **extra)
        values["HUBSPOT_BASE_URL"] = h.settings.base_url  # also for the stopped sandbox
        return values

    def wave(commands: list[tuple[list[str], dict[str, str], int]]) -> list[str]:
        started = [
            (start_cli(args, environ, str(tmp_path), f"cli-{n}-{args[0]}"), args, code)
            for n, (args, environ, code) in enumerate(commands)
        ]
        texts = []
        for proc, args, expected in started:
            code, out, err = finish_cli(proc)
            assert code == expected, (args, code, err[-1500:])
            texts += [out, err]
        return texts

    outputs = wave(
        [
            (["sync", "--json"], env(ok, "ok"), 0),
            (["sync"], env(revoked, "revoked"), 1),
            (["sync"], env(down, "down", HUBSYNC_MAX_RETRIES="0"), 1),
            (["sync"], env(ok, "bad-setting", HUBSYNC_MAX_RETRIES="lots"), 2),
        ]
    )
    outputs += wave(
        [
            (["stats", "--json"], env(ok, "ok"), 0),
            (["contacts", "--format", "csv"], env(ok, "ok"), 0),
            (["check"], env(ok, "ok"), 0),
        ]
    )

    assert "HubSpot rejected the access token" in "".join(outputs)
    assert "DEBUG" in outputs[1]  # the successful sync logged at DEBUG on stderr
    assert_no_canary(outputs, "CLI output")
    assert_no_canary([dump_database_text(ok.db)], "database after the CLI")
