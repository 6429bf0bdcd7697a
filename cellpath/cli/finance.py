"""`cellpath finance CASE`: the family's money — the quote accepted, the balance by payer,
every deposit, payment and refund (runs under `LEDGER`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cellpath.cli.common import app, out, print_json, run, session
from cellpath.services import journeys
from models.messages import JourneyStatus
from models.money import fmt


@app.command()
def finance(
    case: Annotated[str, typer.Argument(help="case id")],
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """The family's money: the quote accepted, the balance by payer, every payment."""
    s = session(actor)

    async def go() -> JourneyStatus:
        return await journeys.status(s, case)

    ledger = run(go).ledger
    if as_json:
        print_json(ledger.model_dump(mode="json") if ledger else {})
        return
    if ledger is None:
        out.print(f"case {case}: no quote issued yet")
        return
    c = ledger.currency
    accepted = (
        f"version {ledger.accepted_version} accepted"
        if ledger.accepted_version
        else "not accepted yet"
    )
    out.print(f"Quote version {ledger.latest_version} ({accepted}): {fmt(ledger.total, c)}")
    if ledger.deposit:
        out.print(f"Deposit: {fmt(ledger.deposit, c)}, received {fmt(ledger.deposit_paid, c)}")
    table = Table("payer", "quoted", "paid", "outstanding", title="Balance by payer")
    for b in ledger.balances:
        table.add_row(b.payer, fmt(b.quoted, c), fmt(b.paid, c), fmt(b.outstanding, c))
    out.print(table)
    if ledger.payments:
        paid = Table("when", "what", "payer", "amount", f"in {c}", "reference", title="Payments")
        for p in ledger.payments:
            rate = f" at {p.fx_rate}" if p.fx_rate else ""
            paid.add_row(
                f"{p.at:%Y-%m-%d}",
                p.kind.replace("_", " "),
                p.payer,
                fmt(p.amount, p.currency) + rate,
                fmt(p.in_quote_currency, c),
                p.reference or "",
            )
        out.print(paid)
