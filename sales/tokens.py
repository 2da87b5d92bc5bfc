"""Signed tickets: a compact JWS (Ed25519) an inspector verifies offline with the operator's key.

The claims carry what an inspector checks and nothing personal: ticket id,
operator, product, rider category, validity, zones or route, booking reference.
The algorithm is `Ed25519` as RFC 9864 names it (the older `EdDSA` name is
accepted on verification).
"""

from __future__ import annotations

import functools
import io
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from joserfc import errors, jwt
from joserfc.jwk import KeySet, OKPKey

ALGORITHM = "Ed25519"
_ACCEPTED = ["Ed25519", "EdDSA"]
TICKET_TYPE = "maas-ticket+jwt"
#: The JWK member that names the operator a key belongs to.
OWNER = "iss"


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An operator's Ed25519 key pair; the private half never leaves the gateway."""

    kid: str
    operator_id: str
    private_pem: bytes
    public_jwk: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StatusRef:
    """A ticket's entry in a status list (IETF OAuth Token Status List): index and list URI."""

    idx: int
    uri: str

    @classmethod
    def from_claim(cls, claim: object) -> StatusRef | None:
        """Read the `status` claim; None when the ticket has none (sold before status lists)."""
        if claim is None:
            return None
        ref = claim.get("status_list") if isinstance(claim, dict) else None
        if not isinstance(ref, dict):
            raise TypeError("the status claim has no status_list")
        idx, uri = ref.get("idx"), ref.get("uri")
        if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0 or not isinstance(uri, str):
            raise ValueError("the status claim needs an index and a URI")
        return cls(idx, uri)


@dataclass(frozen=True, slots=True)
class TicketClaims:
    """What a ticket says; times are aware datetimes."""

    ticket_id: str
    operator_id: str
    product_id: str | None
    rider_category: str | None
    valid_from: datetime
    valid_until: datetime
    booking_ref: str
    zones: tuple[str, ...] = ()
    route_id: str | None = None
    #: Where the ticket's revocation is published: its index in its operator's status list.
    status: StatusRef | None = None

    def to_jwt(self, issued_at: datetime) -> dict[str, Any]:
        """Return the JWT claims set (short names keep the QR code small)."""
        claims: dict[str, Any] = {
            "jti": self.ticket_id,
            "iss": self.operator_id,
            "iat": int(issued_at.timestamp()),
            "nbf": int(self.valid_from.timestamp()),
            "exp": int(self.valid_until.timestamp()),
            "bkg": self.booking_ref,
        }
        optional = {"prd": self.product_id, "cat": self.rider_category, "rte": self.route_id}
        claims.update({k: v for k, v in optional.items() if v is not None})
        if self.zones:
            claims["zon"] = list(self.zones)
        if self.status is not None:
            claims["status"] = {"status_list": {"idx": self.status.idx, "uri": self.status.uri}}
        return claims

    @classmethod
    def from_jwt(cls, claims: dict[str, Any]) -> TicketClaims:
        """Read the claims of a verified token."""
        return cls(
            ticket_id=str(claims["jti"]),
            operator_id=str(claims["iss"]),
            product_id=claims.get("prd"),
            rider_category=claims.get("cat"),
            valid_from=datetime.fromtimestamp(int(claims["nbf"]), UTC),
            valid_until=datetime.fromtimestamp(int(claims["exp"]), UTC),
            booking_ref=str(claims["bkg"]),
            zones=tuple(claims.get("zon", ())),
            route_id=claims.get("rte"),
            status=StatusRef.from_claim(claims.get("status")),
        )


class TicketInvalid(Exception):
    """A ticket failed verification; `reason` is a stable word for the inspector's app."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def new_signing_key(operator_id: str) -> SigningKey:
    """Generate a fresh Ed25519 key for an operator."""
    kid = f"{operator_id}-{secrets.token_hex(4)}"
    key = OKPKey.generate_key("Ed25519", parameters={"kid": kid, "use": "sig", "alg": ALGORITHM})
    # `iss` says whose key it is: a ticket verifies only with a key of its own issuer.
    public_jwk = key.as_dict(private=False) | {OWNER: operator_id}
    return SigningKey(kid, operator_id, key.as_pem(private=True), public_jwk)


class SigningKeyLocked(Exception):
    """A stored private key is encrypted and the secret is missing or wrong."""


_SEALED = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"


def is_sealed(stored_pem: bytes) -> bool:
    """Whether a stored private key is encrypted."""
    return stored_pem.lstrip().startswith(_SEALED)


def seal_private_pem(private_pem: bytes, secret: bytes) -> bytes:
    """Return the private key as encrypted PKCS#8 PEM (the best encryption available)."""
    key = serialization.load_pem_private_key(private_pem, password=None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(secret),
    )


def open_private_pem(stored_pem: bytes, secret: bytes | None) -> bytes:
    """Return a stored private key as plain PEM, decrypting it when it is sealed."""
    if not is_sealed(stored_pem):
        return stored_pem
    if secret is None:
        raise SigningKeyLocked("the signing key is encrypted: set MAAS_SIGNING_KEY_SECRET")
    try:
        key = serialization.load_pem_private_key(stored_pem, password=secret)
    except ValueError as exc:
        raise SigningKeyLocked("MAAS_SIGNING_KEY_SECRET does not open the signing key") from exc
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@functools.lru_cache(maxsize=1024)
def private_key(kid: str, private_pem: bytes) -> OKPKey:
    """Return a private key parsed from its PEM, once per key rather than once per signature."""
    return OKPKey.import_key(private_pem, parameters={"kid": kid})


def sign_ticket(claims: TicketClaims, key: SigningKey, issued_at: datetime) -> str:
    """Return the compact JWS of a ticket; a key signs only its own operator's tickets."""
    if key.operator_id != claims.operator_id:
        raise ValueError(f"key {key.kid} of {key.operator_id} cannot sign {claims.operator_id}'s")
    private = private_key(key.kid, key.private_pem)
    header = {"alg": ALGORITHM, "kid": key.kid, "typ": TICKET_TYPE}
    return jwt.encode(header, claims.to_jwt(issued_at), private, algorithms=[ALGORITHM])


def decode_signed(token: str, jwks: dict[str, Any], typ: str) -> tuple[dict[str, Any], str]:
    """Verify a JWS of type `typ` against a JWKS; return its claims and its key's owner."""
    try:
        key_set = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        decoded = jwt.decode(token.strip(), key_set, algorithms=_ACCEPTED)
    except (errors.InvalidKeyIdError, errors.MissingKeyError) as exc:
        raise TicketInvalid("unknown_key", "no published key has this token's kid") from exc
    except errors.BadSignatureError as exc:
        raise TicketInvalid("bad_signature", "the signature does not match the token") from exc
    except (errors.JoseError, ValueError, KeyError, TypeError) as exc:
        raise TicketInvalid("malformed", f"not a signed token: {exc}") from exc
    if decoded.header.get("typ") != typ:
        raise TicketInvalid("malformed", f"the token is not of type {typ}")
    kid = decoded.header.get("kid")
    owners = [
        k.get(OWNER) for k in jwks.get("keys", ()) if isinstance(k, dict) and k.get("kid") == kid
    ]
    return decoded.claims, str(owners[0]) if len(owners) == 1 and owners[0] else ""


def verify_ticket(token: str, jwks: dict[str, Any], now: datetime) -> TicketClaims:
    """Verify a ticket offline against a JWKS; raise `TicketInvalid` saying why it fails.

    The key must belong to the ticket's issuer (the JWKS entry's `iss`), so one
    operator's key cannot make tickets that verify as another operator's.
    """
    raw, owner = decode_signed(token, jwks, TICKET_TYPE)
    try:
        claims = TicketClaims.from_jwt(raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise TicketInvalid("malformed", f"bad claim {exc}") from exc
    if owner != claims.operator_id:
        whose = f"of {owner!r}" if owner else "that names no owner"
        raise TicketInvalid(
            "wrong_issuer", f"issued as {claims.operator_id!r} but signed with a key {whose}"
        )
    if now >= claims.valid_until:
        raise TicketInvalid("expired", f"valid until {claims.valid_until.isoformat()}")
    if now < claims.valid_from:
        raise TicketInvalid("not_yet_valid", f"valid from {claims.valid_from.isoformat()}")
    return claims


def qr_png(token: str, scale: int = 4) -> bytes:
    """Return the ticket as a QR code PNG."""
    import segno  # imported here: an inspector's `maas ticket verify` draws no QR code

    buffer = io.BytesIO()
    segno.make(token, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()


def qr_svg(token: str) -> str:
    """Return the ticket as a QR code SVG."""
    import segno

    buffer = io.BytesIO()
    segno.make(token, error="m").save(buffer, kind="svg", scale=4, border=2, xmldecl=False)
    return buffer.getvalue().decode()
