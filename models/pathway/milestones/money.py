"""The family's money (runs under `LEDGER`; earlier runs refuse these kinds as unknown).

- `quote_issued`: a new version of the estimate. Its items (name, category, payer, amount)
  add up to its total exactly, in one ISO 4217 currency with its minor units; an optional
  deposit is no more than the family's own share.
- `cost_estimate_accepted` (a logistics milestone) accepts one version (`version`, default the
  latest) and must name its currency and total. A quote issued after that must be accepted
  again before the next gate: `patient_arrived` and `conditioning_started` are refused until
  then, naming the versions.
- `deposit_received`, `payment_recorded`, `refund_issued`: an amount above zero in a currency;
  one that differs from the quote's needs the `fx_rate` used (quote currency per unit). A
  refund is no more than what that payer paid.
- A protocol's `deposit_before` (`patient_arrived` or `apheresis_completed`) refuses that
  milestone until the accepted quote's deposit is paid; the `deposit` deadline is due
  `deposit_days` after the acceptance.

Amounts are `Decimal` throughout; no amount reaches a search attribute, summary or log.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from models import money
from models.enums import DeadlineName, MilestoneKind
from models.errors import RefusalCode, Refused, refused, words
from models.money import LedgerView, PayerBalance, Payment, Quote
from models.pathway.data import CostEstimateData
from models.pathway.data_money import MoneyReceivedData, QuoteIssuedData
from models.pathway.rules import (
    Accepted,
    AnyTimeRule,
    D,
    require_run,
    rule,
)

if TYPE_CHECKING:
    from models.pathway.journey import Journey

K = MilestoneKind


def require_ledger(j: Journey, what: str) -> None:
    """Refuse what only runs under `LEDGER` take, as earlier runs always did."""
    require_run(j.ledger, what)


def _invalid(template: str, **params: object) -> Refused:
    return refused(template, RefusalCode.INVALID_DATA, **params)


def latest(j: Journey) -> Quote | None:
    """The latest quote version, if any."""
    return j.state.quotes[-1] if j.state.quotes else None


def accepted(j: Journey) -> Quote | None:
    """The accepted version, if any."""
    v = j.state.accepted_quote
    return next((q for q in j.state.quotes if q.version == v), None) if v else None


class MoneyRule(AnyTimeRule[D]):
    """A ledger milestone: optional, never waited for, at any open phase (runs under
    `LEDGER`)."""

    def taken(self, j: Journey) -> bool:
        return j.ledger


@rule
class QuoteIssued(MoneyRule[QuoteIssuedData]):
    """A new version of the family's estimate."""

    kind = K.QUOTE_ISSUED
    data = QuoteIssuedData

    def check(self, j: Journey, a: Accepted[QuoteIssuedData]) -> None:
        super().check(j, a)
        d, c = a.data, a.data.currency
        amounts = [
            money.check_amount(i.amount, c, words("item {n} ({name})", n=n, name=i.name))
            for n, i in enumerate(d.items, start=1)
        ]
        total = money.check_amount(d.total, c, words("total"))
        deposit = money.check_amount(d.deposit, c, words("deposit")) if d.deposit else None
        if sum(amounts, Decimal(0)) != total:
            raise _invalid(
                "the items add up to {sum}, not the total {total}; expected a total equal to "
                "the sum of the items",
                sum=money.fmt(sum(amounts, Decimal(0)), c),
                total=money.fmt(total, c),
            )
        family = sum((i.amount for i in d.items if i.payer == "patient"), Decimal(0))
        if deposit is not None and deposit > family:
            raise _invalid(
                "the deposit {deposit} is more than the family's share {share}; expected at "
                "most that",
                deposit=money.fmt(deposit, c),
                share=money.fmt(family, c),
            )
        previous = latest(j)
        if previous is not None and previous.currency != c:
            raise _invalid(
                "the quote is in {currency}; expected a new version in the same "
                "currency (payments are converted to it)",
                currency=previous.currency,
            )

    def apply(self, j: Journey, a: Accepted[QuoteIssuedData], now: datetime) -> None:
        d = a.data
        j.state.quotes.append(
            Quote(
                version=len(j.state.quotes) + 1,
                currency=d.currency,
                items=[i.model_dump(mode="json") for i in d.items],
                total=d.total,
                deposit=d.deposit,
                issued_at=a.occurred_at,
                issued_by=a.raw.actor.strip(),
            )
        )


def check_acceptance(j: Journey, d: CostEstimateData) -> None:
    """`cost_estimate_accepted` under `LEDGER`, once quotes exist: names a version that
    exists, with that version's currency and total."""
    if not j.ledger or not j.state.quotes:
        if j.ledger and d.version is not None:
            raise refused(
                "no quote was issued; expected quote_issued first", RefusalCode.OUT_OF_ORDER
            )
        if not j.ledger and d.version is not None:
            require_ledger(j, "field 'version' of cost_estimate_accepted")
        return
    version = d.version or len(j.state.quotes)
    if not 1 <= version <= len(j.state.quotes):
        raise _invalid(
            "no quote version {version}; expected 1 to {last}",
            version=version,
            last=len(j.state.quotes),
        )
    q = j.state.quotes[version - 1]
    if d.currency != q.currency or Decimal(str(d.total)) != q.total:
        raise _invalid(
            "quote version {version} is {total}; expected the "
            "accepted currency and total to be the quote's",
            version=version,
            total=money.fmt(q.total, q.currency),
        )


def accept(j: Journey, d: CostEstimateData, at: datetime, now: datetime) -> None:
    """Record which version was accepted; open the deposit deadline the protocol asks for."""
    if not j.ledger or not j.state.quotes:
        return
    j.state.accepted_quote = d.version or len(j.state.quotes)
    q = accepted(j)
    p = j.protocol
    if q is not None and q.deposit and p.deposit_before and deposit_paid(j) < q.deposit:
        j.book.open(
            DeadlineName.DEPOSIT,
            now=now,
            start=at,
            due_at=at + timedelta(days=p.deposit_days),
            summary=f"Deposit before {p.deposit_before.replace('_', ' ')}, {p.deposit_days} days",
            before=[timedelta(days=3)],
            level2_after=j.level2_after(),
        )


def awaiting_acceptance(j: Journey) -> bool:
    """Whether a quote accepted once was changed since (under `LEDGER`)."""
    return (
        j.ledger
        and j.state.accepted_quote is not None
        and j.state.accepted_quote != len(j.state.quotes)
    )


def deposit_paid(j: Journey) -> Decimal:
    """What the family paid as deposit, net of refunds of it, in the quote's currency."""
    total = Decimal(0)
    for p in j.state.payments:
        if p.kind == "deposit_received":
            total += p.in_quote_currency
    return total


def check_gate(j: Journey, kind: MilestoneKind) -> None:
    """Refuse the next gate while a changed quote is not accepted, or the deposit unpaid."""
    if not j.ledger or not j.state.quotes:
        return
    gated = {K.PATIENT_ARRIVED, K.CONDITIONING_STARTED}
    newest = len(j.state.quotes)
    if kind in gated and j.state.accepted_quote not in (None, newest):
        raise refused(
            "quote version {newest} was issued after version {accepted} was "
            "accepted; expected cost_estimate_accepted for the new version first",
            RefusalCode.PATHWAY_RULE,
            newest=newest,
            accepted=j.state.accepted_quote,
        )
    q, p = accepted(j), j.protocol
    if q is not None and q.deposit and p.deposit_before == kind.value:
        paid = deposit_paid(j)
        if paid < q.deposit:
            raise refused(
                "the deposit of {deposit} is not paid (received {paid}); expected "
                "deposit_received first",
                RefusalCode.PATHWAY_RULE,
                deposit=money.fmt(q.deposit, q.currency),
                paid=money.fmt(paid, q.currency) if paid else words("nothing"),
            )


class Received(MoneyRule[MoneyReceivedData]):
    """Money in (or out): converted to the quote's currency with the rate given."""

    data = MoneyReceivedData

    def check(self, j: Journey, a: Accepted[MoneyReceivedData]) -> None:
        super().check(j, a)
        q = latest(j)
        if q is None:
            raise refused(
                "no quote was issued; expected quote_issued first", RefusalCode.OUT_OF_ORDER
            )
        d = a.data
        money.check_amount(d.amount, d.currency)
        if d.currency != q.currency and (d.fx_rate is None or d.fx_rate <= 0):
            raise _invalid(
                "the quote is in {quote}; expected fx_rate ({quote} per "
                "{currency}, above zero) for an amount in {currency}",
                quote=q.currency,
                currency=d.currency,
            )
        if self.kind is K.REFUND_ISSUED:
            paid = sum(
                (
                    p.in_quote_currency if p.kind != "refund_issued" else -p.in_quote_currency
                    for p in j.state.payments
                    if p.payer == d.payer
                ),
                Decimal(0),
            )
            if converted(d, q.currency) > paid:
                raise _invalid(
                    "{payer} paid {paid}; expected a refund of at most that",
                    payer=d.payer,
                    paid=money.fmt(paid, q.currency),
                )

    def apply(self, j: Journey, a: Accepted[MoneyReceivedData], now: datetime) -> None:
        q = latest(j)
        assert q is not None  # checked
        d = a.data
        j.state.payments.append(
            Payment(
                kind=self.kind.value,
                amount=d.amount,
                currency=d.currency,
                payer=d.payer,
                fx_rate=d.fx_rate,
                in_quote_currency=converted(d, q.currency),
                at=a.occurred_at,
                by=a.raw.actor.strip(),
                reference=d.reference,
            )
        )
        due = accepted(j)
        if due is not None and due.deposit and deposit_paid(j) >= due.deposit:
            j.met(DeadlineName.DEPOSIT, at=a.occurred_at, now=now)


def converted(d: MoneyReceivedData, currency: str) -> Decimal:
    """An amount in the quote's currency, rounded to its minor units."""
    value = d.amount if d.currency == currency or d.fx_rate is None else d.amount * d.fx_rate
    return exact(value, currency)


def exact(value: Decimal, currency: str) -> Decimal:
    """`value` with exactly the currency's minor units (1500 USD → 1500.00)."""
    return value.quantize(Decimal(1).scaleb(-money.minor_units(currency)))


@rule
class DepositReceived(Received):
    """The family's deposit."""

    kind = K.DEPOSIT_RECEIVED


@rule
class PaymentRecorded(Received):
    """A payment by the family, the trial or an insurer."""

    kind = K.PAYMENT_RECORDED


@rule
class RefundIssued(Received):
    """Money paid back to a payer."""

    kind = K.REFUND_ISSUED


def ledger_view(j: Journey) -> LedgerView | None:
    """The money at a glance (None before any quote)."""
    q = latest(j)
    if q is None:
        return None
    basis = accepted(j) or q
    balances = []
    for payer in money.PAYERS:
        quoted = sum(
            (Decimal(str(i["amount"])) for i in basis.items if i["payer"] == payer), Decimal(0)
        )
        paid = sum(
            (
                p.in_quote_currency if p.kind != "refund_issued" else -p.in_quote_currency
                for p in j.state.payments
                if p.payer == payer
            ),
            Decimal(0),
        )
        if quoted or paid:
            balances.append(
                PayerBalance(
                    payer=payer,
                    quoted=exact(quoted, q.currency),
                    paid=exact(paid, q.currency),
                    outstanding=exact(quoted - paid, q.currency),
                )
            )
    return LedgerView(
        currency=q.currency,
        latest_version=q.version,
        accepted_version=j.state.accepted_quote,
        total=exact(basis.total, q.currency),
        deposit=exact(basis.deposit, q.currency) if basis.deposit else None,
        deposit_paid=exact(deposit_paid(j), q.currency),
        balances=balances,
        payments=list(j.state.payments),
        quotes=list(j.state.quotes),
    )
