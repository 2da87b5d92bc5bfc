"""`maas ticket verify`: an inspector's offline check, started without the gateway's stack.

It imports only the token code (JOSE, zlib) so that a check answers in well
under a second: the rest of `maas` loads the planner, pandas and numba.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from sales.statuslist import StatusListInvalid, check_revocation, read_status_list
from sales.tokens import TicketClaims, TicketInvalid, verify_ticket

#: A key set or status list larger than this is not one.
MAX_FETCH_BYTES = 16 * 1024 * 1024


def _say(text: str, err: bool = False) -> None:
    (sys.stderr if err else sys.stdout).write(text + "\n")


def _read(source: str) -> bytes:
    """Return a file's bytes, or a URL's body."""
    if source.startswith(("http://", "https://")):
        import urllib.request  # only for a URL: it costs a third of the start-up

        with urllib.request.urlopen(source, timeout=10) as resp:  # noqa: S310  (scheme checked)
            data: bytes = resp.read(MAX_FETCH_BYTES + 1)
        if len(data) > MAX_FETCH_BYTES:
            raise OSError(f"larger than {MAX_FETCH_BYTES} bytes")
        return data
    return Path(source).read_bytes()


def _instant(text: str) -> datetime:
    """Parse `--at`: ISO 8601 with an offset (a time without one means nothing to a ticket)."""
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset, e.g. 2026-12-02T08:00+02:00")
    return at


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of `maas ticket verify` to a parser."""
    parser.add_argument("token", help="the ticket's signed token (what its QR code holds)")
    parser.add_argument("--jwks", help="a JWKS file or URL (default: this gateway's)")
    parser.add_argument(
        "--status-list",
        help="the operator's status list token, a file or URL: a revoked ticket says REVOKED",
    )
    parser.add_argument(
        "--at",
        type=_instant,
        help="check validity at this time (ISO 8601 with offset; default now)",
    )


def _default_jwks() -> str:
    from gateway.settings import load_settings  # only when needed: pydantic is slow to import

    return f"{load_settings().base_url}/.well-known/jwks.json"


def _load_jwks(source: str) -> dict[str, Any]:
    jwks = orjson.loads(_read(source))
    if not isinstance(jwks, dict):
        raise TypeError("not a JWKS object")
    return jwks


def _revoked(claims: TicketClaims, source: str, jwks: dict[str, Any]) -> bool | None:
    """Whether the status list revokes the ticket; None (said why) when it cannot tell."""
    try:
        listed = read_status_list(_read(source).decode().strip(), jwks, datetime.now(UTC))
        check_revocation(claims, listed)
    except (OSError, UnicodeDecodeError, StatusListInvalid) as exc:
        _say(f"cannot check revocation with {source}: {exc}", err=True)
        return None
    except TicketInvalid:
        return True
    return False


def run(args: argparse.Namespace) -> int:
    """Verify a ticket: 0 VALID, 1 INVALID or REVOKED, 2 when the inputs cannot be used."""
    source = args.jwks or _default_jwks()
    try:
        jwks = _load_jwks(source)
    except (OSError, ValueError, TypeError) as exc:
        _say(f"cannot read the key set {source}: {exc}", err=True)
        return 2
    try:
        claims = verify_ticket(args.token, jwks, args.at or datetime.now(UTC))
    except TicketInvalid as exc:
        _say(f"INVALID ({exc.reason}): {exc.detail}")
        return 1
    revoked = None if args.status_list is None else _revoked(claims, args.status_list, jwks)
    if revoked:
        _say(f"REVOKED ticket {claims.ticket_id} of {claims.operator_id}: cancelled or refunded")
        return 1
    if args.status_list is not None and revoked is None:
        return 2
    _say(f"VALID ticket {claims.ticket_id} of {claims.operator_id}")
    _say(f"  product {claims.product_id}, rider {claims.rider_category}")
    _say(f"  valid {claims.valid_from.isoformat()} .. {claims.valid_until.isoformat()}")
    if claims.zones:
        _say(f"  zones {', '.join(claims.zones)}")
    _say("  not revoked" if revoked is False else "  revocation not checked (no --status-list)")
    return 0


def main(argv: list[str]) -> int:
    """Run `maas ticket verify` with its own small parser (the fast path of `maas`)."""
    parser = argparse.ArgumentParser(prog="maas ticket verify", description="verify a ticket")
    add_arguments(parser)
    return run(parser.parse_args(argv))
