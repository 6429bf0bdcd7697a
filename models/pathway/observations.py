"""Observations at the bedside: checked, graded, stored; alerts for grades that cross a
threshold; the next observation due.

Nurses record findings, never grades: CRS (ASTCT), ICE and ICANS, MAGIC acute GvHD and the
HLH-like flag are computed here (`models/grading.py`; docs/clinical-rules.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from models import bounds
from models.enums import AlertKind, AuditAction, CellSource, DeadlineName, Phase, Severity
from models.errors import RefusalCode, refused
from models.grading import (
    CerebralEdema,
    Consciousness,
    GradingError,
    Seizure,
    crs_grade,
    gvhd_grade,
    hlh_like,
    icans_grade,
    treatment_decides_crs,
)
from models.messages import Alert, ObservationAck, ObservationInput, ToxicityView
from models.pathway import alerts, deadlines, times, watch
from models.pathway.data import ObservationGrades, ValidObservation, describe_validation_error
from models.state import ObservationRecord

if TYPE_CHECKING:
    from models.pathway.journey import Journey


def check_observation(j: Journey, o: ObservationInput, now: datetime) -> datetime:
    """Check an observation; returns its time. Raises `Refused` saying what was expected.

    At the bedside (monitoring) an observation has the vital signs; runs under `WATCHED` also
    take laboratory results (values in their units, clinical findings after infusion) in
    monitoring and follow-up, without vital signs.
    """
    s = j.state
    if o.observation_id is not None and any(
        r.observation.observation_id == o.observation_id for r in s.observations
    ):
        return now
    labs = watch.has_lab_findings(o)
    if labs and not j.watched:
        raise refused(
            "laboratory results and findings after infusion (ANC, platelets, IgG, infection, "
            "infusion reaction, …) are taken from this journey's next run; expected the "
            "bedside findings only",
            RefusalCode.UNKNOWN_NAME,
        )
    phases = (Phase.MONITORING, Phase.FOLLOW_UP) if j.watched else (Phase.MONITORING,)
    if s.died_at is not None:
        raise refused(
            "the patient died ({day}); no observation is expected",
            RefusalCode.CLOSED,
            day=s.died_at.strftime("%Y-%m-%d"),
        )
    if s.phase not in phases:
        raise refused(
            "observations are recorded in phase {phases}; the journey is in '{phase}'",
            RefusalCode.WRONG_PHASE,
            phases=" or ".join(repr(str(p)) for p in phases),
            phase=s.phase,
        )
    j.check_sender(o.actor, o.note, "who made this observation")
    if j.v3:
        bounds.check_id(o.observation_id, "observation_id")
        bounds.check_shape(o.model_dump(mode="python", exclude={"observed_at"}), "observation")
    vitals = (o.temperature_c, o.systolic_bp)
    if not labs and None in vitals:
        if j.watched:
            raise refused(
                "temperature_c and systolic_bp are required in every observation at the "
                "bedside; a laboratory result needs at least one value (anc_per_ul, "
                "platelets_per_ul, igg_mg_dl, …)",
                RefusalCode.MISSING_FIELD,
            )
        raise refused(
            "temperature_c and systolic_bp are required in every observation",
            RefusalCode.MISSING_FIELD,
        )
    if s.phase is Phase.MONITORING and vitals.count(None) == 1:
        raise refused(
            "temperature_c and systolic_bp go together at the bedside; expected both (or "
            "neither, for a laboratory result)",
            RefusalCode.MISSING_FIELD,
        )
    if o.temperature_c is not None and 86 <= o.temperature_c <= 113:
        raise refused(
            "temperature_c {value} looks like °F; expected °C (30–45), e.g. {celsius}",
            RefusalCode.INVALID_DATA,
            value=o.temperature_c,
            celsius="%.1f" % ((o.temperature_c - 32) * 5 / 9),
        )
    try:
        ValidObservation.model_validate(o.model_dump())
    except ValidationError as e:
        raise refused(
            "observation is invalid: {problems}; expected each finding in its physiological "
            "range and unit (temperature 30–45 °C, systolic 30–300 mmHg, …)",
            RefusalCode.INVALID_DATA,
            problems=describe_validation_error(e, ValidObservation),
        ) from None
    if j.v2 and watch.bedside(o):
        try:
            grade(j, o)
        except GradingError as e:
            raise refused(
                "observation is invalid: {problem}", RefusalCode.INVALID_DATA, problem=e
            ) from None
    gvhd = (o.gvhd_skin_bsa_pct, o.bilirubin_mg_dl, o.stool_ml_day)
    if j.facts.cell_source is CellSource.AUTOLOGOUS and any(v is not None for v in gvhd):
        raise refused(
            "GvHD fields (gvhd_skin_bsa_pct, bilirubin_mg_dl, stool_ml_day) apply to "
            "allogeneic products only",
            RefusalCode.WRONG_PRODUCT,
        )
    assert s.infused_at is not None
    at = times.check_time(
        j,
        o.observed_at or now,
        now,
        "observed_at",
        not_before=s.infused_at,
        what="the infusion",
        then="after it",
    )
    hours = j.protocol.infusion_reaction_hours
    if o.infusion_reaction_grade is not None and at > s.infused_at + timedelta(hours=hours):
        raise refused(
            "an infusion reaction is graded in the first {hours} h after the infusion (until "
            "{until} UTC); expected a later reaction as an adverse_event milestone",
            RefusalCode.INVALID_DATA,
            hours=hours,
            until=(s.infused_at + timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M"),
        )
    return at


def apply_observation(
    j: Journey, o: ObservationInput, observed_at: datetime, now: datetime
) -> ObservationAck:
    """Store an accepted observation; a bedside one moves the observation deadline on."""
    s = j.state
    if o.observation_id is not None and any(
        r.observation.observation_id == o.observation_id for r in s.observations
    ):
        return ObservationAck(accepted=True, duplicate=True)
    graded = grade(j, o)
    record = ObservationRecord(
        observation=o, observed_at=observed_at, recorded_at=now, **graded.model_dump()
    )
    at_bedside = watch.bedside(o)
    earlier = [r for r in s.observations if r.observed_at <= observed_at and _bedside(r)]
    previous = max(earlier, key=lambda r: r.observed_at) if earlier else None
    s.observations.append(record)
    if s.baseline_ferritin_ng_ml is None and o.ferritin_ng_ml is not None:
        s.baseline_ferritin_ng_ml = o.ferritin_ng_ml
    raised: list[Alert] = []
    if at_bedside:
        _update_toxicity(j)
        if s.phase is Phase.MONITORING:
            latest = max(r.observed_at for r in s.observations if _bedside(r))
            j.met(DeadlineName.OBSERVATION, at=observed_at, now=now)
            deadlines.open_observation(j, latest, now)
        if j.v2:
            raised += _toxicity_alerts(j, record, previous, now)
    if j.watched:
        watch.grade_in_context(j, record)
        raised += watch.watch(j, record, now)
    graded = ObservationGrades.model_validate(
        record.model_dump(include=set(ObservationGrades.model_fields))
    )
    j.audit_entry(
        AuditAction.OBSERVATION_RECORDED,
        o.actor.strip(),
        observed_at,
        now,
        detail=graded.model_dump(exclude_none=True),
        event_id=o.observation_id,
    )
    j.touch()
    nxt = s.book.get(DeadlineName.OBSERVATION)
    return ObservationAck(
        accepted=True,
        next_observation_due=nxt.due_at if nxt else None,
        alerts=raised,
        **graded.model_dump(),
    )


def _bedside(r: ObservationRecord) -> bool:
    """A stored observation taken at the bedside (with vital signs), not a laboratory result."""
    return watch.bedside(r.observation)


def asks_what_was_given(o: ObservationInput) -> bool:
    """Whether a form must ask "was anything given for fever or CRS" rather than take silence
    for no: without fever, yet with hypotension or hypoxia, the answer decides between CRS 0
    and 2–4 (`treatment_decides_crs`). Findings that cannot be graded are not asked about:
    the journey refuses them with their reason.
    """
    if o.temperature_c is None or o.systolic_bp is None:
        return False
    try:
        return treatment_decides_crs(**_crs_findings(o))
    except GradingError:
        return False


def _crs_findings(o: ObservationInput) -> dict[str, Any]:
    """The findings the CRS grade reads, but what was given (the grading's keywords)."""
    return {
        "temperature_c": o.temperature_c,
        "systolic_bp": o.systolic_bp,
        "vasopressors": o.vasopressors,
        "vasopressin": o.vasopressin,
        "oxygen_device": o.oxygen_device,
        "oxygen_flow_l_min": o.oxygen_flow_l_min,
        "fever_other_cause": o.fever_other_cause,
    }


def grade(j: Journey, o: ObservationInput) -> ObservationGrades:
    """The observation's CRS, ICANS and GvHD grades and flags (at the bedside) and the CTCAE
    grades of its counts (docs/clinical-rules.md).

    Raises:
        GradingError: the observation is inconsistent (e.g. oxygen flow with no device).
    """
    labs = watch.lab_grades(o) if j.watched else ObservationGrades()
    if not watch.bedside(o):
        return labs
    assert o.temperature_c is not None and o.systolic_bp is not None
    crs = crs_grade(
        **_crs_findings(o), anticytokine_or_antipyretic_given=o.anticytokine_or_antipyretic_given
    )
    icans = icans_grade(
        ice_score=o.ice_score,
        consciousness=o.consciousness,
        seizure=o.seizure,
        motor_weakness=o.motor_weakness,
        cerebral_edema=o.cerebral_edema,
        paediatric=j.facts.paediatric,
    )
    gvhd = None
    if j.facts.cell_source is CellSource.ALLOGENEIC:
        result = gvhd_grade(
            skin_bsa_pct=o.gvhd_skin_bsa_pct,
            bilirubin_mg_dl=o.bilirubin_mg_dl,
            stool_ml_day=o.stool_ml_day,
        )
        gvhd = result.grade if result else None
    flags = []
    baseline = j.state.baseline_ferritin_ng_ml
    if hlh_like(o.ferritin_ng_ml, crs_grade=crs, baseline_ferritin_ng_ml=baseline):
        flags.append("hlh_like")
    if o.seizure != Seizure.NONE:
        flags.append("seizure")
    if icans.capd_required:
        flags.append("capd_required")
    return labs.model_copy(
        update={"crs_grade": crs, "icans_grade": icans.grade, "gvhd_grade": gvhd, "flags": flags}
    )


def _update_toxicity(j: Journey) -> None:
    """Current grades are the latest observation's; worst grades are the maximum seen."""
    s = j.state
    bedside = [r for r in s.observations if _bedside(r)]
    latest = max(bedside, key=lambda r: r.observed_at)

    def worst(grades: list[int | None]) -> int | None:
        seen = [g for g in grades if g is not None]
        return max(seen) if seen else None

    s.toxicity = ToxicityView(
        crs_current=latest.crs_grade,
        crs_worst=worst([r.crs_grade for r in bedside]),
        icans_current=latest.icans_grade,
        icans_worst=worst([r.icans_grade for r in bedside]),
        gvhd_current=latest.gvhd_grade,
        gvhd_worst=worst([r.gvhd_grade for r in bedside]),
        last_observed_at=latest.observed_at,
        flags=list(latest.flags),
    )


def _toxicity_alerts(
    j: Journey, r: ObservationRecord, previous: ObservationRecord | None, now: datetime
) -> list[Alert]:
    """Alerts for grades that crossed a threshold or rose since the previous observation.

    A grade that stays where it was does not alert again (no spam); a rising one does,
    and so does a grade that fell below the threshold and came back.
    """
    p, o = j.protocol, r.observation
    assert j.state.infused_at is not None
    day = (r.observed_at - j.state.infused_at) // timedelta(hours=24)
    before = previous or ObservationRecord(
        observation=ObservationInput(), observed_at=r.observed_at, recorded_at=now
    )
    raised: list[Alert | None] = []

    def rose(grade: int | None, old: int | None, urgent: int) -> bool:
        return grade is not None and grade >= urgent and grade > (old or 0)

    if rose(r.crs_grade, before.crs_grade, p.crs_urgent_grade):
        assert r.crs_grade is not None
        critical = r.crs_grade >= p.crs_critical_grade
        oxygen = o.oxygen_device + (
            f" {o.oxygen_flow_l_min:g} L/min" if o.oxygen_flow_l_min else ""
        )
        raised.append(
            alerts.raise_alert(
                j,
                AlertKind.CRS,
                Severity.CRITICAL if critical else Severity.URGENT,
                now,
                f"CRS grade {r.crs_grade} on day {day}: temperature {o.temperature_c:g} °C, "
                f"systolic {o.systolic_bp} mmHg, vasopressors {o.vasopressors}"
                f"{' + vasopressin' if o.vasopressin else ''}, oxygen {oxygen}",
            )
        )
    new_seizure = "seizure" in r.flags and "seizure" not in before.flags
    if rose(r.icans_grade, before.icans_grade, p.icans_urgent_grade) or new_seizure:
        assert r.icans_grade is not None
        critical = r.icans_grade >= p.icans_critical_grade or "seizure" in r.flags
        findings = [
            f"ICE {o.ice_score}" if o.ice_score is not None else "",
            o.consciousness if o.consciousness != Consciousness.AWAKE else "",
            f"seizure {o.seizure}" if "seizure" in r.flags else "",
            "motor weakness" if o.motor_weakness else "",
            f"{o.cerebral_edema} oedema" if o.cerebral_edema != CerebralEdema.NONE else "",
        ]
        raised.append(
            alerts.raise_alert(
                j,
                AlertKind.ICANS,
                Severity.CRITICAL if critical else Severity.URGENT,
                now,
                f"ICANS grade {r.icans_grade} on day {day}: " + ", ".join(f for f in findings if f),
            )
        )
    if rose(r.gvhd_grade, before.gvhd_grade, p.gvhd_urgent_grade):
        assert r.gvhd_grade is not None
        critical = r.gvhd_grade >= p.gvhd_critical_grade
        raised.append(
            alerts.raise_alert(
                j,
                AlertKind.GVHD,
                Severity.CRITICAL if critical else Severity.URGENT,
                now,
                f"Acute GvHD grade {'0 I II III IV'.split()[r.gvhd_grade]} on day {day}",
            )
        )
    if "hlh_like" in r.flags and "hlh_like" not in before.flags:
        raised.append(
            alerts.raise_alert(
                j,
                AlertKind.HLH_LIKE,
                Severity.CRITICAL,
                now,
                f"HLH-like flag on day {day}: ferritin {o.ferritin_ng_ml:g} ng/mL "
                f"(CRS grade {r.crs_grade}); assess organ toxicity and cytopenias",
            )
        )
    return [a for a in raised if a is not None]
