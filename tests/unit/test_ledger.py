"""The family's money (runs under `LEDGER`): versioned quotes whose items add up, the
accepted version, a changed quote and an unpaid deposit as gates, payments converted with
their rate, refunds no larger than what was paid — all in Decimal.

Journeys are driven by hand through `Journey` (no Temporal); earlier runs refuse it all."""

from __future__ import annotations

from decimal import Decimal

import pytest

from models.enums import Phase
from models.protocol import PRESETS
from tests.builders import Case

ITEMS = [
    {"name": "evaluation", "category": "evaluation", "payer": "patient", "amount": "2500.00"},
    {"name": "CAR-T product", "category": "manufacturing", "payer": "trial", "amount": "0.01"},
    {"name": "ward, 28 days", "category": "hospital", "payer": "patient", "amount": "7000"},
    {"name": "flights", "category": "travel", "payer": "insurer", "amount": "1200.50"},
]
TOTAL = "10700.51"


def quoted(**protocol: object) -> Case:
    """A journey in logistics with a first quote of 10,700.51 USD (family's share 9,500)."""
    p = PRESETS["default"].model_copy(update=protocol)
    c = Case(ledger=True, protocol=p)
    c.to_logistics()
    c.record("quote_issued", currency="usd", items=ITEMS, total=TOTAL, deposit="3000")
    return c


def logistics_done(c: Case, **accept: object) -> None:
    c.record("cost_estimate_accepted", currency="USD", total=float(TOTAL), **accept)
    c.record("invitation_letter_issued", site="site-a")
    c.record("visa_issued", visa_type="S2", valid_until="2027-06-01")
    c.record("accommodation_booked")
    c.record("travel_booked", arrival_date="2026-11-20")


def test_a_quote_is_versioned_and_its_balance_is_by_payer() -> None:
    c = quoted()
    ledger = c.j.status().ledger
    assert ledger is not None and (ledger.currency, ledger.latest_version) == ("USD", 1)
    assert ledger.accepted_version is None and ledger.total == Decimal(TOTAL)
    balances = {b.payer: b.outstanding for b in ledger.balances}
    assert balances == {
        "patient": Decimal("9500.00"),
        "trial": Decimal("0.01"),
        "insurer": Decimal("1200.50"),
    }
    logistics_done(c)
    assert c.phase is Phase.ARRIVAL and c.j.status().ledger.accepted_version == 1


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"total": "10700.50"}, "add up to 10,700.51 USD, not the total 10,700.50 USD"),
        ({"currency": "XYZ"}, "not an ISO 4217 currency"),
        ({"items": [ITEMS[0] | {"amount": "-5"}], "total": "-5"}, "above zero"),
        ({"items": [ITEMS[0] | {"amount": "0"}], "total": "0"}, "above zero"),
        ({"items": [ITEMS[0] | {"amount": "12.345"}], "total": "12.345"}, "2 decimal place"),
        ({"deposit": "9600"}, "more than the family's share 9,500.00 USD"),
        ({"items": [ITEMS[0] | {"category": "shopping"}]}, "category"),
    ],
)
def test_a_wrong_quote_is_refused_naming_what_is_wrong(change: dict, words: str) -> None:
    c = Case(ledger=True)
    quote = {"currency": "USD", "items": ITEMS, "total": TOTAL} | change
    c.refused("quote_issued", words, **quote)


def test_a_yen_quote_has_no_minor_units() -> None:
    c = Case(ledger=True)
    item = {"name": "ward", "category": "hospital", "payer": "patient", "amount": "100.5"}
    c.refused("quote_issued", "JPY has 0 decimal", currency="JPY", items=[item], total="100.5")


def test_a_changed_quote_must_be_accepted_again_before_arrival() -> None:
    c = quoted()
    logistics_done(c)
    second = [*ITEMS[:3], ITEMS[3] | {"amount": "1500.50"}]
    c.record("quote_issued", currency="USD", items=second, total="11000.51", deposit="3000")
    message = c.refused("patient_arrived", "quote version 2 was issued after version 1")
    assert "cost_estimate_accepted" in message
    c.refused(
        "cost_estimate_accepted", "quote version 2 is 11,000.51 USD", currency="USD", total=10700.51
    )
    c.record("cost_estimate_accepted", currency="USD", total=11000.51, version=2)
    assert c.phase is Phase.ARRIVAL  # accepted where the journey is
    c.record("patient_arrived")


def test_the_deposit_gate_and_deadline() -> None:
    c = quoted(deposit_before="patient_arrived", deposit_days=10)
    logistics_done(c)
    due = c.deadline("deposit")
    assert due is not None and "Deposit before patient arrived" in due.summary
    c.refused("patient_arrived", "deposit of 3,000.00 USD is not paid")
    c.refused("deposit_received", "expected fx_rate", amount="10000", currency="CNY")
    c.record("deposit_received", amount="14000", currency="CNY", fx_rate="0.14")
    c.refused("patient_arrived", r"received 1,960.00 USD")
    c.record("deposit_received", amount="1040.00", currency="USD", reference="BANK-42")
    assert c.deadline("deposit") is None
    c.record("patient_arrived")
    ledger = c.j.status().ledger
    assert ledger.deposit_paid == Decimal("3000.00")
    assert [p.in_quote_currency for p in ledger.payments] == [
        Decimal("1960.00"),
        Decimal("1040.00"),
    ]


def test_payments_and_refunds_keep_the_balance_and_a_refund_is_no_more_than_paid() -> None:
    c = quoted()
    c.record("payment_recorded", amount="1200.50", currency="USD", payer="insurer")
    c.refused(
        "refund_issued", "insurer paid 1,200.50 USD", amount="1300", currency="USD", payer="insurer"
    )
    c.record("refund_issued", amount="200.50", currency="USD", payer="insurer")
    (insurer,) = [b for b in c.j.status().ledger.balances if b.payer == "insurer"]
    assert (insurer.paid, insurer.outstanding) == (Decimal("1000.00"), Decimal("200.50"))
    c.refused("payment_recorded", "above zero", amount="0", currency="USD")
    c.refused("payment_recorded", "not an ISO 4217", amount="5", currency="ABC")


def test_runs_before_the_patch_refuse_it_all_as_they_always_did() -> None:
    c = Case()
    c.refused("quote_issued", "unknown milestone kind", currency="USD", items=ITEMS, total=TOTAL)
    c.refused("deposit_received", "unknown milestone kind", amount="1", currency="USD")
    c.to_logistics()
    c.refused("cost_estimate_accepted", "field 'version'", currency="USD", total=1.0, version=1)
    c.record("cost_estimate_accepted", currency="USD", total=1.0)
