"""`maas conditions set|show`: an operator's conditions of sale from the command line."""

from __future__ import annotations

import argparse
import sys

from gateway.cli.db import database
from gateway.settings import Settings
from sales.conditions import ConditionSet, get_conditions, set_conditions
from sales.errors import NotFound


def _yes_no(text: str) -> bool:
    if text not in ("yes", "no"):
        raise argparse.ArgumentTypeError("say yes or no")
    return text == "yes"


async def cmd_set(settings: Settings, args: argparse.Namespace) -> int:
    """Change some conditions of one product (or of all an operator's products)."""
    changes = ConditionSet(
        cancellable=args.cancellable,
        refundable=args.refundable,
        refundable_before_min=args.refundable_before_min,
        refund_fee_minor=args.refund_fee_minor,
        validity_min=args.validity_min,
        sold_alone=args.sold_alone,
    )
    async with database(settings) as pool:
        try:
            now = await set_conditions(pool, args.operator, args.product, changes)
        except NotFound as exc:
            sys.stderr.write(exc.detail + "\n")
            return 2
    sys.stdout.write(now.model_dump_json(indent=2, exclude_none=True) + "\n")
    return 0


async def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    """Print an operator's conditions as JSON."""
    async with database(settings) as pool:
        try:
            now = await get_conditions(pool, args.operator)
        except NotFound as exc:
            sys.stderr.write(exc.detail + "\n")
            return 2
    sys.stdout.write(now.model_dump_json(indent=2, exclude_none=True) + "\n")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `maas conditions` to the `maas` parser."""
    actions = sub.add_parser("conditions", help="operators' conditions of sale").add_subparsers(
        dest="action", required=True
    )
    change = actions.add_parser("set", help="change conditions (the ones not given stay)")
    change.add_argument("--operator", required=True)
    change.add_argument("--product", help="one product (default: all the operator's products)")
    change.add_argument("--cancellable", type=_yes_no, metavar="yes|no")
    change.add_argument("--refundable", type=_yes_no, metavar="yes|no")
    change.add_argument(
        "--refundable-before-min", type=int, help="minutes before departure or validity start"
    )
    change.add_argument("--refund-fee-minor", type=int, help="fee in minor units (cents)")
    change.add_argument("--validity-min", type=int, help="validity of a product sold alone")
    change.add_argument("--sold-alone", type=_yes_no, metavar="yes|no")
    change.set_defaults(run=cmd_set)
    show = actions.add_parser("show", help="print an operator's conditions")
    show.add_argument("--operator", required=True)
    show.set_defaults(run=cmd_show)
