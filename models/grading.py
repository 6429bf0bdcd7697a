"""Toxicity grading after cell therapy, as pure functions (docs/clinical-rules.md: ASTCT, MAGIC).

- CRS: ASTCT consensus grade (Lee et al., Biol Blood Marrow Transplant 2019;25:625).
- ICE score and ICANS grade: the same consensus, adults and children over 12.
- Acute GvHD: MAGIC organ staging and overall grade (allogeneic products).
- HLH-like syndrome (IEC-HS / carHLH): a flag for the physician, from ferritin.

The product computes grades from what a nurse observes; it never asks for a grade. Each
function is total over valid input (every valid input gets a grade) and refuses invalid input
with `GradingError` naming the field and what was expected. Worse inputs never give a lower
grade (property-tested in `tests/unit/test_grading.py`). Nothing here is medical advice: the
grade decides who is told, a physician decides what is done.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from pydantic import BaseModel, Field

E = TypeVar("E", bound=StrEnum)


class GradingError(ValueError):
    """An input outside what a grading rule accepts; the message names field and expectation."""


class OxygenDevice(StrEnum):
    """How oxygen is given, from none to positive pressure."""

    NONE = "none"
    LOW_FLOW_NASAL_CANNULA = "low_flow_nasal_cannula"
    BLOW_BY = "blow_by"
    HIGH_FLOW_NASAL_CANNULA = "high_flow_nasal_cannula"
    FACE_MASK = "face_mask"
    NON_REBREATHER = "non_rebreather"
    VENTURI = "venturi"
    CPAP = "cpap"
    BIPAP = "bipap"
    MECHANICAL_VENTILATION = "mechanical_ventilation"


class Consciousness(StrEnum):
    """Level of consciousness, the ICANS domain (awake = not depressed)."""

    AWAKE = "awake"
    AWAKENS_SPONTANEOUSLY = "awakens_spontaneously"
    AWAKENS_TO_VOICE = "awakens_to_voice"
    AWAKENS_TO_TOUCH = "awakens_to_touch"
    UNAROUSABLE = "unarousable"


class Seizure(StrEnum):
    """Seizure, the ICANS domain."""

    NONE = "none"
    RESOLVED_RAPIDLY = "resolved_rapidly"
    PROLONGED_OR_REPEATED = "prolonged_or_repeated"


class CerebralEdema(StrEnum):
    """Raised intracranial pressure / cerebral oedema, the ICANS domain."""

    NONE = "none"
    FOCAL = "focal"
    DIFFUSE = "diffuse"


FEVER_C = 38.0
HYPOTENSION_SYSTOLIC_MMHG = 90  # adult reference (ASTCT)
LOW_FLOW_MAX_L_MIN = 6.0
HLH_FERRITIN_NG_ML = 10_000.0

_NASAL = (OxygenDevice.LOW_FLOW_NASAL_CANNULA, OxygenDevice.HIGH_FLOW_NASAL_CANNULA)
_HIGH_FLOW_DEVICES = (OxygenDevice.FACE_MASK, OxygenDevice.NON_REBREATHER, OxygenDevice.VENTURI)
_POSITIVE_PRESSURE = (OxygenDevice.CPAP, OxygenDevice.BIPAP, OxygenDevice.MECHANICAL_VENTILATION)


# --- CRS ------------------------------------------------------------------------------------


def hypotension_grade(systolic_bp: int, vasopressors: int, vasopressin: bool) -> int:
    """The CRS grade the hypotension domain supports (0 = no hypotension).

    `vasopressors` counts vasopressors other than vasopressin. Vasopressin alone is one
    vasopressor (grade 3) and never counts toward "several" (two or more → grade 4). A patient
    on a vasopressor is graded by the vasopressor, whatever the pressure it achieves.
    """
    if vasopressors < 0:
        raise GradingError(f"vasopressors must be ≥ 0 (a count); got {vasopressors}")
    if systolic_bp <= 0:
        raise GradingError(f"systolic_bp must be a positive pressure in mmHg; got {systolic_bp}")
    if vasopressors >= 2:
        return 4
    if vasopressors == 1 or vasopressin:
        return 3
    if systolic_bp < HYPOTENSION_SYSTOLIC_MMHG:
        return 2
    return 0


def hypoxia_grade(device: OxygenDevice | str, flow_l_min: float | None) -> int:
    """The CRS grade the hypoxia domain supports (0 = no oxygen needed).

    A nasal cannula is graded by its flow, whatever it is called: ≤ 6 L/min is low flow
    (grade 2), above is high flow (grade 3). A high-flow cannula with no flow recorded is
    graded high flow: when in doubt, the worse grade reaches the physician.
    """
    device = _enum(OxygenDevice, device, "oxygen_device")
    if flow_l_min is not None and flow_l_min < 0:
        raise GradingError(f"oxygen_flow_l_min must be ≥ 0; got {flow_l_min}")
    if device is OxygenDevice.NONE:
        if flow_l_min:
            raise GradingError(
                f"oxygen_flow_l_min is {flow_l_min} but oxygen_device is 'none'; "
                "expected the device the oxygen is given by"
            )
        return 0
    if device in _POSITIVE_PRESSURE:
        return 4
    if device in _HIGH_FLOW_DEVICES:
        return 3
    if device in _NASAL:
        if flow_l_min is None:
            return 3 if device is OxygenDevice.HIGH_FLOW_NASAL_CANNULA else 2
        return 3 if flow_l_min > LOW_FLOW_MAX_L_MIN else 2
    # Blow-by is low-flow oxygen by definition; a flow above 6 L/min is still high flow.
    return 3 if flow_l_min is not None and flow_l_min > LOW_FLOW_MAX_L_MIN else 2


def crs_grade(
    *,
    temperature_c: float,
    systolic_bp: int,
    vasopressors: int = 0,
    vasopressin: bool = False,
    oxygen_device: OxygenDevice | str = OxygenDevice.NONE,
    oxygen_flow_l_min: float | None = None,
    fever_other_cause: bool = False,
    anticytokine_or_antipyretic_given: bool = False,
    died_of_crs: bool = False,
) -> int:
    """ASTCT CRS grade, 0 (no CRS) to 5 (death from CRS).

    Fever (≥ 38.0 °C, not attributable to another cause) is required, except after
    antipyretics or anti-cytokine therapy (tocilizumab, steroids), which mask it: then the grade
    is set by hypotension and hypoxia alone. With fever the grade is at least 1; the grade is
    the worse of the hypotension and hypoxia domains. Organ toxicities do not change it.
    """
    if not 25.0 <= temperature_c <= 45.0:
        raise GradingError(f"temperature_c must be in °C (25–45); got {temperature_c}")
    # Both domains are evaluated first, so inconsistent input is refused even without fever.
    organ = max(
        hypotension_grade(systolic_bp, vasopressors, vasopressin),
        hypoxia_grade(oxygen_device, oxygen_flow_l_min),
    )
    if died_of_crs:
        return 5
    fever = temperature_c >= FEVER_C and not fever_other_cause
    if not fever and not anticytokine_or_antipyretic_given:
        return 0
    return max(1 if fever else 0, organ)


def treatment_decides_crs(
    *,
    temperature_c: float,
    systolic_bp: int,
    vasopressors: int = 0,
    vasopressin: bool = False,
    oxygen_device: OxygenDevice | str = OxygenDevice.NONE,
    oxygen_flow_l_min: float | None = None,
    fever_other_cause: bool = False,
) -> bool:
    """Whether the CRS grade turns on "was anything given for fever or CRS": no fever, yet
    hypotension or hypoxia.

    Tocilizumab, steroids and antipyretics mask the fever, so the answer decides between
    grade 0 and grades 2–4; a form must ask rather than take silence for "no".

    Raises:
        GradingError: the findings are inconsistent (as `crs_grade` would refuse them).
    """
    if temperature_c >= FEVER_C and not fever_other_cause:
        return False
    organ = max(
        hypotension_grade(systolic_bp, vasopressors, vasopressin),
        hypoxia_grade(oxygen_device, oxygen_flow_l_min),
    )
    return organ > 0


# --- ICE and ICANS ----------------------------------------------------------------------------


class IceComponents(BaseModel):
    """The ten points of the ICE screen, as a nurse scores them at the bedside."""

    orientation: int = Field(ge=0, le=4, description="year, month, city, hospital")
    naming: int = Field(ge=0, le=3, description="names 3 objects")
    commands: int = Field(ge=0, le=1, description="follows simple commands")
    writing: int = Field(ge=0, le=1, description="writes a standard sentence")
    attention: int = Field(ge=0, le=1, description="counts back from 100 by 10")


def ice_score(*, orientation: int, naming: int, commands: int, writing: int, attention: int) -> int:
    """ICE score 0–10: orientation 4 + naming 3 + commands 1 + writing 1 + attention 1."""
    limits = {
        "orientation": (orientation, 4),
        "naming": (naming, 3),
        "commands": (commands, 1),
        "writing": (writing, 1),
        "attention": (attention, 1),
    }
    for name, (value, top) in limits.items():
        if not 0 <= value <= top:
            raise GradingError(f"ICE {name} must be 0–{top}; got {value}")
    return orientation + naming + commands + writing + attention


def ice_domain_grade(score: int | None) -> int:
    """The ICANS grade the ICE score supports: 10 → 0, 7–9 → 1, 3–6 → 2, 0–2 → 3.

    ICE 0 in an awake patient (e.g. global aphasia) is grade 3; grade 4 needs the patient to
    be unarousable, which the consciousness domain carries.
    """
    if score is None:
        return 0
    if not 0 <= score <= 10:
        raise GradingError(f"ice_score must be 0–10; got {score}")
    if score == 10:
        return 0
    if score >= 7:
        return 1
    if score >= 3:
        return 2
    return 3


_CONSCIOUSNESS_GRADE = {
    Consciousness.AWAKE: 0,
    Consciousness.AWAKENS_SPONTANEOUSLY: 1,
    Consciousness.AWAKENS_TO_VOICE: 2,
    Consciousness.AWAKENS_TO_TOUCH: 3,
    Consciousness.UNAROUSABLE: 4,
}
_SEIZURE_GRADE = {Seizure.NONE: 0, Seizure.RESOLVED_RAPIDLY: 3, Seizure.PROLONGED_OR_REPEATED: 4}
_EDEMA_GRADE = {CerebralEdema.NONE: 0, CerebralEdema.FOCAL: 3, CerebralEdema.DIFFUSE: 4}


class IcansResult(BaseModel):
    """An ICANS grade and whether the ICE domain could be used for it."""

    grade: int
    capd_required: bool = False


def icans_grade(
    *,
    ice_score: int | None = None,
    consciousness: Consciousness | str = Consciousness.AWAKE,
    seizure: Seizure | str = Seizure.NONE,
    motor_weakness: bool = False,
    cerebral_edema: CerebralEdema | str = CerebralEdema.NONE,
    paediatric: bool = False,
) -> IcansResult:
    """ICANS grade 0–4: the most severe of its domains (ICE, consciousness, seizure, motor, ICP).

    Children aged 12 or under are assessed with CAPD, not ICE: for them the ICE score is not
    used, `capd_required` is set, and the other domains still grade. Tremor and myoclonus do
    not change the grade (there is no field for them on purpose).
    """
    c = _enum(Consciousness, consciousness, "consciousness")
    s = _enum(Seizure, seizure, "seizure")
    e = _enum(CerebralEdema, cerebral_edema, "cerebral_edema")
    ice = 0 if paediatric else ice_domain_grade(ice_score)
    grade = max(
        ice,
        _CONSCIOUSNESS_GRADE[c],
        _SEIZURE_GRADE[s],
        4 if motor_weakness else 0,
        _EDEMA_GRADE[e],
    )
    return IcansResult(grade=grade, capd_required=paediatric)


# --- acute GvHD (MAGIC) -----------------------------------------------------------------------


def skin_stage(bsa_pct: float) -> int:
    """MAGIC skin stage from % body surface with rash: 0, < 25 → 1, 25–50 → 2, > 50 → 3.

    Stage 4 (bullae, desquamation > 5 %) is not derivable from the rash's extent; a physician
    grades it.
    """
    if not 0 <= bsa_pct <= 100:
        raise GradingError(f"gvhd_skin_bsa_pct must be 0–100 %; got {bsa_pct}")
    if bsa_pct == 0:
        return 0
    if bsa_pct < 25:
        return 1
    if bsa_pct <= 50:
        return 2
    return 3


def liver_stage(bilirubin_mg_dl: float) -> int:
    """MAGIC liver stage from total bilirubin (mg/dL): < 2, 2–3, 3.1–6, 6.1–15, > 15 → 0–4."""
    if bilirubin_mg_dl < 0:
        raise GradingError(f"bilirubin_mg_dl must be ≥ 0; got {bilirubin_mg_dl}")
    if bilirubin_mg_dl < 2:
        return 0
    if bilirubin_mg_dl <= 3:
        return 1
    if bilirubin_mg_dl <= 6:
        return 2
    if bilirubin_mg_dl <= 15:
        return 3
    return 4


def lower_gi_stage(stool_ml_day: float) -> int:
    """MAGIC lower-GI stage from stool volume (mL/day): < 500, 500–999, 1000–1500, > 1500 → 0–3.

    Stage 4 (severe pain, ileus, grossly bloody stool) is not derivable from volume.
    """
    if stool_ml_day < 0:
        raise GradingError(f"stool_ml_day must be ≥ 0; got {stool_ml_day}")
    if stool_ml_day < 500:
        return 0
    if stool_ml_day < 1000:
        return 1
    if stool_ml_day <= 1500:
        return 2
    return 3


class GvhdResult(BaseModel):
    """MAGIC organ stages and the overall acute GvHD grade (0 = none, 1–4 = I–IV)."""

    skin: int
    liver: int
    lower_gi: int
    grade: int


def gvhd_grade(
    *,
    skin_bsa_pct: float | None = None,
    bilirubin_mg_dl: float | None = None,
    stool_ml_day: float | None = None,
) -> GvhdResult | None:
    """MAGIC overall grade from organ stages; None when no organ was assessed.

    Grade I: skin 1–2 only. II: skin 3, or liver 1, or lower GI 1. III: liver 2–3 or lower
    GI 2–3. IV: skin 4, liver 4 or lower GI 4. An organ not assessed counts as stage 0.
    """
    if skin_bsa_pct is None and bilirubin_mg_dl is None and stool_ml_day is None:
        return None
    skin = 0 if skin_bsa_pct is None else skin_stage(skin_bsa_pct)
    liver = 0 if bilirubin_mg_dl is None else liver_stage(bilirubin_mg_dl)
    gi = 0 if stool_ml_day is None else lower_gi_stage(stool_ml_day)
    if skin >= 4 or liver >= 4 or gi >= 4:
        grade = 4
    elif liver >= 2 or gi >= 2:
        grade = 3
    elif skin == 3 or liver == 1 or gi == 1:
        grade = 2
    elif skin >= 1:
        grade = 1
    else:
        grade = 0
    return GvhdResult(skin=skin, liver=liver, lower_gi=gi, grade=grade)


# --- HLH-like syndrome ------------------------------------------------------------------------


def hlh_like(
    ferritin_ng_ml: float | None, *, crs_grade: int, baseline_ferritin_ng_ml: float | None = None
) -> bool:
    """The HLH-like flag: ferritin > 10,000 ng/mL during CRS, or above twice its baseline.

    The baseline is the journey's first ferritin on file (drawn before or at infusion). The
    flag asks a physician to look for organ toxicity and cytopenias; it is not a diagnosis.
    """
    if ferritin_ng_ml is None:
        return False
    if ferritin_ng_ml < 0:
        raise GradingError(f"ferritin_ng_ml must be ≥ 0; got {ferritin_ng_ml}")
    if crs_grade >= 1 and ferritin_ng_ml > HLH_FERRITIN_NG_ML:
        return True
    return (
        baseline_ferritin_ng_ml is not None
        and baseline_ferritin_ng_ml > 0
        and ferritin_ng_ml > 2 * baseline_ferritin_ng_ml
    )


def _enum(cls: type[E], value: E | str, field: str) -> E:
    try:
        return cls(value)
    except ValueError:
        raise GradingError(
            f"{field} {value!r} is not one of: {', '.join(m.value for m in cls)}"
        ) from None
