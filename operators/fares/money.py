"""Money in GTFS fares: ISO 4217 currencies, exact conversion of decimal amounts to minor units."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

_EXPONENT_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENT_4 = "CLF UYW"
_EXPONENT_2 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR "
    "FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW "
    "KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN "
    "NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD "
    "SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU "
    "UZS VED VES WST XCD XCG YER ZAR ZMW ZWG ZWL"
)

#: Minor-unit exponent (decimal places) of each active ISO 4217 currency.
CURRENCY_EXPONENTS: dict[str, int] = {
    code: exponent
    for exponent, codes in ((0, _EXPONENT_0), (2, _EXPONENT_2), (3, _EXPONENT_3), (4, _EXPONENT_4))
    for code in codes.split()
}


class AmountError(ValueError):
    """An amount that is not a decimal number or not exact in the currency's minor units."""


def get_currency_exponent(currency: str) -> int:
    """Return the number of decimal places of an ISO 4217 currency (KeyError if unknown)."""
    return CURRENCY_EXPONENTS[currency]


def amount_decimal_places(text: str) -> int:
    """Return how many decimal places an amount is written with ("2.50" has 2)."""
    _, _, fraction = text.strip().partition(".")
    return len(fraction)


def parse_amount_minor(text: str, currency: str) -> int:
    """Convert a decimal amount ("2.50", "-1.5") exactly to integer minor units of its currency."""
    exponent = get_currency_exponent(currency)
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise AmountError(f"{text!r} is not a decimal amount") from None
    if not value.is_finite() or "e" in text.lower():
        raise AmountError(f"{text!r} is not a plain decimal amount")
    minor = value.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise AmountError(f"{text!r} has more than {exponent} decimal places for {currency}")
    return int(minor)


def format_minor(amount_minor: int, currency: str) -> str:
    """Format minor units back as a decimal amount with the currency's decimal places."""
    exponent = get_currency_exponent(currency)
    return str(Decimal(amount_minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)))
