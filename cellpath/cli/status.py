"""`cellpath status`: a journey at a glance — its phase, what it waits for next, open
deadlines, alerts, refused signals, the gates (consents, readiness, signatures, the options
aid) and what happened after infusion (ICU, death, reports owed to the sponsor, conditions
present now, the latest laboratory values, adverse events, relapses)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cellpath.cli.common import app, deadlines_table, out, print_json, run, session
from cellpath.services import journeys
from models.enums import CellSource, Phase
from models.messages import JourneyStatus


@app.command()
def status(
    case: Annotated[str, typer.Argument(help="case id")],
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
    actor: Annotated[str | None, typer.Option("--actor", help="who is reading")] = None,
    projected: Annotated[
        bool, typer.Option("--projected", help="the steps ahead: expected dates and ranges")
    ] = False,
) -> None:
    """Show a journey's phase, what it waits for next, open deadlines, alerts and refused
    signals (`--projected`: the schedule ahead instead)."""
    if projected:
        print_projected(case, actor, as_json)
        return
    s = run(lambda: journeys.status(session(actor), case))
    if as_json:
        print_json(s)
        return
    outcome = f" → {s.outcome}" if s.outcome else ""
    if s.current_site:
        site = f"site {s.current_site}"
    elif s.submitted_site:
        site = f"site {s.submitted_site} (under PI review)"
    else:
        site = "site —"
    out.print(
        f"[bold]{s.case_id}[/bold] ({s.patient_ref}) · {s.therapy} {s.cell_source} · "
        f"{s.program} · protocol {s.protocol}"
    )
    out.print(
        f"phase [bold]{s.phase}[/bold]{outcome} · {site} · "
        f"coordinator {s.coordinator} · {s.milestone_count} timeline entries"
    )
    print_expected(s)
    if s.open_deadlines:
        out.print(deadlines_table(s.open_deadlines))
    tox = s.toxicity
    if tox.last_observed_at is not None:
        gvhd = (
            ""
            if tox.gvhd_worst is None
            else f" · GvHD {tox.gvhd_current if tox.gvhd_current is not None else '—'} "
            f"(worst {tox.gvhd_worst})"
        )
        out.print(
            f"toxicity at {tox.last_observed_at:%Y-%m-%d %H:%M} UTC: CRS {tox.crs_current} "
            f"(worst {tox.crs_worst}) · ICANS {tox.icans_current} (worst {tox.icans_worst})"
            + gvhd
            + (f" · flags: {', '.join(tox.flags)}" if tox.flags else "")
        )
    for a in s.alerts:
        if a.acknowledged and a.acknowledged_at:
            mark = f"acknowledged by {a.acknowledged_by} {a.acknowledged_at:%Y-%m-%d %H:%M}"
        elif a.resolved_at:
            mark = f"resolved {a.resolved_at:%Y-%m-%d %H:%M}: {a.resolution}"
        else:
            mark = "OPEN"
        out.print(
            f"[red]{a.severity.upper()}[/red] {a.kind} {a.id} ({escape(mark)}): {escape(a.text)}",
            highlight=False,
        )
    for r in s.rejected:
        out.print(
            f"[yellow]rejected signal[/yellow] {r.kind} from {escape(r.actor or '?')} "
            f"at {r.received_at:%Y-%m-%d %H:%M}: {escape(r.reason)}",
            highlight=False,
        )
    print_gates(s)
    print_custody(s)
    print_after_infusion(s)


def print_custody(s: JourneyStatus) -> None:
    """The product's chain of custody and its shipments (runs under `CUSTODY`)."""
    if s.custody:
        chain = " → ".join([s.custody[0].from_party, *(c.to_party for c in s.custody)])
        out.print(f"custody: {escape(chain)} (held by {escape(s.custody_holder or '?')})")
    for shp in s.shipments:
        where = (
            f"received {shp.received_at:%Y-%m-%d %H:%M} UTC"
            if shp.received_at
            else "[yellow]in transit[/yellow]"
        )
        excursion = f" · [red]excursion[/red]: {escape(shp.excursion)}" if shp.excursion else ""
        qa = f" · QA {shp.disposition}" if shp.disposition else ""
        out.print(f"shipment {shp.shipment_id} ({escape(shp.courier)}): {where}{excursion}{qa}")


def print_after_infusion(s: JourneyStatus) -> None:
    """Where the patient is, reports owed to the sponsor, what is present now, the latest
    laboratory values, adverse events and relapses."""
    if s.icu_since is not None:
        out.print(f"[red]in intensive care[/red] since {s.icu_since:%Y-%m-%d %H:%M} UTC: "
                  f"{escape(s.icu_reason or '')}", highlight=False)  # fmt: skip
    if s.died_at is not None:
        out.print(f"died {s.died_at:%Y-%m-%d %H:%M} UTC: {escape(s.death_cause or '')}")
    for r in s.sae_reports:
        if r.reported_at is None:
            out.print(
                f"[red]report to the sponsor[/red] {r.id} (aware {r.aware_at:%Y-%m-%d %H:%M} "
                f"UTC; within 24 h): {escape(r.what)}",
                highlight=False,
            )
    if s.watching:
        out.print("present now: " + ", ".join(s.watching))
    if s.labs:
        out.print(
            "latest labs: "
            + "; ".join(
                f"{lab.name} {lab.value:g} {lab.unit} ({lab.observed_at:%Y-%m-%d})"
                for lab in s.labs
            ),
            highlight=False,
        )
    for e in s.adverse_events:
        out.print(
            f"adverse event: {escape(e.term)} grade {e.grade}"
            + (" (serious)" if e.serious else "")
            + f" {e.occurred_at:%Y-%m-%d}",
            highlight=False,
        )
    for r in s.relapses:
        out.print(
            f"[yellow]{r.source}[/yellow] {r.detected_at:%Y-%m-%d}"
            + (f" ({escape(r.antigen_status)})" if r.antigen_status else "")
            + (f" · way back: {s.re_referral_decision}" if s.re_referral_decision else ""),
            highlight=False,
        )


def print_gates(s: JourneyStatus) -> None:
    """Rules v5: consents, what conditioning still needs, signatures, the options aid."""
    if s.gates_off:
        out.print(f"gates this protocol turns off: {', '.join(s.gates_off)}")
    for c in s.consents:
        state = "valid" if c.valid else ("withdrawn" if c.withdrawn_at else "not current")
        out.print(
            f"consent {c.consent_type} {c.form_version} signed by the {c.signer} "
            f"{c.signed_at:%Y-%m-%d %H:%M} UTC ({state}; sha256 {c.document_sha256[:12]}…)",
            highlight=False,
        )
    for m in s.consent_missing:
        out.print(f"[yellow]consent needed:[/yellow] {escape(m)}", highlight=False)
    if s.readiness:
        items = [f"{'✓' if g.done else '✗'} {g.item} ({g.detail})" for g in s.readiness]
        out.print("readiness before conditioning: " + escape("; ".join(items)), highlight=False)
    if s.eligibility_failing:
        out.print(f"eligibility failing: {escape('; '.join(s.eligibility_failing))}")
    for g in s.signatures:
        copied = (
            f" (transcribed by {g.transcribed_by} from document {g.document_sha256})"
            if g.transcribed_by
            else ""
        )
        out.print(
            f"signed: {g.decision} by {g.signer} as {g.meaning} {g.signed_at:%Y-%m-%d %H:%M} UTC"
            + copied,
            highlight=False,
        )
    for o in s.options:
        out.print(
            f"[cyan]to consider[/cyan] ({escape(o.fact)}): {escape(o.consider)} — {o.source}",
            highlight=False,
        )


def print_expected(s: JourneyStatus) -> None:
    """What the journey waits for now: each milestone with its fields, then the optional."""
    if s.records_missing:
        out.print(f"records missing: [bold]{', '.join(s.records_missing)}[/bold]")
    if s.phase is Phase.CLOSED:
        return
    if not s.expected:
        out.print("waiting for: nothing to record now (the journey waits on its own clock)")
        return
    if s.cell_source is CellSource.ALLOGENEIC and any(
        e.kind == "product_reserved" for e in s.expected
    ):
        out.print(
            "[bold]waiting for the off-the-shelf product to be reserved (product_reserved)[/bold]"
        )
    table = Table("milestone", "data fields (--data KEY=VALUE)", "when", title="waiting for")
    for e in s.expected:
        fields = "; ".join(
            f"{h.name}{'' if h.required else ' (optional)'}: {h.takes}" for h in e.fields
        )
        when = "optional" if e.optional else f"after {', '.join(e.after)}" if e.after else "now"
        table.add_row(e.kind, escape(fields) or "no data", when)
    out.print(table)


def print_projected(case: str, actor: str | None, as_json: bool) -> None:
    """The projected schedule: each step ahead, expected when, and its range."""
    steps = run(lambda: journeys.projected(session(actor), case))
    if as_json:
        print_json([p.model_dump(mode="json") for p in steps])
        return
    if not steps:
        out.print(f"case {case}: nothing ahead to project (closed, or in follow-up)")
        return
    table = Table(
        "step", "expected", "earliest", "latest", "from", title=f"{case}: the schedule ahead (UTC)"
    )
    for p in steps:
        table.add_row(
            p.step.replace("_", " "),
            f"{p.expected:%Y-%m-%d}",
            f"{p.earliest:%Y-%m-%d}",
            f"{p.latest:%Y-%m-%d}",
            p.basis,
        )
    out.print(table)
