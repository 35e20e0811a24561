"""A spec-shaped mock that never ends: random string ids, random cursors, a next page forever.

Whatever answers at HUBSPOT_BASE_URL, `hubsync sync --max-contacts N` must end with a clear
message and a non-success exit, storing nothing it could not read.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]


_SERIAL = itertools.count(1)


def _contact(numeric: bool, above: int = 0) -> dict[str, object]:
    # Numeric ids: unique, random-looking, above what the request asked to continue after.
    serial = next(_SERIAL)
    contact_id = str(above + serial * 7919) if numeric else secrets.token_urlsafe(8)
    stamp = "2026-11-30T10:00:00.000Z"
    return {
        "id": contact_id,
        "properties": {"email": f"{secrets.token_hex(4)}@example.com", "hs_object_id": contact_id},
        "createdAt": stamp,
        "updatedAt": stamp,
        "archived": False,
    }


class _EndlessHandler(BaseHTTPRequestHandler):
    """HubSpot's contacts/lists response shapes, filled with random data, never a last page."""

    numeric_ids = False
    #: Search answers one last page (so an incremental run reaches its later phases).
    search_ends = False

    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass

    def _answer(self, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _page(self, limit: int, above: int = 0) -> dict[str, object]:
        return {
            "results": [_contact(self.numeric_ids, above) for _ in range(limit)],
            "paging": {"next": {"after": secrets.token_urlsafe(12)}},
        }

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if "account-info" in url.path:
            self._answer({"portalId": 123, "timeZone": "UTC"})
        elif "/properties/" in url.path:
            self._answer({"results": []})
        elif url.path.endswith("/memberships"):
            ids = [{"recordId": str(secrets.randbelow(10**6))} for _ in range(250)]
            self._answer({"results": ids, "paging": {"next": {"after": secrets.token_hex(6)}}})
        else:
            self._answer(self._page(int(query.get("limit", ["100"])[0])))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if "/lists/" in self.path and self.path.endswith("/search"):
            lists = [{"listId": secrets.token_hex(3), "name": "x"} for _ in range(100)]
            self._answer({"lists": lists, "hasMore": True, "offset": secrets.randbelow(10**6)})
            return
        # Ids above the `hs_object_id GT` filter, as HubSpot would; still a next page forever.
        above = [
            int(f["value"])
            for group in body.get("filterGroups", [])
            for f in group.get("filters", [])
            if f.get("propertyName") == "hs_object_id" and f.get("operator") == "GT"
        ]
        page = self._page(int(body.get("limit", 100)), max(above, default=0))
        page["total"] = 10**7
        if self.search_ends:
            page = {"results": page["results"][:10], "total": 10}
        self._answer(page)


@pytest.fixture
def endless_portal() -> Iterator[tuple[str, type[_EndlessHandler]]]:
    handler = type("Handler", (_EndlessHandler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _cli_sync(base_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HUBSPOT_", "HUBSYNC_", "DATABASE_URL"))
    }
    env.update(
        HUBSPOT_ACCESS_TOKEN="endless-mock-token",
        HUBSPOT_BASE_URL=base_url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'hubsync.db'}",
        HUBSYNC_DATA_DIR=str(tmp_path),
        PYTHONPATH=str(ROOT),
    )
    # The bound of the acceptance: the run ends on its own well within 60 s.
    return subprocess.run(
        [sys.executable, "-m", "hubsync_core.cli", "sync", *args],
        cwd=tmp_path,  # no .env of the checkout
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _stored_contacts(tmp_path: Path, archived: bool = False) -> int:
    with sqlite3.connect(tmp_path / "hubsync.db") as conn:
        query = "SELECT COUNT(*) FROM contacts WHERE archived = ?"
        return int(conn.execute(query, (archived,)).fetchone()[0])


def test_trial_sync_against_random_string_ids_fails_clearly_storing_nothing(
    endless_portal: tuple[str, type[_EndlessHandler]], tmp_path: Path
) -> None:
    base_url, _handler = endless_portal
    done = _cli_sync(base_url, tmp_path, "--max-contacts", "300")
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "ids are not numeric" in output
    assert "the contacts list" in output
    assert _stored_contacts(tmp_path) == 0


def test_trial_sync_against_endless_numeric_pages_stops_at_the_cap(
    endless_portal: tuple[str, type[_EndlessHandler]], tmp_path: Path
) -> None:
    base_url, handler = endless_portal
    handler.numeric_ids = True
    done = _cli_sync(base_url, tmp_path, "--max-contacts", "300")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _stored_contacts(tmp_path) == 300
    # A second, incremental trial run: the archived pass, the lists and their memberships
    # never end on this server; the cap bounds each of them.
    handler.search_ends = True
    with sqlite3.connect(tmp_path / "hubsync.db") as conn:  # as if a full sync had completed
        conn.execute(
            "INSERT INTO sync_state (key, value) VALUES ('high_water_mark', '2026-11-30T00:00:00')"
        )
    done = _cli_sync(base_url, tmp_path, "--mode", "incremental", "--max-contacts", "300")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _stored_contacts(tmp_path) == 310
    assert _stored_contacts(tmp_path, archived=True) == 300
    for phase in (r"archived contacts", r"the lists", r"the members of list \w+"):
        assert re.search(phase + r": done, \d+ pages", done.stderr, re.IGNORECASE), phase
