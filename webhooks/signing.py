"""Standard Webhooks signatures: HMAC-SHA256 over `id.timestamp.body`, base64, `v1,` prefixed.

Secrets are `whsec_` and the base64 of 24 random bytes, as the scheme's libraries make
them; during a rotation's grace both secrets sign and the header carries both signatures.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping

PREFIX = "whsec_"
#: Receivers reject a message whose timestamp is further than this from their clock.
TOLERANCE_S = 300


def new_secret() -> str:
    """Return a fresh signing secret."""
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return one `v1,<base64>` signature of a message."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secrets_: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Return the `webhook-*` headers of a message signed with every secret given."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets_),
        "content-type": "application/json",
    }


class InvalidSignature(Exception):
    """A message whose signature or timestamp does not verify."""


def verify(secret: str, headers_: Mapping[str, str], body: bytes, now: int) -> None:
    """Check a received message as a receiver must (raises `InvalidSignature`)."""
    msg_id = headers_.get("webhook-id", "")
    try:
        timestamp = int(headers_.get("webhook-timestamp", ""))
    except ValueError:
        raise InvalidSignature("no webhook-timestamp") from None
    if abs(now - timestamp) > TOLERANCE_S:
        raise InvalidSignature("the timestamp is too old or too new")
    expected = sign(secret, msg_id, timestamp, body)
    given = headers_.get("webhook-signature", "").split()
    if not any(hmac.compare_digest(expected, sig) for sig in given):
        raise InvalidSignature("no signature matches")
