"""Money in fares: decimal amounts become exact integer minor units of their currency."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from operators.fares.money import (
    CURRENCY_EXPONENTS,
    AmountError,
    format_minor,
    parse_amount_minor,
)


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("2.00", "EUR", 200),
        ("2.5", "EUR", 250),
        ("2", "EUR", 200),
        ("-1.50", "EUR", -150),
        ("0.00", "CAD", 0),
        ("500", "JPY", 500),
        ("1.234", "KWD", 1234),
        ("0.1", "EUR", 10),
    ],
)
def test_amounts_convert_exactly(text: str, currency: str, minor: int) -> None:
    assert parse_amount_minor(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"),
    [("2.005", "EUR"), ("1.5", "JPY"), ("abc", "EUR"), ("1e2", "EUR"), ("NaN", "EUR")],
)
def test_inexact_or_malformed_amounts_are_refused(text: str, currency: str) -> None:
    with pytest.raises(AmountError):
        parse_amount_minor(text, currency)


def test_unknown_currency_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        parse_amount_minor("1.00", "EUX")


@given(st.integers(-(10**9), 10**9), st.sampled_from(sorted(CURRENCY_EXPONENTS)))
def test_format_and_parse_round_trip(minor: int, currency: str) -> None:
    text = format_minor(minor, currency)
    assert parse_amount_minor(text, currency) == minor
    assert Decimal(text).as_tuple().exponent == -CURRENCY_EXPONENTS[currency]
