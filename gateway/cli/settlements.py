"""`maas settlements close --period YYYY-MM`: close a month's settlement, once, signed."""

from __future__ import annotations

import argparse
import sys

from gateway.cli.db import database
from gateway.settings import Settings
from sales.errors import InvalidReportPeriod, PeriodAlreadyClosed
from sales.settlement import close_period


async def cmd_close(settings: Settings, args: argparse.Namespace) -> int:
    """Close a period: its statement is signed and never changes; later refunds go to the next."""
    async with database(settings) as pool:
        try:
            closed = await close_period(pool, args.period, settings.signing_secret)
        except (InvalidReportPeriod, PeriodAlreadyClosed) as exc:
            sys.stderr.write(exc.detail + "\n")
            return 1
    net = sum(line.net_minor for line in closed.lines)
    sys.stdout.write(
        f"closed {closed.period}: {len(closed.lines)} line(s), net {net} (minor units, all "
        f"currencies), signed with {closed.kid}\n"
    )
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the settlement commands to the `maas` parser."""
    settlements = sub.add_parser("settlements", help="what apps owe operators")
    close = settlements.add_subparsers(dest="action", required=True).add_parser(
        "close", help="close a month: sign its statement, which never changes afterwards"
    )
    close.add_argument("--period", required=True, help="the month, YYYY-MM")
    close.set_defaults(run=cmd_close)
