"""After infusion, watched (runs under `WATCHED`): laboratory results and the complications
read from them and from bedside findings — neutropenic fever, tumour lysis, infusion
reactions, prolonged cytopenia, low IgG — each alerted once when it begins, with its source
in docs/clinical-rules.md ("After infusion").

A condition that stays present does not alert again; one that clears and comes back does
(`JourneyState.watching` holds the conditions present now).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from models.complications import (
    TumourLysis,
    anaemia_grade,
    days_after,
    icaht_grade,
    neutropenic_fever,
    neutrophil_grade,
    platelet_grade,
    tumour_lysis,
)
from models.enums import AlertKind, DeadlineName, Severity
from models.grading import Seizure
from models.messages import Alert, ObservationInput
from models.pathway import alerts
from models.pathway.data import LAB_FINDINGS, ObservationGrades
from models.state import ObservationRecord

if TYPE_CHECKING:
    from models.pathway.journey import Journey

N = DeadlineName


def has_lab_findings(o: ObservationInput) -> bool:
    """Whether an observation carries a laboratory value or a clinical finding after infusion."""
    defaults = ObservationInput.model_fields
    return any(getattr(o, name) != defaults[name].default for name in LAB_FINDINGS) or bool(
        o.arrhythmia
    )


def bedside(o: ObservationInput) -> bool:
    """Whether an observation has the vital signs (a bedside observation, CRS graded)."""
    return o.temperature_c is not None and o.systolic_bp is not None


def lab_grades(o: ObservationInput) -> ObservationGrades:
    """The CTCAE grades of the counts an observation gives (none given: None)."""
    return ObservationGrades(
        anc_grade=neutrophil_grade(o.anc_per_ul) if o.anc_per_ul is not None else None,
        platelet_grade=(
            platelet_grade(o.platelets_per_ul) if o.platelets_per_ul is not None else None
        ),
        anaemia_grade=(anaemia_grade(o.hemoglobin_g_dl) if o.hemoglobin_g_dl is not None else None),
    )


def anc_counts(j: Journey) -> list[tuple[float, float]]:
    """Every ANC recorded, as (day after infusion, ANC/µL), oldest first."""
    s = j.state
    assert s.infused_at is not None
    return sorted(
        (days_after(r.observed_at, s.infused_at), r.observation.anc_per_ul)
        for r in s.observations
        if r.observation.anc_per_ul is not None
    )


def _latest(
    j: Journey,
    read: Callable[[ObservationInput], float | None],
    since: datetime,
    until: datetime,
) -> tuple[float | None, datetime | None]:
    """The latest value `read` finds in observations from `since` to `until` (and when)."""
    found = [
        (r.observed_at, v)
        for r in j.state.observations
        if since <= r.observed_at <= until and (v := read(r.observation)) is not None
    ]
    if not found:
        return None, None
    at, value = max(found, key=lambda f: f[0])
    return value, at


def lysis_now(j: Journey, r: ObservationRecord) -> TumourLysis | None:
    """Cairo–Bishop from the latest value of each analyte in the 24 h up to `r`, while within
    `tls_watch_days` of the infusion (None after that window)."""
    s, p = j.state, j.protocol
    assert s.infused_at is not None
    if r.observed_at > j.day(p.tls_watch_days):
        return None
    since = r.observed_at - timedelta(hours=24)

    def latest(name: str) -> float | None:
        return _latest(j, lambda o: getattr(o, name), since, r.observed_at)[0]

    recent = [x for x in s.observations if since <= x.observed_at <= r.observed_at]
    return tumour_lysis(
        uric_acid_mg_dl=latest("uric_acid_mg_dl"),
        potassium_mmol_l=latest("potassium_mmol_l"),
        phosphate_mg_dl=latest("phosphate_mg_dl"),
        calcium_mg_dl=latest("calcium_mg_dl"),
        creatinine_mg_dl=latest("creatinine_mg_dl"),
        creatinine_uln_mg_dl=p.creatinine_uln_mg_dl,
        arrhythmia=any(x.observation.arrhythmia for x in recent),
        seizure=any(x.observation.seizure != Seizure.NONE for x in recent),
    )


def grade_in_context(j: Journey, r: ObservationRecord) -> None:
    """Grades that read more than one observation: ICAHT so far, tumour lysis now."""
    if r.observation.anc_per_ul is not None:
        r.icaht_grade = icaht_grade(anc_counts(j))
    lysis = lysis_now(j, r)
    r.tumour_lysis = lysis.grade if lysis is not None else None


def _present(j: Journey, condition: str, present: bool) -> bool:
    """Record whether `condition` is present now; True when it has just begun."""
    watching = j.state.watching
    if present and condition not in watching:
        watching.append(condition)
        return True
    if not present and condition in watching:
        watching.remove(condition)
    return False


def watch(j: Journey, r: ObservationRecord, now: datetime) -> list[Alert]:
    """The alerts an accepted observation raises after infusion (each once as it begins)."""
    s, p, o = j.state, j.protocol, r.observation
    assert s.infused_at is not None
    day = int(days_after(r.observed_at, s.infused_at))
    raised: list[Alert | None] = []

    def alert(kind: AlertKind, severity: Severity, text: str) -> None:
        raised.append(alerts.raise_alert(j, kind, severity, now, text))

    # Neutropenic fever: a fever and an ANC < 500 within the window of each other (IDSA).
    window = timedelta(hours=p.neutropenic_fever_window_hours)
    since = r.observed_at - window
    if o.temperature_c is not None or o.anc_per_ul is not None:
        temperature, fever_at = _latest(j, lambda x: x.temperature_c, since, r.observed_at)
        count, anc_at = _latest(j, lambda x: x.anc_per_ul, since, r.observed_at)
        if _present(j, "neutropenic_fever", neutropenic_fever(temperature, count)):
            assert temperature is not None and count is not None
            assert fever_at is not None and anc_at is not None
            alert(
                AlertKind.NEUTROPENIC_FEVER,
                Severity.URGENT,
                f"Neutropenic fever on day {day}: {temperature:g} °C "
                f"({fever_at:%Y-%m-%d %H:%M} UTC) with ANC {count:g}/µL "
                f"({anc_at:%Y-%m-%d %H:%M} UTC); antibiotics within the hour (IDSA)",
            )
    # Tumour lysis (Cairo–Bishop): laboratory urgent, clinical critical.
    lysis = lysis_now(j, r)
    if lysis is not None:
        if _present(j, "tumour_lysis", lysis.laboratory) and not lysis.clinical:
            alert(
                AlertKind.TUMOUR_LYSIS,
                Severity.URGENT,
                f"Laboratory tumour lysis on day {day} (Cairo–Bishop): "
                + ", ".join(lysis.criteria),
            )
        if _present(j, "clinical_tumour_lysis", bool(lysis.clinical)):
            alert(
                AlertKind.TUMOUR_LYSIS,
                Severity.CRITICAL,
                f"Clinical tumour lysis on day {day} (Cairo–Bishop): "
                + ", ".join(lysis.criteria + lysis.clinical),
            )
    # Infusion reaction (CTCAE v5): grade 3 or more is critical.
    if o.infusion_reaction_grade is not None and o.infusion_reaction_grade >= 3:
        hours = (r.observed_at - s.infused_at) / timedelta(hours=1)
        alert(
            AlertKind.INFUSION_REACTION,
            Severity.CRITICAL,
            f"Infusion reaction grade {o.infusion_reaction_grade} (CTCAE v5), "
            f"{hours:.0f} h after the infusion",
        )
    # Prolonged cytopenia (EHA/EBMT ICAHT): ANC or platelets low on or after day 28, by the
    # latest count of each (a result with one count does not clear the other).
    if o.anc_per_ul is not None or o.platelets_per_ul is not None:
        anc, _ = _latest(j, lambda x: x.anc_per_ul, s.infused_at, r.observed_at)
        platelets, _ = _latest(j, lambda x: x.platelets_per_ul, s.infused_at, r.observed_at)
        low = []
        if isinstance(anc, (int, float)) and anc < p.prolonged_anc_per_ul:
            low.append(f"ANC {anc:g}/µL")
        if isinstance(platelets, (int, float)) and platelets < p.prolonged_platelets_per_ul:
            low.append(f"platelets {platelets:g}/µL")
        late = r.observed_at >= j.day(p.prolonged_cytopenia_day)
        if _present(j, "prolonged_cytopenia", late and bool(low)):
            alert(
                AlertKind.PROLONGED_CYTOPENIA,
                Severity.URGENT,
                f"Prolonged cytopenia on day {day}: {', '.join(low)}; ICAHT grade "
                f"{icaht_grade(anc_counts(j))} (EHA/EBMT 2023)",
            )
    # Hypogammaglobulinaemia: IgG below the protocol's threshold; an IVIG review monthly.
    if o.igg_mg_dl is not None:
        low_igg = o.igg_mg_dl < p.igg_threshold_mg_dl
        if _present(j, "low_igg", low_igg):
            alert(
                AlertKind.LOW_IGG,
                Severity.WARNING,
                f"IgG {o.igg_mg_dl:g} mg/dL on day {day}, below {p.igg_threshold_mg_dl}: "
                "consider IVIG replacement",
            )
        j.met(N.IVIG_REVIEW, at=r.observed_at, now=now)
        if low_igg:
            open_ivig_review(j, r.observed_at, now)
    elif o.ivig_given and "low_igg" in s.watching:
        j.met(N.IVIG_REVIEW, at=r.observed_at, now=now)
        open_ivig_review(j, r.observed_at, now)
    return [a for a in raised if a is not None]


def open_ivig_review(j: Journey, at: datetime, now: datetime) -> None:
    """While IgG stays low: review IgG and IVIG again a protocol month after `at`."""
    days = j.protocol.follow_up_month_days
    j.book.open(
        N.IVIG_REVIEW,
        now=now,
        start=at,
        due_at=at + timedelta(days=days),
        summary=f"IgG below {j.protocol.igg_threshold_mg_dl} mg/dL: check IgG and review "
        f"IVIG every {days} days while it stays low",
        before=[timedelta(days=3)],
        level2_after=j.level2_after(),
    )
