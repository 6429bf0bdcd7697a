"""The hand-over to the home team: `export --fhir`, `calendar`, `handover`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cellpath.cli.common import app, err, out, run, session

# `cellpath.services.handover` is imported by the commands that use it: its FHIR models
# (fhir.resources) take a second and tens of MiB, which every other command — the worker
# among them — would otherwise pay at start-up.


@app.command()
def export(
    case: Annotated[str, typer.Argument(help="case id")],
    fhir: Annotated[bool, typer.Option("--fhir", help="the hand-over as a FHIR R4 bundle")] = False,
    pseudonymous: Annotated[
        bool, typer.Option("--pseudonymous", help="leave out who the patient is")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write here (default: stdout)")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor")] = None,
) -> None:
    """Export a case's hand-over bundle (identifying details only for the care team; audited)."""
    if not fhir:
        err.print("expected --fhir (the only export form): cellpath export CASE --fhir")
        raise typer.Exit(2)
    from cellpath.services import handover

    bundle = run(lambda: handover.bundle(session(actor), case, identify=not pseudonymous))
    summary = ", ".join(f"{n} {kind}" for kind, n in bundle.counts.items())
    if output is None:
        sys.stdout.buffer.write(bundle.data + b"\n")
    else:
        output.write_bytes(bundle.data)
        out.print(f"wrote {output}")
    err.print(
        f"bundle sha256 {bundle.sha256}: {summary}"
        + ("" if bundle.identified else " (pseudonymous)"),
        highlight=False,
    )


@app.command()
def calendar(
    case: Annotated[str, typer.Argument(help="case id")],
    actor: Annotated[str | None, typer.Option("--actor")] = None,
) -> None:
    """The family's appointments and follow-up deadlines as iCalendar: `> case.ics`."""
    from cellpath.services import handover

    sys.stdout.buffer.write(run(lambda: handover.calendar(session(actor), case)))


@app.command("handover")
def send_handover(
    case: Annotated[str, typer.Argument(help="case id")],
    actor: Annotated[str | None, typer.Option("--actor")] = None,
) -> None:
    """E-mail the hand-over bundle to the home oncologist and record `handover_sent`."""
    from cellpath.services import handover

    ack = run(lambda: handover.send(session(actor), case, actor=actor))
    out.print(f"hand-over sent; the journey is in {ack.phase}")
