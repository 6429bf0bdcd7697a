"""Money, as the family's ledger needs it: ISO 4217 currencies with their minor units (from
Babel's CLDR data), amounts as `Decimal`, never floats; and the ledger as the journey keeps and
shows it (`Quote`, `Payment`, `PayerBalance`, `LedgerView`).

An amount is refused when it is zero or negative, or has more decimal places than its
currency has minor units (12.345 USD, 100.5 JPY): a ledger that rounds silently drifts.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import get_currency_precision, list_currencies
from pydantic import BaseModel, Field

from models.errors import RefusalCode, Words, refused, words

# What a quote's item is for (issue 29; the programs' cost pages, seeds 000–002).
CATEGORIES = (
    "evaluation",
    "manufacturing",
    "conditioning",
    "hospital",
    "icu",
    "drugs",
    "follow_up",
    "travel",
    "accommodation",
    "interpreter",
)
# Who pays an item: the family, the trial's sponsor, an insurer (e.g. a city insurance that
# reimburses part).
PAYERS = ("patient", "trial", "insurer")
# ISO 4217 codes that are not money (test, no currency, precious metals, funds codes).
NOT_MONEY = frozenset({"XXX", "XTS", "XAU", "XAG", "XPD", "XPT", "XBA", "XBB", "XBC", "XBD"})
# Read from Babel's data once, at import: Babel opens its data files lazily, and a journey's
# workflow code may not open files (the sandbox refuses; replay must not depend on disk).
CURRENCIES: dict[str, int] = {
    code: int(get_currency_precision(code)) for code in list_currencies() if code not in NOT_MONEY
}


def check_currency(code: str) -> str:
    """`code` as an ISO 4217 currency, or ValueError naming what was expected."""
    code = code.strip().upper()
    if len(code) != 3 or code not in CURRENCIES:
        raise ValueError(f"{code!r} is not an ISO 4217 currency; expected e.g. USD, EUR, CNY")
    return code


def minor_units(currency: str) -> int:
    """How many decimal places the currency has (USD 2, JPY 0, KWD 3)."""
    return CURRENCIES[currency]


def check_amount(value: Decimal | str | int, currency: str, what: Words | None = None) -> Decimal:
    """A positive amount with at most the currency's minor units, or a refusal (a ValueError)
    saying why; `what` names the amount (default "amount")."""
    name = what or words("amount")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise refused(
            "{what}: expected a number, e.g. 1250.00", RefusalCode.INVALID_DATA, what=name
        ) from None
    if not amount.is_finite() or amount <= 0:
        raise refused("{what}: expected an amount above zero", RefusalCode.INVALID_DATA, what=name)
    places = minor_units(currency)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise refused(
            "{what}: {currency} has {places} decimal place(s); expected at most that many",
            RefusalCode.INVALID_DATA,
            what=name,
            currency=currency,
            places=places,
        )
    return amount


def fmt(amount: Decimal, currency: str) -> str:
    """An amount with its currency's minor units and thousands separators, e.g. 9,500.00 USD."""
    places = minor_units(currency)
    return f"{amount:,.{places}f} {currency}"


# --- the ledger, as the journey keeps it and shows it (runs under `LEDGER`) -----------------


class Quote(BaseModel):
    """A version of the family's estimate (runs under `LEDGER`)."""

    version: int
    currency: str
    items: list[dict[str, Any]]
    total: Decimal
    deposit: Decimal | None = None
    issued_at: datetime
    issued_by: str


class Payment(BaseModel):
    """Money received or refunded, and its value in the quote's currency."""

    kind: str  # deposit_received, payment_recorded, refund_issued
    amount: Decimal
    currency: str
    payer: str
    fx_rate: Decimal | None = None
    in_quote_currency: Decimal
    at: datetime
    by: str
    reference: str | None = None


class PayerBalance(BaseModel):
    """What one payer owes on the accepted quote, has paid, and still owes."""

    payer: str
    quoted: Decimal
    paid: Decimal
    outstanding: Decimal


class LedgerView(BaseModel):
    """The family's money at a glance: the latest quote, which version was accepted, the
    balance by payer, the deposit, and every payment (never in search attributes or logs)."""

    currency: str
    latest_version: int
    accepted_version: int | None = None
    total: Decimal
    deposit: Decimal | None = None
    deposit_paid: Decimal = Decimal(0)
    balances: list[PayerBalance] = Field(default_factory=list)
    payments: list[Payment] = Field(default_factory=list)
    quotes: list[Quote] = Field(default_factory=list)
