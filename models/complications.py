"""Grading after infusion, as pure functions (docs/clinical-rules.md, "After infusion").

- Cytopenias: CTCAE v5.0 "Neutrophil count decreased", "Platelet count decreased", "Anemia".
- Immune effector cell-associated haematotoxicity (ICAHT): the EHA/EBMT consensus grading
  (Rejeski et al., Blood 2023;142:865), early (days 0–30) by how long ANC stays ≤ 500 or
  ≤ 100/µL, late (after day 30) by the ANC reached on two occasions.
- Neutropenic fever: IDSA (Freifeld et al., Clin Infect Dis 2011;52:e56).
- Tumour lysis: Cairo–Bishop (Br J Haematol 2004;127:3), laboratory and clinical.
- Infusion reactions: CTCAE v5.0 "Infusion related reaction", grades 0–5 as given.

A grade is read from laboratory values and findings, never typed. Worse values never give a
lower grade (property-tested in `tests/unit/test_complications.py`). Nothing here is medical
advice: a grade decides who is told, a physician decides what is done.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel

# Lower limits of normal the CTCAE grade 1 rows start at (adult reference ranges; a site's
# own are close to these, and grade 1 alerts no one).
ANC_LLN_PER_UL = 2_000
PLATELETS_LLN_PER_UL = 150_000
HEMOGLOBIN_LLN_G_DL = 12.0

# Cairo–Bishop laboratory criteria (adults): at or above, at or above, at or above, at or below.
TLS_URIC_ACID_MG_DL = 8.0
TLS_POTASSIUM_MMOL_L = 6.0
TLS_PHOSPHATE_MG_DL = 4.5
TLS_CALCIUM_MG_DL = 7.0
TLS_CREATININE_TIMES_ULN = 1.5

NEUTROPENIC_FEVER_C = 38.0
NEUTROPENIC_ANC_PER_UL = 500


def neutrophil_grade(anc_per_ul: float) -> int:
    """CTCAE v5 neutrophil count decreased: < LLN 1, < 1,500 2, < 1,000 3, < 500 4."""
    return _below(anc_per_ul, (ANC_LLN_PER_UL, 1_500, 1_000, 500))


def platelet_grade(platelets_per_ul: float) -> int:
    """CTCAE v5 platelet count decreased: < LLN 1, < 75,000 2, < 50,000 3, < 25,000 4."""
    return _below(platelets_per_ul, (PLATELETS_LLN_PER_UL, 75_000, 50_000, 25_000))


def anaemia_grade(hemoglobin_g_dl: float) -> int:
    """CTCAE v5 anaemia by haemoglobin: < LLN 1, < 10.0 2, < 8.0 3 (grade 4 is clinical:
    life-threatening, urgent intervention; no value makes it)."""
    return _below(hemoglobin_g_dl, (HEMOGLOBIN_LLN_G_DL, 10.0, 8.0))


def _below(value: float, limits: Sequence[float]) -> int:
    """The number of `limits` (in falling order) that `value` is strictly below."""
    return sum(1 for limit in limits if value < limit)


def neutropenic_fever(temperature_c: float | None, anc_per_ul: float | None) -> bool:
    """Fever ≥ 38.0 °C with ANC < 500/µL (IDSA; cellpath takes one reading of 38.0, not
    38.3 or 38.0 sustained over an hour: the physician is told, and decides)."""
    return (
        temperature_c is not None
        and anc_per_ul is not None
        and temperature_c >= NEUTROPENIC_FEVER_C
        and anc_per_ul < NEUTROPENIC_ANC_PER_UL
    )


class TumourLysis(BaseModel):
    """Cairo–Bishop: the laboratory criteria met, and whether it is clinical (and why)."""

    criteria: list[str]
    clinical: list[str]

    @property
    def laboratory(self) -> bool:
        """Laboratory tumour lysis: two or more criteria."""
        return len(self.criteria) >= 2

    @property
    def grade(self) -> str | None:
        """ "clinical", "laboratory" or None."""
        if not self.laboratory:
            return None
        return "clinical" if self.clinical else "laboratory"


def tumour_lysis(
    *,
    uric_acid_mg_dl: float | None = None,
    potassium_mmol_l: float | None = None,
    phosphate_mg_dl: float | None = None,
    calcium_mg_dl: float | None = None,
    creatinine_mg_dl: float | None = None,
    creatinine_uln_mg_dl: float = 1.2,
    arrhythmia: bool = False,
    seizure: bool = False,
) -> TumourLysis:
    """Cairo–Bishop laboratory and clinical tumour lysis from concurrent values.

    The 25 % change from baseline the original criteria also count is not used: no
    pre-treatment value is recorded in the journey, and later consensus drops it.
    """
    criteria = []
    if uric_acid_mg_dl is not None and uric_acid_mg_dl >= TLS_URIC_ACID_MG_DL:
        criteria.append(f"uric acid {uric_acid_mg_dl:g} mg/dL")
    if potassium_mmol_l is not None and potassium_mmol_l >= TLS_POTASSIUM_MMOL_L:
        criteria.append(f"potassium {potassium_mmol_l:g} mmol/L")
    if phosphate_mg_dl is not None and phosphate_mg_dl >= TLS_PHOSPHATE_MG_DL:
        criteria.append(f"phosphate {phosphate_mg_dl:g} mg/dL")
    if calcium_mg_dl is not None and calcium_mg_dl <= TLS_CALCIUM_MG_DL:
        criteria.append(f"calcium {calcium_mg_dl:g} mg/dL")
    clinical = []
    if len(criteria) >= 2:
        limit = TLS_CREATININE_TIMES_ULN * creatinine_uln_mg_dl
        if creatinine_mg_dl is not None and creatinine_mg_dl >= limit:
            clinical.append(f"creatinine {creatinine_mg_dl:g} mg/dL (≥ {limit:g})")
        if arrhythmia:
            clinical.append("cardiac arrhythmia")
        if seizure:
            clinical.append("seizure")
    return TumourLysis(criteria=criteria, clinical=clinical)


def icaht_grade(counts: Sequence[tuple[float, float]]) -> int:
    """The ICAHT grade (EHA/EBMT 2023) from ANC counts as (day after infusion, ANC/µL).

    Early (days 0–30), by the longest run of consecutive counts at or below a level, from the
    first count of the run to its last:

    | grade | ANC ≤ 500/µL  | ANC ≤ 100/µL |
    |-------|---------------|--------------|
    | 1     | under 7 days  | –            |
    | 2     | 7–13 days     | –            |
    | 3     | 14–30 days    | ≥ 7 days     |
    | 4     | ≥ 30 days     | ≥ 14 days    |

    Late (after day 30), by the level both of the latest two counts reach: ≤ 1,500 grade 1,
    ≤ 1,000 grade 2, ≤ 500 grade 3, ≤ 100 grade 4 (the consensus asks for two occasions).
    The grade is the higher of the two. 0 when no count is low.
    """
    ordered = sorted(counts)
    early = [(d, a) for d, a in ordered if d <= 30]
    late = [(d, a) for d, a in ordered if d > 30]
    g500 = _longest_run(early, 500)
    g100 = _longest_run(early, 100)
    grade = 0
    if g500 is not None:
        grade = 1
        if g500 >= 7:
            grade = 2
        if g500 >= 14:
            grade = 3
        if g500 >= 30:
            grade = 4
    if g100 is not None:
        if g100 >= 7:
            grade = max(grade, 3)
        if g100 >= 14:
            grade = 4
    if len(late) >= 2:
        both = max(late[-1][1], late[-2][1])
        grade = max(grade, 4 - _below_or_at(both, (100, 500, 1_000, 1_500)))
    return grade


def _below_or_at(value: float, limits: Sequence[float]) -> int:
    """How many of `limits` (rising) `value` is above: 0 when ≤ the first, 4 above them all."""
    return sum(1 for limit in limits if value > limit)


def _longest_run(counts: Sequence[tuple[float, float]], level: float) -> float | None:
    """The longest span (days) of consecutive counts ≤ `level`; None when none is."""
    longest: float | None = None
    start: float | None = None
    for day, anc in counts:
        if anc <= level:
            start = day if start is None else start
            span = day - start
            longest = span if longest is None else max(longest, span)
        else:
            start = None
    return longest


def days_after(at: datetime, infused_at: datetime) -> float:
    """Days (fractional) from the infusion to `at`."""
    return (at - infused_at) / timedelta(hours=24)
