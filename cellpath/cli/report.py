"""`cellpath report [--quarter 2026Q4] [--by site|program|product] [--csv]`: the program's
measures, the same numbers as the console's `/measures` and its CSV."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cellpath.cli.common import app, out, run, session
from cellpath.services import measures
from cellpath.store.measures import Report, rows


@app.command()
def report(
    quarter: Annotated[
        str | None, typer.Option("--quarter", help="journeys taken in it, e.g. 2026Q4")
    ] = None,
    by: Annotated[str, typer.Option("--by", help="site, program or product")] = "site",
    as_csv: Annotated[bool, typer.Option("--csv", help="print as CSV")] = False,
    actor: Annotated[str | None, typer.Option("--actor")] = None,
) -> None:
    """Durations from intake and vein to vein, deadlines on time, escalations per 100
    journeys, manufacturing failures and alerts, by site, program or product."""

    async def go() -> Report:
        return measures.measures(session(actor), by=by, quarter=quarter)

    r = run(go)
    if as_csv:
        typer.echo(measures.as_csv(r), nl=False)
        return
    table = Table(r.by, "measure", "value", "n", title=f"measures, {r.quarter or 'all quarters'}")
    for row in rows(r):
        table.add_row(str(row[r.by]), str(row["measure"]), str(row["value"]), str(row["n"]))
    out.print(table)
