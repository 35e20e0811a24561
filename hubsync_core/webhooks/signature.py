"""HubSpot's webhook signature, version 3.

`X-HubSpot-Signature-v3` = base64(HMAC-SHA256(client secret, method + URI + raw body +
`X-HubSpot-Request-Timestamp`)). The URI is the one configured in HubSpot (a setting, since
behind a TLS proxy the server sees another URL), with the few characters HubSpot documents
URL-decoded. The body is the raw bytes, before any JSON parsing. Requests whose timestamp is
more than five minutes away from now are refused (replays).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
#: Oldest (and furthest in the future) a request timestamp may be.
MAX_AGE_MS = 5 * 60 * 1000

#: Characters HubSpot decodes in the URI before signing (its v3 validation guide).
_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


class SignatureRejected(Exception):
    """The request is not provably from HubSpot; the message says why (never a secret)."""


def normalize_uri(uri: str) -> str:
    """The URI as HubSpot signs it: the documented percent-escapes decoded."""
    out = uri
    for escaped, plain in _DECODED.items():
        out = out.replace(escaped, plain).replace(escaped.lower(), plain)
    return out


def sign_v3(secret: str, method: str, uri: str, body: bytes, timestamp_ms: int | str) -> str:
    """The v3 signature of a request (what HubSpot, and the sandbox, send)."""
    message = (
        method.upper().encode("utf-8")
        + normalize_uri(uri).encode("utf-8")
        + body
        + str(timestamp_ms).encode("ascii")
    )
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_v3(
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now_ms: int,
) -> None:
    """Raise `SignatureRejected` unless the request carries a fresh, valid v3 signature."""
    if not signature or not timestamp:
        raise SignatureRejected(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header")
    try:
        stamp = int(timestamp.strip())
    except ValueError:
        raise SignatureRejected(f"{TIMESTAMP_HEADER} is not epoch milliseconds") from None
    if abs(now_ms - stamp) > MAX_AGE_MS:
        raise SignatureRejected("request timestamp is more than 5 minutes from now (replay?)")
    expected = sign_v3(secret, method, uri, body, stamp)
    # Constant time: a byte-by-byte compare would leak how much of a forgery was right.
    if not hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8")):
        raise SignatureRejected("signature does not match")
