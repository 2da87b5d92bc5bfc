"""`maas ticket verify`, `maas signing-keys rotate|seal` and `maas fares import`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta
from pathlib import Path

from gateway.cli import verify as cli_verify
from gateway.cli.db import database
from gateway.settings import Settings
from operators.fares.model import FaresValidationError
from sales.errors import KeyRotationPending
from sales.fares import store_fares
from sales.signing import rotate_key, seal_keys


def _say(text: str, err: bool = False) -> None:
    (sys.stderr if err else sys.stdout).write(text + "\n")


def cmd_ticket_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Verify a ticket offline against a JWKS file or URL (and a status list); say why it fails."""
    return cli_verify.run(args)


async def cmd_rotate(settings: Settings, args: argparse.Namespace) -> int:
    """Publish an operator's next key now; it signs after the lead time, the current one until."""
    lead_h = settings.signing_key_lead_time_h if args.lead_time_h is None else args.lead_time_h
    async with database(settings) as pool, pool.acquire() as conn:
        try:
            rotation = await rotate_key(
                conn, args.operator, settings.signing_secret, timedelta(hours=lead_h)
            )
        except KeyRotationPending as exc:
            _say(exc.detail, err=True)
            return 1
    signs = rotation.signs_from.isoformat(timespec="seconds")
    _say(f"{args.operator}: key {rotation.kid} published now, signs from {signs}")
    if rotation.replaces:
        _say(f"  {rotation.replaces} signs until then, published until its last ticket expires")
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
    if version.warning_total > len(version.warnings):
        _say(f"  and {version.warning_total - len(version.warnings)} more warning(s)")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the sales commands to the `maas` parser."""
    ticket = sub.add_parser("ticket", help="tickets").add_subparsers(dest="action", required=True)
    verify = ticket.add_parser("verify", help="verify a ticket offline")
    cli_verify.add_arguments(verify)
    verify.set_defaults(run=cmd_ticket_verify)
    keys = sub.add_parser("signing-keys", help="operators' ticket-signing keys")
    key_actions = keys.add_subparsers(dest="action", required=True)
    rotate = key_actions.add_parser(
        "rotate", help="publish an operator's next key, signing after a lead time"
    )
    rotate.add_argument("--operator", required=True)
    rotate.add_argument(
        "--lead-time-h",
        type=float,
        help="hours between publishing the key and its first signature "
        "(default MAAS_SIGNING_KEY_LEAD_TIME_H, 24; 0 for a key that must go now)",
    )
    rotate.set_defaults(run=cmd_rotate)
    seal = key_actions.add_parser("seal", help="encrypt keys stored in clear")
    seal.set_defaults(run=cmd_seal)
    fares = sub.add_parser("fares", help="operators' fares")
    imp = fares.add_subparsers(dest="action", required=True).add_parser("import")
    imp.add_argument("--operator", required=True)
    imp.add_argument("file", help="a zip with Fares v2 files")
    imp.set_defaults(run=cmd_fares_import)
