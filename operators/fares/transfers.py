"""Transfers between an operator's fare legs: fare_transfer_rules, chosen for the cheapest total.

Dynamic programming over the fare legs: a state is the rule chosen for the leg, the chain of
consecutive transfers under one (from, to) leg group pair (for `transfer_count` and
`duration_limit`, measured from the chain's first leg), and whether the leg's own fare is paid
(an AB transfer, type 2, replaces it when the leg starts a chain of transfers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from operators.fares.matching import FareLeg, LegOption, list_product_rows
from operators.fares.model import FareFeed, FareProduct, FareTransferRule

GroupPair = tuple[str | None, str | None]


@dataclass(frozen=True, slots=True)
class Step:
    """How one fare leg is paid: its rule and product, and the transfer that led into it."""

    option: LegOption
    transfer: FareTransferRule | None = None
    transfer_product: FareProduct | None = None
    charges_leg_fare: bool = True
    removes_previous_leg_fare: bool = False


@dataclass(frozen=True, slots=True)
class _State:
    """A way to have paid up to a leg; `replaceable`: its own fare was paid fresh (no transfer)."""

    option: int
    pair: GroupPair | None
    count: int
    start: int
    replaceable: bool


@dataclass(frozen=True, slots=True)
class _Entry:
    cost: int
    previous: _State | None
    step: Step


def _elapsed_s(first: FareLeg, last: FareLeg, limit_type: int) -> float:
    begin = first.departure if limit_type in (0, 1) else first.arrival
    end = last.arrival if limit_type in (0, 3) else last.departure
    return (end - begin).total_seconds()


def _within_limit(rule: FareTransferRule, first: FareLeg, last: FareLeg) -> bool:
    limit, limit_type = rule.duration_limit_s, rule.duration_limit_type
    return limit is None or limit_type is None or _elapsed_s(first, last, limit_type) <= limit


def _groups_match(rule: FareTransferRule, groups: tuple[str, str], listed: _Listed) -> bool:
    """Match leg groups; an empty group means every group that no rule lists on that side."""
    a, b = groups
    if rule.from_leg_group_id is not None:
        from_ok = rule.from_leg_group_id == a
    else:
        from_ok = a not in listed.from_groups
    if rule.to_leg_group_id is not None:
        return from_ok and rule.to_leg_group_id == b
    return from_ok and b not in listed.to_groups


@dataclass(frozen=True, slots=True)
class _Listed:
    from_groups: frozenset[str | None]
    to_groups: frozenset[str | None]


def _count_rank(rule: FareTransferRule) -> float:
    count = rule.transfer_count
    return float("inf") if count in (None, -1) else float(count)


def _candidates(
    feed: FareFeed, legs: Sequence[FareLeg], position: int, state: _State, groups: tuple[str, str]
) -> list[tuple[FareTransferRule, int, int]]:
    """Return (rule, transfer count, chain start) for rules applying to this transfer."""
    found: list[tuple[FareTransferRule, int, int]] = []
    rules = feed.transfer_rules
    listed = _Listed(
        frozenset(r.from_leg_group_id for r in rules), frozenset(r.to_leg_group_id for r in rules)
    )
    for rule in rules:
        if not _groups_match(rule, groups, listed):
            continue
        pair = (rule.from_leg_group_id, rule.to_leg_group_id)
        count, start = (state.count + 1, state.start) if state.pair == pair else (1, position - 1)
        if _count_rank(rule) < count:
            continue
        if not _within_limit(rule, legs[start], legs[position]):
            continue
        found.append((rule, count, start))
    by_pair: dict[GroupPair, float] = {}
    for rule, _, _ in found:
        pair = (rule.from_leg_group_id, rule.to_leg_group_id)
        by_pair[pair] = min(by_pair.get(pair, float("inf")), _count_rank(rule))
    return [
        c
        for c in found
        if _count_rank(c[0]) == by_pair[(c[0].from_leg_group_id, c[0].to_leg_group_id)]
    ]


def _transfers(
    feed: FareFeed,
    legs: Sequence[FareLeg],
    position: int,
    state: _State,
    previous: LegOption,
    option: LegOption,
    media: str | None,
) -> list[tuple[Step, _State, int]]:
    """Return every transfer step into `option`, with its new state and added cost."""
    groups = (previous.rule.leg_group_id, option.rule.leg_group_id)
    if groups[0] is None or groups[1] is None:
        return []
    out: list[tuple[Step, _State, int]] = []
    category = legs[position].rider_category_id
    for rule, count, start in _candidates(feed, legs, position, state, (groups[0], groups[1])):
        sold, product = _transfer_product(feed, rule, category, media)
        if not sold:
            continue
        amount = 0 if product is None else product.amount_minor
        kind = rule.fare_transfer_type
        removes = kind == 2 and state.replaceable
        cost = amount + (option.product.amount_minor if kind == 1 else 0)
        cost -= previous.product.amount_minor if removes else 0
        step = Step(option, rule, product, kind == 1, removes)
        pair = (rule.from_leg_group_id, rule.to_leg_group_id)
        # The leg reached by a transfer is part of what the reference calls S, the processed
        # cost so far, which a later transfer adds to and never takes back (README).
        out.append((step, _State(state.option, pair, count, start, replaceable=False), cost))
    return out


def _transfer_product(
    feed: FareFeed, rule: FareTransferRule, category: str | None, media: str | None
) -> tuple[bool, FareProduct | None]:
    """Return whether the rider can have the transfer, and its product (None costs 0)."""
    if rule.fare_product_id is None:
        return True, None
    rows = list_product_rows(feed, rule.fare_product_id, category, media)
    return bool(rows), rows[0] if rows else None


def cheapest_steps(
    feed: FareFeed,
    legs: Sequence[FareLeg],
    options: Sequence[Sequence[LegOption]],
    media: str | None,
) -> list[Step]:
    """Return, per fare leg, the step of the cheapest way to pay the whole sequence."""
    layer: dict[_State, _Entry] = {}
    for index, option in enumerate(options[0]):
        _keep(
            layer,
            _State(index, None, 0, 0, True),
            _Entry(option.product.amount_minor, None, Step(option)),
        )
    layers = [layer]
    for position in range(1, len(legs)):
        layers.append(_next_layer(feed, legs, options, position, layers[-1], media))
    return _backtrack(layers)


def _next_layer(
    feed: FareFeed,
    legs: Sequence[FareLeg],
    options: Sequence[Sequence[LegOption]],
    position: int,
    before: dict[_State, _Entry],
    media: str | None,
) -> dict[_State, _Entry]:
    """Extend every state by one leg: a matching transfer rule must apply, else a fresh fare."""
    layer: dict[_State, _Entry] = {}
    for state, entry in before.items():
        previous = options[position - 1][state.option]
        for index, option in enumerate(options[position]):
            moved = _transfers(feed, legs, position, state, previous, option, media)
            for step, new, cost in moved:
                new_state = _State(index, new.pair, new.count, new.start, new.replaceable)
                _keep(layer, new_state, _Entry(entry.cost + cost, state, step))
            if not moved:
                fresh = _State(index, None, 0, position, True)
                paid = entry.cost + option.product.amount_minor
                _keep(layer, fresh, _Entry(paid, state, Step(option)))
    return layer


def _keep(layer: dict[_State, _Entry], state: _State, entry: _Entry) -> None:
    if state not in layer or entry.cost < layer[state].cost:
        layer[state] = entry


def _backtrack(layers: list[dict[_State, _Entry]]) -> list[Step]:
    state: _State | None = min(layers[-1], key=lambda s: layers[-1][s].cost)
    steps: list[Step] = []
    for layer in reversed(layers):
        if state is None:
            break
        entry = layer[state]
        steps.append(entry.step)
        state = entry.previous
    return steps[::-1]
