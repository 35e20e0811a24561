"""Secure by default: every route but /healthz needs the bearer token; the token's file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hubsync_core.api.server import BindRefused, check_bind, is_loopback
from hubsync_core.api.tokens import load_or_create, resolve_token
from hubsync_core.config import Settings

from .conftest import TOKEN

#: Routes HubSpot calls: authenticated by HubSpot's signature instead of the bearer token
#: (tests/api/test_webhooks_route.py checks their 401s).
SIGNATURE_AUTHENTICATED = {"/api/integrations/hubspot/webhooks"}


def protected_routes(app) -> list[tuple[str, str]]:
    """(method, path with sample values) of every documented route except /healthz and the
    signature-authenticated webhook route."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        if path == "/healthz" or path in SIGNATURE_AUTHENTICATED:
            continue
        path = path.replace("{run_id}", "1").replace("{hubspot_id}", "1")
        found.extend((method.upper(), path) for method in operations)
    return found


def test_every_route_but_healthz_answers_401_json_without_a_token(api):
    routes = protected_routes(api.app)
    assert len(routes) >= 10
    for method, path in routes:
        answer = api.request(method, path, headers={"Authorization": ""})
        assert answer.status_code == 401, (method, path, answer.text)
        body = answer.json()
        assert body["status"] == 401 and "token" in body["message"].lower()
        assert body["hint"]
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_token_gets_401_and_never_sees_the_real_one(api):
    for method, path in protected_routes(api.app):
        answer = api.request(method, path, headers={"Authorization": "Bearer wrong-token"})
        assert answer.status_code == 401, (method, path)
        assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
        assert TOKEN not in answer.text


@pytest.mark.parametrize(
    "header", [f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer"]
)
def test_malformed_or_near_miss_authorization_is_refused(api, header):
    answer = api.get("/api/integrations/hubspot/sync/runs", headers={"Authorization": header})
    assert answer.status_code == 401


def test_healthz_needs_no_token_and_readyz_does(api):
    assert api.get("/healthz", headers={"Authorization": ""}).json() == {"status": "ok"}
    assert api.get("/readyz", headers={"Authorization": ""}).status_code == 401
    assert api.get("/readyz").status_code == 200


def test_openapi_documents_the_bearer_scheme_and_typed_models(api):
    spec = api.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    schemas = spec["components"]["schemas"]
    for name in ("SyncRequest", "SyncStatsBody", "ContactsPage", "ErrorBody", "RunBody"):
        assert name in schemas
    assert api.get("/docs").status_code == 200


def test_a_generated_token_is_random_kept_and_readable_only_by_its_owner(tmp_path: Path):
    first = load_or_create(tmp_path / "data" / "api-token")
    assert first.created and len(first.value.reveal()) >= 32
    assert stat.S_IMODE(os.stat(first.path).st_mode) == 0o600
    again = load_or_create(first.path)
    assert not again.created and again.value == first.value
    other = load_or_create(tmp_path / "other" / "api-token")
    assert other.value != first.value


def test_a_widened_token_file_is_narrowed_again(tmp_path: Path):
    token = load_or_create(tmp_path / "api-token")
    os.chmod(token.path, 0o644)
    assert load_or_create(token.path).value == token.value
    assert stat.S_IMODE(os.stat(token.path).st_mode) == 0o600


def test_a_configured_token_wins_and_no_file_is_written(tmp_path: Path):
    settings = Settings.load(
        {"HUBSYNC_API_TOKEN": TOKEN, "HUBSYNC_DATA_DIR": str(tmp_path)},
        dotenv_path=None,
        secrets_path=None,
    )
    token = resolve_token(settings)
    assert token.configured and token.value.reveal() == TOKEN
    assert not (tmp_path / "api-token").exists()
    assert TOKEN not in repr(settings) and TOKEN not in str(settings.describe())


def test_a_short_configured_token_is_refused_without_echoing_it():
    with pytest.raises(ValueError, match="HUBSYNC_API_TOKEN") as refused:
        Settings.load({"HUBSYNC_API_TOKEN": "short"}, dotenv_path=None, secrets_path=None)
    assert "short" not in str(refused.value)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("192.168.1.10", False),
        ("::", False),
        ("example.com", False),
    ],
)
def test_loopback_detection(host, loopback):
    assert is_loopback(host) is loopback


def test_a_non_loopback_bind_needs_a_configured_token(tmp_path: Path):
    bare = Settings.load({"HUBSYNC_DATA_DIR": str(tmp_path)}, dotenv_path=None, secrets_path=None)
    with pytest.raises(BindRefused, match="HUBSYNC_API_TOKEN"):
        check_bind("0.0.0.0", bare)
    check_bind("127.0.0.1", bare)
    check_bind("0.0.0.0", bare.with_overrides(api_token=resolve_token(bare).value))
