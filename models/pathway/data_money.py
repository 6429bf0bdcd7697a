"""What the family's money milestones carry (runs under `LEDGER`): a versioned quote, and
money received or refunded. Amounts are `Decimal`; currencies and the checks of amounts are
`models.money`'s."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models import money
from models.pathway.data import MilestoneData


class QuoteItem(BaseModel):
    """One line of a quote: what, for which category, who pays, how much (a Decimal)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    category: str = Field(description="one of: " + ", ".join(money.CATEGORIES))
    payer: str = Field(description="one of: " + ", ".join(money.PAYERS))
    amount: Decimal

    @field_validator("category")
    @classmethod
    def _category(cls, v: str) -> str:
        return _one_of(v, money.CATEGORIES)

    @field_validator("payer")
    @classmethod
    def _payer(cls, v: str) -> str:
        return _one_of(v, money.PAYERS)


def _one_of(value: str, names: tuple[str, ...]) -> str:
    if value not in names:
        raise ValueError("expected one of: " + ", ".join(names))
    return value


class QuoteIssuedData(MilestoneData):
    """A versioned estimate (runs under `LEDGER`): its items add up to its total; an optional
    deposit the family pays before the protocol's deposit gate."""

    currency: str = Field(description="ISO 4217 code, e.g. USD")
    items: list[QuoteItem] = Field(
        min_length=1,
        max_length=100,
        description="one row per item: name, category, payer (patient, trial, insurer), amount",
    )
    total: Decimal = Field(description="the sum of the items, in the currency")
    deposit: Decimal | None = Field(default=None, description="the deposit asked of the family")

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        return money.check_currency(v)


class MoneyReceivedData(MilestoneData):
    """A deposit, payment or refund (runs under `LEDGER`): in its own currency, with the rate
    to the quote's currency when they differ."""

    amount: Decimal = Field(description="above zero, e.g. 2500.00")
    currency: str = Field(description="ISO 4217 code, e.g. USD")
    payer: str = Field(default="patient", description="one of: " + ", ".join(money.PAYERS))
    fx_rate: Decimal | None = Field(
        default=None, description="quote currency per unit of this one, when they differ"
    )
    reference: str | None = Field(default=None, max_length=64, description="e.g. a bank ref.")

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        return money.check_currency(v)

    @field_validator("payer")
    @classmethod
    def _payer(cls, v: str) -> str:
        return _one_of(v, money.PAYERS)
