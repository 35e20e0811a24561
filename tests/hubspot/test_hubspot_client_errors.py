"""Errors, retries and secrecy: what the client does when HubSpot or the network misbehaves."""

from __future__ import annotations

import logging

import pytest
import requests
import responses
import urllib3.exceptions
from hubspot_fakes import (
    BASE,
    CONTACTS_URL,
    PATHS,
    SEARCH_URL,
    TOKEN,
    FakeClock,
    contact,
    results_page,
)

from hubsync_core.hubspot import (
    AuthenticationError,
    BadRequestError,
    DailyLimitError,
    HubSpotClient,
    HubSpotError,
    MissingScopesError,
    RateLimitedError,
    SearchCapError,
    TransientError,
)

OK = results_page([contact(1, email="a@x.io")])


def error_body(message: str, correlation_id: str = "cid-123", **extra: object) -> dict:
    return {"status": "error", "message": message, "correlationId": correlation_id, **extra}


def rate_limit_body(policy: str) -> dict:
    return error_body(
        "You have reached your ten_secondly_rolling limit.",
        correlation_id="cid-429",
        errorType="RATE_LIMIT",
        policyName=policy,
    )


# ------------------------------------------------------------------ auth and scopes


def test_401_stops_at_once_with_one_call(client: HubSpotClient, mocked, clock: FakeClock) -> None:
    mocked.add(
        responses.GET,
        CONTACTS_URL,
        status=401,
        json=error_body("Authentication credentials not found.", "cid-401"),
    )

    with pytest.raises(AuthenticationError) as caught:
        client.list_contacts(["email"])

    assert str(caught.value) == "HubSpot rejected the access token (correlationId cid-401)"
    assert caught.value.correlation_id == "cid-401"
    assert caught.value.hint
    assert len(mocked.calls) == 1
    assert clock.sleeps == []
    assert client.counters().errors == 1


def test_403_names_the_missing_scopes(client: HubSpotClient, mocked) -> None:
    body = error_body(
        "This app hasn't been granted all required scopes to make this call.",
        "cid-403",
        category="MISSING_SCOPES",
        context={"missingScopes": ["crm.lists.read"]},
    )
    mocked.add(responses.GET, CONTACTS_URL, status=403, json=body)

    with pytest.raises(MissingScopesError) as caught:
        client.list_contacts(["email"])

    assert caught.value.scopes == ["crm.lists.read"]
    assert "The access token is missing the scope(s): crm.lists.read" in str(caught.value)
    assert caught.value.correlation_id == "cid-403"
    assert len(mocked.calls) == 1


def test_403_without_scopes_in_the_body_still_says_what_was_refused(
    client: HubSpotClient, mocked
) -> None:
    mocked.add(responses.GET, CONTACTS_URL, status=403, body="<html>Forbidden</html>")

    with pytest.raises(MissingScopesError) as caught:
        client.list_contacts(["email"])

    assert caught.value.scopes == []
    assert f"{PATHS.contacts} (403)" in str(caught.value)


@pytest.mark.parametrize("status", [400, 404, 414])
def test_client_errors_raise_bad_request_at_once(client: HubSpotClient, mocked, status) -> None:
    mocked.add(responses.GET, CONTACTS_URL, status=status, json=error_body("nope", "cid-4xx"))

    with pytest.raises(BadRequestError) as caught:
        client.list_contacts(["email"])

    assert caught.value.status == status
    assert caught.value.correlation_id == "cid-4xx"
    assert len(mocked.calls) == 1


def test_search_past_ten_thousand_raises_search_cap_error(client: HubSpotClient, mocked) -> None:
    mocked.add(
        responses.POST,
        SEARCH_URL,
        status=400,
        json=error_body("There was a problem with the request.", "cid-cap"),
    )

    with pytest.raises(SearchCapError) as caught:
        client.search_contacts([], ["email"], limit=200, after="10000")

    assert isinstance(caught.value, BadRequestError)
    assert caught.value.correlation_id == "cid-cap"
    assert "10,000" in str(caught.value)


def test_other_search_400s_stay_bad_requests(client: HubSpotClient, mocked) -> None:
    mocked.add(responses.POST, SEARCH_URL, status=400, json=error_body("Invalid operator"))

    with pytest.raises(BadRequestError) as caught:
        client.search_contacts([], ["email"], after="200")

    assert not isinstance(caught.value, SearchCapError)
    assert "Invalid operator" in str(caught.value)


# ------------------------------------------------------------------ 429


def test_429_with_retry_after_waits_that_long(
    client: HubSpotClient, mocked, clock: FakeClock
) -> None:
    mocked.add(
        responses.GET,
        CONTACTS_URL,
        status=429,
        json=rate_limit_body("TEN_SECONDLY_ROLLING"),
        headers={"Retry-After": "7"},
    )
    mocked.add(responses.GET, CONTACTS_URL, json=OK)

    result = client.list_contacts(["email"])

    assert [c.id for c in result.contacts] == ["1"]
    assert clock.sleeps == [7.0]
    counters = client.counters()
    assert (counters.api_calls, counters.rate_limited, counters.retries) == (2, 1, 1)
    assert counters.errors == 0


def test_429_without_retry_after_backs_off_with_growing_waits(
    client: HubSpotClient, mocked, clock: FakeClock
) -> None:
    for _ in range(4):
        mocked.add(responses.GET, CONTACTS_URL, status=429, json=rate_limit_body("SECONDLY"))
    mocked.add(responses.GET, CONTACTS_URL, json=OK)

    client.list_contacts(["email"])

    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0]  # jitter pinned to its maximum
    assert client.counters().rate_limited == 4


def test_backoff_uses_full_jitter_below_the_cap(make_client, mocked, clock: FakeClock) -> None:
    client = make_client(jitter=lambda: 0.5, backoff_cap=3.0)
    for _ in range(4):
        mocked.add(responses.GET, CONTACTS_URL, status=429, json=rate_limit_body("SECONDLY"))
    mocked.add(responses.GET, CONTACTS_URL, json=OK)

    client.list_contacts(["email"])

    assert clock.sleeps == [0.5, 1.0, 1.5, 1.5]


def test_daily_429_raises_at_once(client: HubSpotClient, mocked, clock: FakeClock) -> None:
    mocked.add(
        responses.GET,
        CONTACTS_URL,
        status=429,
        json=rate_limit_body("DAILY"),
        headers={"Retry-After": "1"},
    )

    with pytest.raises(DailyLimitError) as caught:
        client.list_contacts(["email"])

    assert "daily API limit" in str(caught.value)
    assert caught.value.correlation_id == "cid-429"
    assert len(mocked.calls) == 1
    assert clock.sleeps == []
    assert client.counters().rate_limited == 1


def test_429s_have_their_own_bound_then_rate_limited_error(
    make_client, mocked, clock: FakeClock
) -> None:
    client = make_client(max_retries=1, max_rate_limit_retries=3)
    mocked.add(
        responses.GET,
        CONTACTS_URL,
        status=429,
        json=rate_limit_body("TEN_SECONDLY_ROLLING"),
        headers={"Retry-After": "0.5"},
    )

    with pytest.raises(RateLimitedError) as caught:
        client.list_contacts(["email"])

    assert caught.value.correlation_id == "cid-429"
    assert len(mocked.calls) == 4  # 1 + 3 retries, not limited by max_retries=1
    assert clock.sleeps == [0.5, 0.5, 0.5]
    counters = client.counters()
    assert (counters.rate_limited, counters.retries, counters.errors) == (4, 3, 1)


def test_429s_do_not_consume_the_5xx_retry_budget(make_client, mocked, clock: FakeClock) -> None:
    client = make_client(max_retries=1)
    mocked.add(responses.GET, CONTACTS_URL, status=503)
    for _ in range(3):
        mocked.add(responses.GET, CONTACTS_URL, status=429, json=rate_limit_body("SECONDLY"))
    mocked.add(responses.GET, CONTACTS_URL, json=OK)

    assert [c.id for c in client.list_contacts(["email"]).contacts] == ["1"]
    assert len(mocked.calls) == 5


# ------------------------------------------------------------------ transient failures


def test_5xx_then_success_is_retried(client: HubSpotClient, mocked, clock: FakeClock) -> None:
    mocked.add(responses.GET, CONTACTS_URL, status=500, json=error_body("boom"))
    mocked.add(responses.GET, CONTACTS_URL, status=502, body="<html>Bad gateway</html>")
    mocked.add(responses.GET, CONTACTS_URL, status=503)
    mocked.add(responses.GET, CONTACTS_URL, json=OK)

    result = client.list_contacts(["email"])

    assert [c.id for c in result.contacts] == ["1"]
    assert clock.sleeps == [1.0, 2.0, 4.0]
    counters = client.counters()
    assert (counters.api_calls, counters.retries, counters.errors) == (4, 3, 0)


def test_5xx_exhausted_raises_transient_error_with_status_and_correlation_id(
    make_client, mocked, clock: FakeClock
) -> None:
    client = make_client(max_retries=3)
    mocked.add(responses.GET, CONTACTS_URL, status=504, json=error_body("timeout", "cid-504"))

    with pytest.raises(TransientError) as caught:
        client.list_contacts(["email"])

    assert len(mocked.calls) == 4
    assert caught.value.status == 504
    assert caught.value.correlation_id == "cid-504"
    assert "cid-504" in str(caught.value)
    assert "after 3 retries" in str(caught.value)
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert client.counters().errors == 1


def test_max_retries_zero_fails_on_the_first_5xx(make_client, mocked) -> None:
    client = make_client(max_retries=0)
    mocked.add(responses.GET, CONTACTS_URL, status=500)

    with pytest.raises(TransientError):
        client.list_contacts(["email"])
    assert len(mocked.calls) == 1


def test_backoff_is_capped(make_client, mocked, clock: FakeClock) -> None:
    client = make_client(max_retries=7, backoff_cap=30.0)
    mocked.add(responses.GET, CONTACTS_URL, status=500)

    with pytest.raises(TransientError):
        client.list_contacts(["email"])

    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_503_with_retry_after_waits_that_long(
    client: HubSpotClient, mocked, clock: FakeClock
) -> None:
    mocked.add(responses.GET, CONTACTS_URL, status=503, headers={"Retry-After": "3"})
    mocked.add(responses.GET, CONTACTS_URL, json=OK)

    client.list_contacts(["email"])

    assert clock.sleeps == [3.0]


@pytest.mark.parametrize(
    "failure",
    [
        requests.ConnectTimeout("connect timed out"),
        requests.ReadTimeout("read timed out"),
        requests.ConnectionError("Connection reset by peer"),
        requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead"),
        urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104)),
        ConnectionResetError(104, "Connection reset by peer"),
    ],
    ids=["connect-timeout", "read-timeout", "reset", "chunked", "protocol", "socket"],
)
def test_timeouts_and_resets_are_retried(
    client: HubSpotClient, mocked, clock: FakeClock, failure: Exception
) -> None:
    mocked.add(responses.GET, CONTACTS_URL, body=failure)
    mocked.add(responses.GET, CONTACTS_URL, json=OK)

    result = client.list_contacts(["email"])

    assert [c.id for c in result.contacts] == ["1"]
    assert clock.sleeps == [1.0]
    assert client.counters().retries == 1


def test_exhausted_network_failures_raise_transient_error_not_requests_errors(
    make_client, mocked
) -> None:
    client = make_client(max_retries=2)
    mocked.add(responses.GET, CONTACTS_URL, body=requests.ReadTimeout("read timed out"))

    with pytest.raises(TransientError) as caught:
        client.list_contacts(["email"])

    assert not isinstance(caught.value, requests.RequestException)
    assert caught.value.__suppress_context__ or caught.value.__context__ is None
    assert "ReadTimeout" in str(caught.value)
    assert len(mocked.calls) == 3


def test_unsendable_request_is_a_hubspot_error_without_retry(make_client, mocked) -> None:
    client = make_client()
    mocked.add(responses.GET, CONTACTS_URL, body=requests.exceptions.TooManyRedirects("loop"))

    with pytest.raises(HubSpotError) as caught:
        client.list_contacts(["email"])

    assert not isinstance(caught.value, requests.RequestException)
    assert len(mocked.calls) == 1


@pytest.mark.parametrize(
    "body",
    ['{"results": [{"id": "1", "properties": {"email": "a@', "<html>oops</html>", "", "[]"],
    ids=["truncated", "html", "empty", "not-an-object"],
)
def test_malformed_or_truncated_json_is_retried(
    client: HubSpotClient, mocked, clock: FakeClock, body: str
) -> None:
    mocked.add(responses.GET, CONTACTS_URL, body=body, content_type="application/json")
    mocked.add(responses.GET, CONTACTS_URL, json=OK)

    result = client.list_contacts(["email"])

    assert [c.id for c in result.contacts] == ["1"]
    assert client.counters().retries == 1


def test_malformed_json_exhausted_raises_transient_error(make_client, mocked) -> None:
    client = make_client(max_retries=1)
    mocked.add(responses.GET, CONTACTS_URL, body='{"results": [', status=200)

    with pytest.raises(TransientError, match="unreadable JSON"):
        client.list_contacts(["email"])
    assert len(mocked.calls) == 2


# ------------------------------------------------------------------ secrecy


def test_token_never_appears_in_logs_exceptions_or_reprs(
    make_client, mocked, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(max_retries=1)
    echo = f"Bad token {TOKEN} given"  # a server that echoes the token back
    mocked.add(responses.GET, CONTACTS_URL, status=500, json=error_body(echo))
    mocked.add(responses.GET, CONTACTS_URL, json=OK)
    mocked.add(responses.GET, CONTACTS_URL, status=429, json=rate_limit_body("SECONDLY"))
    mocked.add(responses.GET, CONTACTS_URL, body=requests.ConnectionError(f"reset {TOKEN}"))
    mocked.add(responses.GET, CONTACTS_URL, json=OK)
    failures = [
        (401, error_body(echo)),
        (403, error_body(echo, context={"missingScopes": ["crm.objects.contacts.read"]})),
        (400, error_body(echo)),
        (403, error_body(echo)),
        (429, rate_limit_body("DAILY")),
        (500, error_body(echo)),
        (500, error_body(echo)),
    ]

    errors: list[BaseException] = []
    with caplog.at_level(logging.DEBUG):
        client.list_contacts(["email"])
        client.list_contacts(["email"])
        for status, body in failures:
            mocked.replace(responses.GET, CONTACTS_URL, status=status, json=body)
            with pytest.raises(HubSpotError) as caught:
                client.list_contacts(["email"])
            errors.append(caught.value)

    assert caplog.records, "expected DEBUG and WARNING lines to check"
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    assert any(r.levelno == logging.WARNING for r in caplog.records)
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
    assert TOKEN not in caplog.text
    for error in errors:
        assert TOKEN not in str(error)
        assert TOKEN not in repr(error)
        assert TOKEN not in repr(error.args)
        assert TOKEN not in str(getattr(error, "message", ""))
    assert TOKEN not in repr(client)
    assert TOKEN not in str(client)
    assert repr(client) == f"HubSpotClient(base_url='{BASE}', token='••••beef')"
    assert TOKEN not in repr(vars(client))
    assert TOKEN not in repr(client.counters())


def test_debug_log_names_method_path_status_and_time_without_query(
    client: HubSpotClient, mocked, caplog: pytest.LogCaptureFixture
) -> None:
    mocked.add(responses.GET, CONTACTS_URL, json=OK)

    with caplog.at_level(logging.DEBUG, logger="hubsync.hubspot"):
        client.list_contacts(["email"], after="abc")

    lines = [r.getMessage() for r in caplog.records if r.name == "hubsync.hubspot"]
    assert len(lines) == 1
    assert lines[0].startswith(f"GET {PATHS.contacts} -> 200 in ")
    assert lines[0].endswith(" ms")
    assert "after=" not in lines[0]
