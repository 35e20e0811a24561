"""The long drills' tally, printed at the end of the session (runs, faults injected, contacts
checked, mismatches). Set `HUBSYNC_DRILL_REPORT` to a file path to also get it as JSON. The
drills build their syncs with `make_harness` / `make_sqlite_harness` from tests/conftest.py."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class DrillTally:
    """What the drills did, summed over the session."""

    drills: int = 0
    runs: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    contacts_checked: int = 0
    mismatches: int = 0
    kills: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "drills": self.drills,
            "runs": self.runs,
            "statuses": dict(self.statuses),
            "faults_injected": dict(self.faults),
            "faults_total": sum(self.faults.values()),
            "requests": self.requests,
            "contacts_checked": self.contacts_checked,
            "mismatches": self.mismatches,
            "kills": self.kills,
        }


_TALLY = DrillTally()


@pytest.fixture(scope="session")
def tally() -> DrillTally:
    return _TALLY


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _TALLY.drills:
        return
    data = _TALLY.as_dict()
    terminalreporter.section("reliability drills")
    for key, value in data.items():
        terminalreporter.write_line(f"{key}: {value}")
    path = os.environ.get("HUBSYNC_DRILL_REPORT")
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
