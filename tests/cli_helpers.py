"""Running `hubsync` in-process for tests (importable as `cli_helpers`): the exit status and
what it printed. Subprocess runs are `sync_helpers.start_cli` and the browser tests'
`app_server.cli`."""

from __future__ import annotations

import pytest

from hubsync_core import cli


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`hubsync ARGV` through `cli.main`: (exit status, stdout, stderr)."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
