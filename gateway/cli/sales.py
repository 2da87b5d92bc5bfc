"""`maas ticket verify`, `maas signing-keys rotate|seal` and `maas fares import`."""

from __future__ import annotations

import argparse
import asyncio
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from gateway.cli.db import database
from gateway.settings import Settings
from operators.fares.model import FaresValidationError
from sales.fares import store_fares
from sales.signing import rotate_key, seal_keys
from sales.tokens import TicketInvalid, verify_ticket


def _say(text: str, err: bool = False) -> None:
    (sys.stderr if err else sys.stdout).write(text + "\n")


def _load_jwks(source: str) -> dict[str, Any]:
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=10) as resp:  # noqa: S310  (scheme checked)
            data: dict[str, Any] = orjson.loads(resp.read())
            return data
    loaded: dict[str, Any] = orjson.loads(Path(source).read_bytes())
    return loaded


def cmd_ticket_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Verify a ticket offline against a JWKS file or URL; say why it fails."""
    jwks_source = args.jwks or f"http://{settings.host}:{settings.port}/.well-known/jwks.json"
    try:
        jwks = _load_jwks(jwks_source)
    except (OSError, orjson.JSONDecodeError) as exc:
        _say(f"cannot read the key set {jwks_source}: {exc}", err=True)
        return 2
    try:
        claims = verify_ticket(args.token, jwks, datetime.now(UTC))
    except TicketInvalid as exc:
        _say(f"INVALID ({exc.reason}): {exc.detail}")
        return 1
    _say(f"VALID ticket {claims.ticket_id} of {claims.operator_id}")
    _say(f"  product {claims.product_id}, rider {claims.rider_category}")
    _say(f"  valid {claims.valid_from.isoformat()} .. {claims.valid_until.isoformat()}")
    if claims.zones:
        _say(f"  zones {', '.join(claims.zones)}")
    return 0


async def cmd_rotate(settings: Settings, args: argparse.Namespace) -> int:
    """Start a new signing key; the old one stays published until its tickets expire."""
    async with database(settings) as pool, pool.acquire() as conn:
        key = await rotate_key(conn, args.operator, settings.signing_secret)
    _say(f"{args.operator}: new signing key {key.kid}")
    return 0


async def cmd_seal(settings: Settings, args: argparse.Namespace) -> int:
    """Encrypt the signing keys stored in clear with MAAS_SIGNING_KEY_SECRET."""
    secret = settings.signing_secret
    if secret is None:
        _say("set MAAS_SIGNING_KEY_SECRET (16 characters or more) first", err=True)
        return 2
    async with database(settings) as pool, pool.acquire() as conn:
        sealed = await seal_keys(conn, secret)
    _say(f"encrypted {sealed} signing key(s)")
    return 0


async def cmd_fares_import(settings: Settings, args: argparse.Namespace) -> int:
    """Publish an operator's Fares v2 files from a zip."""
    archive = await asyncio.to_thread(Path(args.file).read_bytes)
    async with database(settings) as pool:
        timezone = await pool.fetchval(
            "SELECT timezone FROM operators WHERE id = $1", args.operator
        )
        if timezone is None:
            _say(f"no operator {args.operator!r}", err=True)
            return 2
        try:
            version = await store_fares(pool, args.operator, archive, timezone)
        except FaresValidationError as exc:
            _say(str(exc), err=True)
            for issue in exc.errors:
                _say(f"  {issue.file}:{issue.row} {issue.field}: {issue.message}", err=True)
            return 1
    state = "stored" if version.created else "unchanged"
    _say(f"{args.operator}: fares {state}, {version.product_count} product rows")
    for w in version.warnings:
        _say(f"  warning {w.file}:{w.row} {w.field}: {w.message}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the sales commands to the `maas` parser."""
    ticket = sub.add_parser("ticket", help="tickets").add_subparsers(dest="action", required=True)
    verify = ticket.add_parser("verify", help="verify a ticket offline")
    verify.add_argument("token")
    verify.add_argument("--jwks", help="a JWKS file or URL (default: this gateway's)")
    verify.set_defaults(run=cmd_ticket_verify)
    keys = sub.add_parser("signing-keys", help="operators' ticket-signing keys")
    key_actions = keys.add_subparsers(dest="action", required=True)
    rotate = key_actions.add_parser("rotate", help="start a new key for an operator")
    rotate.add_argument("--operator", required=True)
    rotate.set_defaults(run=cmd_rotate)
    seal = key_actions.add_parser("seal", help="encrypt keys stored in clear")
    seal.set_defaults(run=cmd_seal)
    fares = sub.add_parser("fares", help="operators' fares")
    imp = fares.add_subparsers(dest="action", required=True).add_parser("import")
    imp.add_argument("--operator", required=True)
    imp.add_argument("file", help="a zip with Fares v2 files")
    imp.set_defaults(run=cmd_fares_import)
