"""Toxicity grading against the ASTCT and MAGIC tables (docs/clinical-rules.md), row by row,
and its properties (hypothesis).

Test ids name the table row they check, e.g. `CRS grade 3 / hypotension: one vasopressor`.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.grading import (
    CerebralEdema,
    Consciousness,
    GradingError,
    OxygenDevice,
    Seizure,
    crs_grade,
    gvhd_grade,
    hlh_like,
    icans_grade,
    ice_score,
    treatment_decides_crs,
)

FEVER = 38.6
NORMAL_BP = 120

# --- CRS (ASTCT table) ------------------------------------------------------------------------

CRS_ROWS = [
    ("no fever → no CRS", dict(temperature_c=37.2), 0),
    ("fever exactly 38.0 °C counts", dict(temperature_c=38.0), 1),
    ("grade 1 / fever, no hypotension, no hypoxia", dict(temperature_c=FEVER), 1),
    ("grade 2 / hypotension not requiring vasopressors", dict(systolic_bp=85), 2),
    (
        "grade 2 / hypoxia: low-flow nasal cannula ≤ 6 L/min",
        dict(oxygen_device="low_flow_nasal_cannula", oxygen_flow_l_min=6),
        2,
    ),
    ("grade 2 / hypoxia: blow-by", dict(oxygen_device="blow_by"), 2),
    ("grade 3 / hypotension: one vasopressor", dict(systolic_bp=95, vasopressors=1), 3),
    (
        "grade 3 / one vasopressor with vasopressin",
        dict(vasopressors=1, vasopressin=True),
        3,
    ),
    ("grade 3 / vasopressin alone is one vasopressor", dict(vasopressin=True), 3),
    (
        "grade 3 / hypoxia: high-flow nasal cannula > 6 L/min",
        dict(oxygen_device="high_flow_nasal_cannula", oxygen_flow_l_min=8),
        3,
    ),
    (
        "grade 3 / a 'low-flow' cannula above 6 L/min is high flow",
        dict(oxygen_device="low_flow_nasal_cannula", oxygen_flow_l_min=7),
        3,
    ),
    ("grade 3 / hypoxia: face mask", dict(oxygen_device="face_mask"), 3),
    ("grade 3 / hypoxia: non-rebreather", dict(oxygen_device="non_rebreather"), 3),
    ("grade 3 / hypoxia: Venturi", dict(oxygen_device="venturi"), 3),
    ("grade 4 / hypotension: several vasopressors", dict(vasopressors=2), 4),
    (
        "grade 3 / vasopressin does not count toward several",
        dict(vasopressors=1, vasopressin=True, systolic_bp=80),
        3,
    ),
    ("grade 4 / hypoxia: CPAP", dict(oxygen_device="cpap"), 4),
    ("grade 4 / hypoxia: BiPAP", dict(oxygen_device="bipap"), 4),
    (
        "grade 4 / hypoxia: intubation and ventilation",
        dict(oxygen_device="mechanical_ventilation"),
        4,
    ),
    (
        "worse of the two domains: grade-2 hypotension with grade-3 hypoxia",
        dict(systolic_bp=85, oxygen_device="face_mask"),
        3,
    ),
    (
        "fever attributable to another cause → no CRS",
        dict(fever_other_cause=True, systolic_bp=80, oxygen_device="face_mask"),
        0,
    ),
    (
        "after anti-cytokine therapy fever is not required",
        dict(temperature_c=37.0, anticytokine_or_antipyretic_given=True, vasopressors=1),
        3,
    ),
    (
        "after antipyretics, no fever and no hypotension/hypoxia → 0",
        dict(temperature_c=37.0, anticytokine_or_antipyretic_given=True),
        0,
    ),
    ("grade 5 / death from CRS", dict(died_of_crs=True), 5),
]


@pytest.mark.parametrize(("row", "overrides", "grade"), CRS_ROWS, ids=[r[0] for r in CRS_ROWS])
def test_crs_table(row: str, overrides: dict, grade: int):
    inputs = dict(temperature_c=FEVER, systolic_bp=NORMAL_BP) | overrides
    assert crs_grade(**inputs) == grade, row


def test_crs_refuses_what_it_cannot_grade():
    with pytest.raises(GradingError, match="temperature_c must be in °C"):
        crs_grade(temperature_c=101.3, systolic_bp=120)
    with pytest.raises(GradingError, match="oxygen_device 'tent' is not one of"):
        crs_grade(temperature_c=FEVER, systolic_bp=120, oxygen_device="tent")
    with pytest.raises(GradingError, match="oxygen_device is 'none'"):
        crs_grade(temperature_c=FEVER, systolic_bp=120, oxygen_flow_l_min=2)
    with pytest.raises(GradingError, match="vasopressors must be ≥ 0"):
        crs_grade(temperature_c=FEVER, systolic_bp=120, vasopressors=-1)


# --- ICE and ICANS ----------------------------------------------------------------------------


def test_ice_score_adds_its_five_parts():
    assert ice_score(orientation=4, naming=3, commands=1, writing=1, attention=1) == 10
    assert ice_score(orientation=2, naming=1, commands=1, writing=0, attention=0) == 4
    with pytest.raises(GradingError, match="ICE naming must be 0–3"):
        ice_score(orientation=4, naming=4, commands=1, writing=1, attention=1)


ICANS_ROWS = [
    ("ICE 10 with no other finding → no ICANS", dict(ice_score=10), 0),
    ("grade 1 / ICE 7–9 (9)", dict(ice_score=9), 1),
    ("grade 1 / ICE 7–9 (7)", dict(ice_score=7), 1),
    ("grade 2 / ICE 3–6 (6)", dict(ice_score=6), 2),
    ("grade 2 / ICE 3–6 (3)", dict(ice_score=3), 2),
    ("grade 3 / ICE 0–2 (2)", dict(ice_score=2), 3),
    ("grade 3 / ICE 0 in an awake patient", dict(ice_score=0), 3),
    ("grade 4 / ICE 0, unarousable", dict(ice_score=0, consciousness="unarousable"), 4),
    ("grade 1 / awakens spontaneously", dict(consciousness="awakens_spontaneously"), 1),
    ("grade 2 / awakens to voice", dict(consciousness="awakens_to_voice"), 2),
    ("grade 3 / awakens only to touch", dict(consciousness="awakens_to_touch"), 3),
    ("grade 4 / unarousable", dict(consciousness="unarousable"), 4),
    ("grade 3 / seizure resolving rapidly", dict(seizure="resolved_rapidly"), 3),
    ("grade 4 / prolonged or repeated seizures", dict(seizure="prolonged_or_repeated"), 4),
    ("grade 4 / deep focal motor weakness", dict(motor_weakness=True), 4),
    ("grade 3 / focal oedema", dict(cerebral_edema="focal"), 3),
    ("grade 4 / diffuse oedema", dict(cerebral_edema="diffuse"), 4),
    ("most severe domain wins", dict(ice_score=8, consciousness="awakens_to_touch"), 3),
]


@pytest.mark.parametrize(("row", "inputs", "grade"), ICANS_ROWS, ids=[r[0] for r in ICANS_ROWS])
def test_icans_table(row: str, inputs: dict, grade: int):
    assert icans_grade(**inputs).grade == grade, row


def test_children_twelve_and_under_need_capd_not_ice():
    result = icans_grade(ice_score=2, paediatric=True)
    assert (result.grade, result.capd_required) == (0, True)
    # The other domains still grade a child.
    assert icans_grade(ice_score=2, seizure="resolved_rapidly", paediatric=True).grade == 3


def test_icans_refuses_unknown_values():
    with pytest.raises(GradingError, match="consciousness 'drowsy' is not one of"):
        icans_grade(consciousness="drowsy")
    with pytest.raises(GradingError, match="ice_score must be 0–10"):
        icans_grade(ice_score=11)


# --- MAGIC acute GvHD ---------------------------------------------------------------------------

GVHD_ROWS = [
    ("grade 0 / no organ involved", dict(skin_bsa_pct=0, bilirubin_mg_dl=1.0, stool_ml_day=200), 0),
    ("grade I / skin stage 1 (< 25 %)", dict(skin_bsa_pct=10), 1),
    ("grade I / skin stage 2 (25–50 %)", dict(skin_bsa_pct=50), 1),
    ("grade II / skin stage 3 (> 50 %)", dict(skin_bsa_pct=60), 2),
    ("grade II / liver stage 1 (bilirubin 2–3)", dict(bilirubin_mg_dl=2.0), 2),
    ("grade II / lower GI stage 1 (500–999 mL)", dict(stool_ml_day=500), 2),
    ("grade III / liver stage 2 (3.1–6)", dict(bilirubin_mg_dl=3.1), 3),
    ("grade III / liver stage 3 (6.1–15)", dict(bilirubin_mg_dl=15), 3),
    ("grade III / lower GI stage 2 (1000–1500 mL)", dict(stool_ml_day=1500), 3),
    ("grade III / lower GI stage 3 (> 1500 mL)", dict(stool_ml_day=1600), 3),
    ("grade IV / liver stage 4 (> 15)", dict(bilirubin_mg_dl=15.1), 4),
    ("grade III whatever the skin", dict(skin_bsa_pct=80, stool_ml_day=1200), 3),
]


@pytest.mark.parametrize(("row", "inputs", "grade"), GVHD_ROWS, ids=[r[0] for r in GVHD_ROWS])
def test_magic_table(row: str, inputs: dict, grade: int):
    result = gvhd_grade(**inputs)
    assert result is not None and result.grade == grade, row


def test_magic_organ_stage_boundaries():
    stages = [
        (gvhd_grade(bilirubin_mg_dl=b).liver, s)  # type: ignore[union-attr]
        for b, s in [(1.99, 0), (3.0, 1), (6.0, 2), (6.1, 3), (15.01, 4)]
    ]
    assert [a for a, _ in stages] == [s for _, s in stages]
    gi = [gvhd_grade(stool_ml_day=v).lower_gi for v in (499, 999, 1000, 1501)]  # type: ignore[union-attr]
    assert gi == [0, 1, 2, 3]
    assert gvhd_grade() is None  # nothing assessed is not "grade 0"


def test_hlh_like_flag():
    assert hlh_like(12_000, crs_grade=1)
    assert not hlh_like(12_000, crs_grade=0)  # > 10,000 counts during CRS
    assert hlh_like(900, crs_grade=0, baseline_ferritin_ng_ml=400)  # above twice the baseline
    assert not hlh_like(800, crs_grade=0, baseline_ferritin_ng_ml=400)
    assert not hlh_like(None, crs_grade=3)


# --- properties -------------------------------------------------------------------------------

DEVICE_ORDER = [
    OxygenDevice.NONE,
    OxygenDevice.BLOW_BY,
    OxygenDevice.LOW_FLOW_NASAL_CANNULA,
    OxygenDevice.HIGH_FLOW_NASAL_CANNULA,
    OxygenDevice.FACE_MASK,
    OxygenDevice.CPAP,
]

crs_inputs = st.fixed_dictionaries(
    {
        "temperature_c": st.floats(35.0, 42.0),
        "systolic_bp": st.integers(40, 200),
        "vasopressors": st.integers(0, 4),
        "vasopressin": st.booleans(),
        "device": st.integers(0, len(DEVICE_ORDER) - 1),
        "flow": st.floats(0.5, 60.0),
        "fever_other_cause": st.booleans(),
        "anticytokine_or_antipyretic_given": st.booleans(),
    }
)


def _crs(d: dict) -> int:
    device = DEVICE_ORDER[d["device"]]
    return crs_grade(
        temperature_c=d["temperature_c"],
        systolic_bp=d["systolic_bp"],
        vasopressors=d["vasopressors"],
        vasopressin=d["vasopressin"],
        oxygen_device=device,
        oxygen_flow_l_min=None if device is OxygenDevice.NONE else d["flow"],
        fever_other_cause=d["fever_other_cause"],
        anticytokine_or_antipyretic_given=d["anticytokine_or_antipyretic_given"],
    )


@given(crs_inputs)
def test_crs_is_total_over_valid_input(d: dict):
    assert 0 <= _crs(d) <= 4


@given(crs_inputs, st.data())
def test_crs_worse_inputs_never_lower_the_grade(d: dict, data: st.DataObject):
    worse = dict(d)
    worse["temperature_c"] = data.draw(st.floats(d["temperature_c"], 42.0))
    worse["systolic_bp"] = data.draw(st.integers(40, d["systolic_bp"]))
    worse["vasopressors"] = data.draw(st.integers(d["vasopressors"], 4))
    worse["vasopressin"] = d["vasopressin"] or data.draw(st.booleans())
    worse["device"] = data.draw(st.integers(d["device"], len(DEVICE_ORDER) - 1))
    worse["flow"] = data.draw(st.floats(d["flow"], 60.0))
    worse["fever_other_cause"] = d["fever_other_cause"] and data.draw(st.booleans())
    worse["anticytokine_or_antipyretic_given"] = d[
        "anticytokine_or_antipyretic_given"
    ] or data.draw(st.booleans())
    assert _crs(worse) >= _crs(d)


@given(crs_inputs)
def test_the_form_asks_what_was_given_exactly_when_the_answer_changes_the_grade(d: dict):
    """A form that takes silence for "nothing given" saves a pressor-dependent patient without
    fever as CRS 0; `treatment_decides_crs` says when to ask instead."""
    device = DEVICE_ORDER[d["device"]]
    decides = treatment_decides_crs(
        temperature_c=d["temperature_c"],
        systolic_bp=d["systolic_bp"],
        vasopressors=d["vasopressors"],
        vasopressin=d["vasopressin"],
        oxygen_device=device,
        oxygen_flow_l_min=None if device is OxygenDevice.NONE else d["flow"],
        fever_other_cause=d["fever_other_cause"],
    )
    given = _crs(d | {"anticytokine_or_antipyretic_given": True})
    nothing = _crs(d | {"anticytokine_or_antipyretic_given": False})
    assert decides == (given != nothing)


@given(st.floats(allow_nan=False).filter(lambda t: not 25.0 <= t <= 45.0))
def test_crs_refuses_every_impossible_temperature(t: float):
    with pytest.raises(GradingError, match="temperature_c"):
        crs_grade(temperature_c=t, systolic_bp=120)


CONSCIOUSNESS_ORDER = list(Consciousness)
SEIZURE_ORDER = list(Seizure)
EDEMA_ORDER = list(CerebralEdema)

icans_inputs = st.fixed_dictionaries(
    {
        "ice": st.one_of(st.none(), st.integers(0, 10)),
        "consciousness": st.integers(0, 4),
        "seizure": st.integers(0, 2),
        "motor": st.booleans(),
        "edema": st.integers(0, 2),
        "paediatric": st.booleans(),
    }
)


def _icans(d: dict) -> int:
    return icans_grade(
        ice_score=d["ice"],
        consciousness=CONSCIOUSNESS_ORDER[d["consciousness"]],
        seizure=SEIZURE_ORDER[d["seizure"]],
        motor_weakness=d["motor"],
        cerebral_edema=EDEMA_ORDER[d["edema"]],
        paediatric=d["paediatric"],
    ).grade


@given(icans_inputs, st.data())
def test_icans_is_total_and_monotone(d: dict, data: st.DataObject):
    assert 0 <= _icans(d) <= 4
    worse = dict(d)
    if d["ice"] is not None:
        worse["ice"] = data.draw(st.integers(0, d["ice"]))
    worse["consciousness"] = data.draw(st.integers(d["consciousness"], 4))
    worse["seizure"] = data.draw(st.integers(d["seizure"], 2))
    worse["motor"] = d["motor"] or data.draw(st.booleans())
    worse["edema"] = data.draw(st.integers(d["edema"], 2))
    assert _icans(worse) >= _icans(d)


@given(st.integers().filter(lambda n: not 0 <= n <= 10))
def test_icans_refuses_every_impossible_ice_score(n: int):
    with pytest.raises(GradingError, match="ice_score must be 0–10"):
        icans_grade(ice_score=n)


gvhd_inputs = st.tuples(st.floats(0, 100), st.floats(0, 40), st.floats(0, 5000))


@given(gvhd_inputs, st.data())
def test_gvhd_is_total_and_monotone(organs: tuple[float, float, float], data: st.DataObject):
    skin, bili, stool = organs
    base = gvhd_grade(skin_bsa_pct=skin, bilirubin_mg_dl=bili, stool_ml_day=stool)
    assert base is not None and 0 <= base.grade <= 4
    worse = gvhd_grade(
        skin_bsa_pct=data.draw(st.floats(skin, 100)),
        bilirubin_mg_dl=data.draw(st.floats(bili, 40)),
        stool_ml_day=data.draw(st.floats(stool, 5000)),
    )
    assert worse is not None and worse.grade >= base.grade


@given(st.floats(allow_nan=False).filter(lambda v: not 0 <= v <= 100))
def test_gvhd_refuses_impossible_body_surface(v: float):
    with pytest.raises(GradingError, match="gvhd_skin_bsa_pct must be 0–100"):
        gvhd_grade(skin_bsa_pct=v)
