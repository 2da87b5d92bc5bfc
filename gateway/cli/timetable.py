"""`maas operators create`, `maas import-gtfs` (its own module) and `maas demo`."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from gateway import operator_store
from gateway.cli import import_gtfs
from gateway.cli.db import database
from gateway.demo.kuopio import KUOPIO_TIMEZONE
from gateway.demo.run import demo_feed_path, import_demo, live_feed
from gateway.settings import Settings
from sales.errors import OperatorInvalid
from sales.signing import ensure_signing_key


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")


async def cmd_operators_create(settings: Settings, args: argparse.Namespace) -> int:
    """Create an operator (one with its own back-end: its TOMP URL and token)."""
    token = _read_token(args.tomp_token_file)
    try:
        operator_store.check_sales_channel(args.sales_channel, args.tomp_url, token)
    except OperatorInvalid as exc:
        sys.stderr.write(f"maas operators create: {exc.detail}\n")
        return 2
    async with database(settings) as pool:
        created = await operator_store.create_operator(
            pool,
            args.id,
            args.name,
            business_id=args.business_id,
            contact_email=args.contact_email,
            timezone=args.timezone,
            sales_channel=args.sales_channel,
            terms_url=args.terms_url,
            tomp_url=args.tomp_url,
            tomp_token=token,
            secret=settings.signing_secret,
        )
        if created is not None:
            await ensure_signing_key(pool, created.id, settings.signing_secret)
    if created is None:
        sys.stderr.write(f"operator {args.id!r} already exists\n")
        return 1
    _say(f"created operator {created.id} ({created.name})")
    return 0


def _read_token(path: str | None) -> str | None:
    """Read a back-end token from a file or stdin (`-`): never from the command line (ps)."""
    if path is None:
        return None
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    return text.strip() or None


async def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    """Create the five Kuopio operators and import their feeds (idempotent)."""
    feed = Path(args.feed) if args.feed else demo_feed_path()
    if not feed.is_file():
        sys.stderr.write(f"demo feed not found: {feed} (set MAAS_DEMO_FEED)\n")
        return 1
    if args.live:
        today = dt.datetime.now(ZoneInfo(KUOPIO_TIMEZONE)).date()
        feed = await asyncio.to_thread(live_feed, feed, settings.data_dir / "demo", today)
    async with database(settings) as pool:
        result = await import_demo(pool, feed, settings.signing_secret)
    for operator_id, stored in result.items():
        _say(f"{operator_id}: " + (f"version {stored.version_id}" if stored else "unchanged"))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the timetable commands to the `maas` parser."""
    ops = sub.add_parser("operators", help="manage operators").add_subparsers(
        dest="action", required=True
    )
    create = ops.add_parser("create", help="create an operator")
    create.add_argument("--id", required=True, help="a slug, e.g. kuopion-liikenne")
    create.add_argument("--name", required=True)
    create.add_argument("--business-id")
    create.add_argument("--contact-email")
    create.add_argument("--timezone", default="Europe/Helsinki")
    create.add_argument("--sales-channel", default="hosted", choices=("hosted", "tomp"))
    create.add_argument("--terms-url")
    create.add_argument(
        "--tomp-url", help="the operator's TOMP-API back-end (--sales-channel tomp)"
    )
    create.add_argument(
        "--tomp-token-file",
        help="file holding the back-end's bearer token ('-': stdin); stored encrypted",
    )
    create.set_defaults(run=cmd_operators_create)
    import_gtfs.add_command(sub)
    demo = sub.add_parser("demo", help="load the Kuopio demo (five operators)")
    demo.add_argument("--feed", help="path of kuopio.zip (default: MAAS_DEMO_FEED or ../shared)")
    demo.add_argument(
        "--live", action="store_true", help="replay it as if it ran now (as serve --demo does)"
    )
    demo.set_defaults(run=cmd_demo)
