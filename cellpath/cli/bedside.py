"""The ward's commands: record an observation (typed, or asked at the bedside) and read the
vital signs history.

At the bedside nothing typed is lost to one wrong answer: each answer is checked against the
range the journey accepts as it is given and asked again if out of range, and the whole
observation is shown for confirmation before it is recorded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from cellpath.cli.common import app, default_actor, err, out, parse_time, print_json, run, session
from cellpath.services import journeys
from models.grading import CerebralEdema, Consciousness, GradingError, OxygenDevice, Seizure
from models.grading import ice_score as ice_total
from models.messages import ObservationAck, ObservationInput
from models.pathway.data import LAB_FINDINGS, Transfused, ValidObservation
from models.pathway.observations import asks_what_was_given

# The help's panels for the findings after infusion (`cellpath observe --help`).
LAB = "Laboratory results (monitoring and follow-up)"
AFTER = "After infusion"
LAB_FIELDS = (*LAB_FINDINGS, "arrhythmia")


@app.command()
def observe(
    case: Annotated[str, typer.Argument(help="case id")],
    interactive: Annotated[
        bool, typer.Option("--interactive", "-i", help="ask for each field, as at the bedside")
    ] = False,
    temperature: Annotated[float | None, typer.Option("--temperature", help="°C")] = None,
    systolic: Annotated[int | None, typer.Option("--systolic", help="systolic BP, mmHg")] = None,
    heart_rate: Annotated[int | None, typer.Option("--heart-rate", help="/min")] = None,
    respiratory_rate: Annotated[int | None, typer.Option("--respiratory-rate", help="/min")] = None,
    spo2: Annotated[float | None, typer.Option("--spo2", help="%")] = None,
    oxygen_device: Annotated[OxygenDevice, typer.Option("--oxygen-device")] = OxygenDevice.NONE,
    oxygen_flow: Annotated[float | None, typer.Option("--oxygen-flow", help="L/min")] = None,
    vasopressors: Annotated[
        int, typer.Option("--vasopressors", help="count, not counting vasopressin")
    ] = 0,
    vasopressin: Annotated[bool, typer.Option("--vasopressin")] = False,
    fever_other_cause: Annotated[
        bool, typer.Option("--fever-other-cause", help="fever attributable to another cause")
    ] = False,
    anticytokine: Annotated[
        bool | None,
        typer.Option(
            "--anticytokine-or-antipyretic/--nothing-given",
            help="tocilizumab, steroids or antipyretics given (fever no longer required), or "
            "nothing given; required when there is no fever but low blood pressure or oxygen",
            show_default=False,
        ),
    ] = None,
    ice_score: Annotated[int | None, typer.Option("--ice-score", help="ICE 0–10")] = None,
    consciousness: Annotated[Consciousness, typer.Option("--consciousness")] = Consciousness.AWAKE,
    seizure: Annotated[Seizure, typer.Option("--seizure")] = Seizure.NONE,
    motor_weakness: Annotated[
        bool, typer.Option("--motor-weakness", help="deep focal motor weakness")
    ] = False,
    cerebral_edema: Annotated[CerebralEdema, typer.Option("--cerebral-edema")] = CerebralEdema.NONE,
    ferritin: Annotated[float | None, typer.Option("--ferritin", help="ng/mL")] = None,
    gvhd_skin: Annotated[
        float | None, typer.Option("--gvhd-skin-bsa", help="% body surface with rash")
    ] = None,
    bilirubin: Annotated[float | None, typer.Option("--bilirubin", help="mg/dL")] = None,
    stool: Annotated[float | None, typer.Option("--stool", help="mL/day")] = None,
    anc: Annotated[
        float | None, typer.Option("--anc", help="ANC, cells/µL", rich_help_panel=LAB)
    ] = None,
    platelets: Annotated[
        float | None, typer.Option("--platelets", help="/µL", rich_help_panel=LAB)
    ] = None,
    hemoglobin: Annotated[
        float | None, typer.Option("--hemoglobin", help="g/dL", rich_help_panel=LAB)
    ] = None,
    igg: Annotated[float | None, typer.Option("--igg", help="mg/dL", rich_help_panel=LAB)] = None,
    creatinine: Annotated[
        float | None, typer.Option("--creatinine", help="mg/dL", rich_help_panel=LAB)
    ] = None,
    potassium: Annotated[
        float | None, typer.Option("--potassium", help="mmol/L", rich_help_panel=LAB)
    ] = None,
    phosphate: Annotated[
        float | None, typer.Option("--phosphate", help="mg/dL", rich_help_panel=LAB)
    ] = None,
    uric_acid: Annotated[
        float | None, typer.Option("--uric-acid", help="mg/dL", rich_help_panel=LAB)
    ] = None,
    calcium: Annotated[
        float | None, typer.Option("--calcium", help="mg/dL", rich_help_panel=LAB)
    ] = None,
    ldh: Annotated[float | None, typer.Option("--ldh", help="U/L", rich_help_panel=LAB)] = None,
    infection_site: Annotated[
        str | None,
        typer.Option(
            "--infection-site", help="an infection: where (lung, blood…)", rich_help_panel=AFTER
        ),
    ] = None,
    infection_organism: Annotated[
        str | None, typer.Option("--infection-organism", help="if known", rich_help_panel=AFTER)
    ] = None,
    infection_treated: Annotated[
        bool, typer.Option("--infection-treated", rich_help_panel=AFTER)
    ] = False,
    infusion_reaction: Annotated[
        int | None,
        typer.Option(
            "--infusion-reaction-grade", help="CTCAE 0–5, first hours", rich_help_panel=AFTER
        ),
    ] = None,
    ivig: Annotated[bool, typer.Option("--ivig-given", rich_help_panel=AFTER)] = False,
    transfusion: Annotated[
        list[Transfused] | None,
        typer.Option("--transfusion", help="what was transfused (repeat)", rich_help_panel=AFTER),
    ] = None,
    arrhythmia: Annotated[
        bool, typer.Option("--arrhythmia", help="a cardiac arrhythmia", rich_help_panel=AFTER)
    ] = False,
    at: Annotated[str | None, typer.Option("--at", help="when observed (ISO, with offset)")] = None,
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    note: Annotated[str, typer.Option("--note")] = "",
    observation_id: Annotated[str | None, typer.Option("--id", help="idempotency key")] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="with -i: record without asking to confirm")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Record an observation; prints the computed grades and the alerts it raised.

    At the bedside (monitoring): the vital signs, graded for CRS/ICANS/GvHD (ASTCT, MAGIC).
    Laboratory results (monitoring and follow-up), without vital signs: `--anc 300
    --platelets 15000 --igg 350`, each in the unit its help names (another unit is refused,
    saying which). Grades are never typed: they are computed from the findings.
    `--interactive` asks for each finding in turn (an answer out of range is asked again), the
    ICE score from its five parts, and shows the whole observation before recording it.
    """
    fields: dict[str, Any] = {
        "temperature_c": temperature,
        "systolic_bp": systolic,
        "heart_rate": heart_rate,
        "respiratory_rate": respiratory_rate,
        "spo2": spo2,
        "oxygen_device": oxygen_device.value,
        "oxygen_flow_l_min": oxygen_flow,
        "vasopressors": vasopressors,
        "vasopressin": vasopressin,
        "fever_other_cause": fever_other_cause,
        "anticytokine_or_antipyretic_given": bool(anticytokine),
        "ice_score": ice_score,
        "consciousness": consciousness.value,
        "seizure": seizure.value,
        "motor_weakness": motor_weakness,
        "cerebral_edema": cerebral_edema.value,
        "ferritin_ng_ml": ferritin,
        "gvhd_skin_bsa_pct": gvhd_skin,
        "bilirubin_mg_dl": bilirubin,
        "stool_ml_day": stool,
        "anc_per_ul": anc,
        "platelets_per_ul": platelets,
        "hemoglobin_g_dl": hemoglobin,
        "igg_mg_dl": igg,
        "creatinine_mg_dl": creatinine,
        "potassium_mmol_l": potassium,
        "phosphate_mg_dl": phosphate,
        "uric_acid_mg_dl": uric_acid,
        "calcium_mg_dl": calcium,
        "ldh_u_l": ldh,
        "infection": (
            {"site": infection_site, "organism": infection_organism, "treated": infection_treated}
            if infection_site
            else None
        ),
        "infusion_reaction_grade": infusion_reaction,
        "ivig_given": ivig,
        "transfusion": [t.value for t in transfusion] if transfusion else None,
        "arrhythmia": arrhythmia,
    }
    labs = any(fields[name] not in (None, False) for name in LAB_FIELDS)
    if interactive:
        s = run(lambda: journeys.status(session(), case))
        fields = bedside_prompts(allogeneic=s.cell_source == "allogeneic")
        err.print(summary_table(fields))
        if not yes and not typer.confirm("Record this observation?", default=True, err=True):
            err.print("not recorded: nothing was sent")
            raise typer.Exit(1)
    elif (temperature is None or systolic is None) and not labs:
        err.print(
            "--temperature and --systolic are required at the bedside (or use --interactive); "
            "a laboratory result needs at least one value (--anc, --platelets, --igg, …)"
        )
        raise typer.Exit(2)
    o = ObservationInput(
        actor=actor or default_actor(),
        observed_at=parse_time(at, "--at"),
        note=note,
        observation_id=observation_id,
        **fields,
    )
    if not interactive and anticytokine is None and asks_what_was_given(o):
        # Silence is not "nothing given": without fever, it decides between CRS 0 and 2–4.
        err.print(
            "was anything given for fever or CRS (tocilizumab, steroids, an antipyretic)? With "
            "no fever but low blood pressure or oxygen the answer decides the CRS grade: add "
            "--anticytokine-or-antipyretic or --nothing-given. Nothing was recorded"
        )
        raise typer.Exit(2)
    ack = run(lambda: journeys.observe(session(), case, o))
    if as_json:
        print_json(ack)
        return
    if ack.duplicate:
        out.print("observation already recorded (duplicate id): nothing changed")
        return
    out.print(recorded(ack))
    for a in ack.alerts:
        out.print(
            f"[red]{a.severity.upper()} alert {a.id}[/red] → on-call physician: {escape(a.text)}"
        )
    if ack.next_observation_due:
        out.print(f"next observation due {ack.next_observation_due:%Y-%m-%d %H:%M} UTC")


def recorded(ack: ObservationAck) -> str:
    """One line saying what an accepted observation was graded (rich markup)."""
    parts = []
    if ack.crs_grade is not None:
        gvhd = "—" if ack.gvhd_grade is None else str(ack.gvhd_grade)
        parts.append(
            f"CRS grade [bold]{ack.crs_grade}[/bold] · ICANS grade [bold]{ack.icans_grade}"
            f"[/bold] · GvHD grade {gvhd}"
        )
    for label, grade in (
        ("neutrophils", ack.anc_grade),
        ("platelets", ack.platelet_grade),
        ("anaemia", ack.anaemia_grade),
    ):
        if grade is not None:
            parts.append(f"{label} CTCAE grade {grade}")
    if ack.icaht_grade:
        parts.append(f"ICAHT grade {ack.icaht_grade}")
    if ack.tumour_lysis:
        parts.append(f"[bold]{ack.tumour_lysis} tumour lysis[/bold]")
    if ack.flags:
        parts.append(f"flags: {', '.join(ack.flags)}")
    return " · ".join(["observation recorded", *parts])


# Labels the bedside summary and the vitals table use for each finding.
LABELS = {
    "temperature_c": "Temperature (°C)",
    "systolic_bp": "Systolic BP (mmHg)",
    "heart_rate": "Heart rate (/min)",
    "respiratory_rate": "Respiratory rate (/min)",
    "spo2": "SpO2 (%)",
    "oxygen_device": "Oxygen",
    "oxygen_flow_l_min": "Oxygen flow (L/min)",
    "vasopressors": "Vasopressors",
    "vasopressin": "Vasopressin",
    "fever_other_cause": "Fever from another cause",
    "anticytokine_or_antipyretic_given": "Tocilizumab/steroids/antipyretics",
    "ice_score": "ICE score (/10)",
    "consciousness": "Consciousness",
    "seizure": "Seizure",
    "motor_weakness": "Deep focal motor weakness",
    "cerebral_edema": "Cerebral oedema",
    "ferritin_ng_ml": "Ferritin (ng/mL)",
    "gvhd_skin_bsa_pct": "GvHD rash (% BSA)",
    "bilirubin_mg_dl": "Bilirubin (mg/dL)",
    "stool_ml_day": "Stool (mL/day)",
}


def in_range(field: str) -> Callable[[Any], Any]:
    """A check of one answer against the range the journey accepts (`ValidObservation`):
    an answer out of range is a `BadParameter`, so the prompt says why and asks again."""
    info = ValidObservation.model_fields[field]

    def check(value: Any) -> Any:
        if value is None:
            return None
        try:
            ValidObservation.__pydantic_validator__.validate_assignment(
                ValidObservation.model_construct(), field, value
            )
        except ValidationError:
            low = next((m.ge for m in info.metadata if hasattr(m, "ge")), None)
            high = next((m.le for m in info.metadata if hasattr(m, "le")), None)
            raise typer.BadParameter(f"expected {low}–{high}, got {value}") from None
        return value

    return check


def _celsius(value: float) -> float:
    """A temperature in °C; one that looks like °F is refused with the conversion."""
    if 90 <= value <= 113:
        raise typer.BadParameter(f"{value} looks like °F ({(value - 32) * 5 / 9:.1f} °C); enter °C")
    return in_range("temperature_c")(value)


def bedside_prompts(*, allogeneic: bool) -> dict[str, Any]:
    """Ask a nurse for each finding in turn; blank answers skip the optional ones, and an
    answer the journey would refuse is asked again (earlier answers are kept).

    Prompts go to stderr, so stdout carries only the result (`--json` stays parseable).
    """
    ask = functools.partial(typer.prompt, err=True)
    yes = functools.partial(typer.confirm, err=True)

    def number(label: str, field: str, kind: type, check: Callable[[Any], Any] | None = None):
        checker = check or in_range(field)

        def parse(text: str) -> Any:
            try:
                value = kind(text)
            except ValueError:
                raise typer.BadParameter(f"expected a number, got {text!r}") from None
            return checker(value)

        return ask(label, value_proc=parse)

    def optional(label: str, field: str, kind: type) -> Any:
        checker = in_range(field)

        def parse(text: str) -> Any:
            if not text.strip():
                return None
            try:
                value = kind(text)
            except ValueError:
                raise typer.BadParameter(f"expected a number, got {text!r}") from None
            return checker(value)

        return ask(f"{label} (blank to skip)", default="", show_default=False, value_proc=parse)

    def choice(label: str, enum: type[StrEnum]) -> str:
        values = [m.value for m in enum]

        def known(text: str) -> str:
            if text not in values:
                raise typer.BadParameter(f"expected one of: {', '.join(values)}")
            return text

        return str(ask(f"{label} [{' / '.join(values)}]", default=values[0], value_proc=known))

    def part(label: str, top: int) -> int:
        def parse(text: str) -> int:
            try:
                value = int(text)
            except ValueError:
                raise typer.BadParameter(f"expected a whole number 0–{top}") from None
            if not 0 <= value <= top:
                raise typer.BadParameter(f"expected 0–{top}, got {value}")
            return value

        return int(ask(f"  {label} (0–{top})", value_proc=parse))

    f: dict[str, Any] = {
        "temperature_c": number("Temperature (°C)", "temperature_c", float, _celsius),
        "systolic_bp": number("Systolic blood pressure (mmHg)", "systolic_bp", int),
        "heart_rate": optional("Heart rate (/min)", "heart_rate", int),
        "respiratory_rate": optional("Respiratory rate (/min)", "respiratory_rate", int),
        "spo2": optional("SpO2 (%)", "spo2", float),
    }
    f["oxygen_device"] = choice("Oxygen", OxygenDevice)
    if f["oxygen_device"] != OxygenDevice.NONE:
        f["oxygen_flow_l_min"] = optional("Oxygen flow (L/min)", "oxygen_flow_l_min", float)
    f["vasopressors"] = int(
        ask(
            "Vasopressors running, not counting vasopressin",
            default="0",
            value_proc=lambda t: in_range("vasopressors")(_whole(t)),
        )
    )
    f["vasopressin"] = yes("Vasopressin running?", default=False)
    if f["temperature_c"] >= 38.0:
        f["fever_other_cause"] = yes("Is the fever attributable to another cause?", default=False)
    # Asked without a default when the answer decides the CRS grade (no fever, yet low blood
    # pressure or oxygen): Enter must not mean "nothing given" then.
    probe = ObservationInput.model_validate(f)
    f["anticytokine_or_antipyretic_given"] = yes(
        "Tocilizumab, steroids or antipyretics given?",
        default=None if asks_what_was_given(probe) else False,
    )
    f["consciousness"] = choice("Consciousness", Consciousness)
    if f["consciousness"] != Consciousness.UNAROUSABLE and yes("ICE screen done?", default=True):
        try:
            f["ice_score"] = ice_total(
                orientation=part("ICE orientation: year, month, city, hospital", 4),
                naming=part("ICE naming of 3 objects", 3),
                commands=part("ICE follows simple commands", 1),
                writing=part("ICE writes a standard sentence", 1),
                attention=part("ICE counts back from 100 by 10", 1),
            )
        except GradingError as e:  # the parts are range-checked above; kept as a guard
            raise typer.BadParameter(str(e)) from None
        err.print(f"  ICE score {f['ice_score']}/10")
    f["seizure"] = choice("Seizure", Seizure)
    f["motor_weakness"] = yes("Deep focal motor weakness?", default=False)
    f["cerebral_edema"] = choice("Cerebral oedema on imaging", CerebralEdema)
    f["ferritin_ng_ml"] = optional("Ferritin (ng/mL)", "ferritin_ng_ml", float)
    if allogeneic:
        f["gvhd_skin_bsa_pct"] = optional("GvHD rash, % body surface", "gvhd_skin_bsa_pct", float)
        f["bilirubin_mg_dl"] = optional("Total bilirubin (mg/dL)", "bilirubin_mg_dl", float)
        f["stool_ml_day"] = optional("Stool volume (mL/day)", "stool_ml_day", float)
    return f


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise typer.BadParameter(f"expected a whole number, got {text!r}") from None


def summary_table(fields: dict[str, Any]) -> Table:
    """What is about to be recorded, finding by finding (blank ones left out)."""
    table = Table("finding", "value", title="observation to record")
    for name, value in fields.items():
        if value is None or value is False or (name == "vasopressors" and value == 0):
            continue
        table.add_row(LABELS.get(name, name), "yes" if value is True else str(value))
    return table


@app.command()
def vitals(
    case: Annotated[str, typer.Argument(help="case id")],
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
    actor: Annotated[str | None, typer.Option("--actor", help="who is reading")] = None,
) -> None:
    """Show every bedside observation of a journey with its computed grades, oldest first."""
    records = run(lambda: journeys.observations(session(actor), case))
    if as_json:
        print_json(records)
        return
    table = Table(
        "observed (UTC)",
        "recorded (UTC)",
        "T °C",
        "SBP",
        "HR",
        "SpO2",
        "O2",
        "ICE",
        "CRS",
        "ICANS",
        "GvHD",
        "by",
        title=f"vital signs of {case}",
    )
    for r in records:
        o = r.observation
        if o.temperature_c is None and o.systolic_bp is None:
            continue  # a laboratory result (`cellpath status` shows the latest values)
        table.add_row(
            f"{r.observed_at:%Y-%m-%d %H:%M}",
            f"{r.recorded_at:%Y-%m-%d %H:%M}",
            _v(o.temperature_c),
            _v(o.systolic_bp),
            _v(o.heart_rate),
            _v(o.spo2),
            o.oxygen_device if o.oxygen_device != "none" else "",
            _v(o.ice_score),
            _v(r.crs_grade),
            _v(r.icans_grade),
            _v(r.gvhd_grade),
            o.actor,
            style="red" if (r.crs_grade or 0) >= 2 or (r.icans_grade or 0) >= 2 else None,
        )
    out.print(table)
    if not records:
        out.print("no observations recorded yet")


def _v(value: object) -> str:
    return "" if value is None else str(value)
