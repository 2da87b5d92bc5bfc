"""Status lists as the IETF OAuth Token Status List draft has them: revocation, offline.

A ticket carries `status: {status_list: {idx, uri}}`. The list at `uri` is a
bitstring, one bit per ticket (bit `idx % 8` of byte `idx // 8`, least
significant first; 1 = revoked), compressed with DEFLATE in the zlib format,
base64url-encoded as `lst`, in a JWT of type `statuslist+jwt` signed with the
operator's ticket key and whose `sub` is the list's URI. An inspector's device
fetches it with the key set and checks tickets against it offline.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from joserfc import jwt
from joserfc.jwk import OKPKey

from sales.tokens import ALGORITHM, SigningKey, TicketClaims, TicketInvalid, decode_signed

STATUS_LIST_TYPE = "statuslist+jwt"
MEDIA_TYPE = "application/statuslist+jwt"


class StatusListInvalid(Exception):
    """A status list that cannot be used: not signed by the ticket's operator, stale, or another."""


@dataclass(frozen=True, slots=True)
class StatusList:
    """A verified status list: whose it is, where it lives, and its bits."""

    uri: str
    issuer: str
    bits: bytes
    expires_at: datetime | None

    def is_revoked(self, idx: int) -> bool:
        """Whether the ticket at `idx` is revoked; `StatusListInvalid` past the list's end."""
        if idx >= len(self.bits) * 8:
            raise StatusListInvalid(
                f"index {idx} is past the end of the list ({len(self.bits) * 8}): "
                "the list is older than the ticket, fetch it again"
            )
        return bool(self.bits[idx // 8] >> (idx % 8) & 1)


def pack_bits(revoked: Iterable[int], size_bits: int) -> bytes:
    """Return the bitstring of `size_bits` bits (rounded up to bytes) with `revoked` set."""
    bits = bytearray((size_bits + 7) // 8)
    for idx in revoked:
        bits[idx // 8] |= 1 << (idx % 8)
    return bytes(bits)


def encode_lst(bits: bytes) -> str:
    """Return the `lst` member: the bits DEFLATE-compressed (zlib format), base64url."""
    return base64.urlsafe_b64encode(zlib.compress(bits, 9)).decode().rstrip("=")


def decode_lst(lst: str, max_bytes: int = 16 * 1024 * 1024) -> bytes:
    """Return the bits of an `lst` member, refusing one that inflates past `max_bytes`."""
    compressed = base64.urlsafe_b64decode(lst + "=" * (-len(lst) % 4))
    inflater = zlib.decompressobj()
    bits = inflater.decompress(compressed, max_bytes)
    if inflater.unconsumed_tail:
        raise StatusListInvalid(f"the list inflates past {max_bytes} bytes")
    return bits


def sign_status_list(
    key: SigningKey, uri: str, bits: bytes, issued_at: datetime, valid_s: int, ttl_s: int
) -> str:
    """Return the status list token (JWT) of an operator's bits, signed with its ticket key."""
    private = OKPKey.import_key(key.private_pem, parameters={"kid": key.kid})
    header = {"alg": ALGORITHM, "kid": key.kid, "typ": STATUS_LIST_TYPE}
    iat = int(issued_at.timestamp())
    claims = {
        "sub": uri,
        "iss": key.operator_id,
        "iat": iat,
        "exp": iat + valid_s,
        "ttl": ttl_s,
        "status_list": {"bits": 1, "lst": encode_lst(bits)},
    }
    return jwt.encode(header, claims, private, algorithms=[ALGORITHM])


def read_status_list(token: str, jwks: dict[str, Any], now: datetime) -> StatusList:
    """Verify a status list token against a JWKS; `StatusListInvalid` says why it is unusable."""
    try:
        claims, owner = decode_signed(token, jwks, STATUS_LIST_TYPE)
    except TicketInvalid as exc:
        detail = f"the status list does not verify ({exc.reason}): {exc.detail}"
        raise StatusListInvalid(detail) from exc
    try:
        expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC) if "exp" in claims else None
        status_list = claims["status_list"]
        if status_list.get("bits", 1) != 1:
            raise StatusListInvalid("only 1-bit status lists are understood")
        listed = StatusList(
            str(claims["sub"]), owner, decode_lst(str(status_list["lst"])), expires_at
        )
    except (KeyError, TypeError, ValueError, AttributeError, zlib.error) as exc:
        raise StatusListInvalid(f"not a status list: {exc}") from exc
    if expires_at is not None and now >= expires_at:
        raise StatusListInvalid(f"the status list expired at {expires_at.isoformat()}")
    return listed


def check_revocation(claims: TicketClaims, status_list: StatusList) -> None:
    """Raise `TicketInvalid("revoked")` if the list revokes the ticket.

    `StatusListInvalid` when the list is not the ticket's: another URI, or signed
    by another operator than the ticket's issuer.
    """
    if claims.status is None:
        raise StatusListInvalid("the ticket names no status list (sold before status lists)")
    if claims.status.uri != status_list.uri:
        raise StatusListInvalid(
            f"the ticket is listed in {claims.status.uri}, not in {status_list.uri}"
        )
    if status_list.issuer != claims.operator_id:
        raise StatusListInvalid(
            f"the list is signed with a key of {status_list.issuer!r}, "
            f"not of the ticket's issuer {claims.operator_id!r}"
        )
    if status_list.is_revoked(claims.status.idx):
        raise TicketInvalid(
            "revoked", "the operator has revoked this ticket (cancelled or refunded)"
        )
