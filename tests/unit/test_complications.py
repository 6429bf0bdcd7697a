"""Grading after infusion (models/complications.py): each table with its exact thresholds, and
"a grade never falls when a finding only worsens" (Hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.complications import (
    anaemia_grade,
    icaht_grade,
    neutropenic_fever,
    neutrophil_grade,
    platelet_grade,
    tumour_lysis,
)


@pytest.mark.parametrize(
    ("anc", "grade"),
    [
        (2_000, 0),
        (1_999, 1),
        (1_500, 1),
        (1_499, 2),
        (1_000, 2),
        (999, 3),
        (500, 3),
        (499, 4),
        (0, 4),
    ],
)
def test_neutrophil_count_decreased_ctcae_v5(anc: int, grade: int) -> None:
    assert neutrophil_grade(anc) == grade


@pytest.mark.parametrize(
    ("platelets", "grade"),
    [
        (150_000, 0),
        (149_999, 1),
        (75_000, 1),
        (74_999, 2),
        (50_000, 2),
        (49_999, 3),
        (25_000, 3),
        (24_999, 4),
    ],
)
def test_platelet_count_decreased_ctcae_v5(platelets: int, grade: int) -> None:
    assert platelet_grade(platelets) == grade


@pytest.mark.parametrize(
    ("hb", "grade"), [(12.0, 0), (11.9, 1), (10.0, 1), (9.9, 2), (8.0, 2), (7.9, 3), (4.0, 3)]
)
def test_anaemia_ctcae_v5(hb: float, grade: int) -> None:
    assert anaemia_grade(hb) == grade


@pytest.mark.parametrize(
    ("temperature", "anc", "expected"),
    [
        (38.0, 499, True),
        (37.9, 100, False),
        (38.0, 500, False),
        (39.5, 0, True),
        (None, 100, False),
        (38.5, None, False),
    ],
)
def test_neutropenic_fever(temperature: float | None, anc: float | None, expected: bool) -> None:
    assert neutropenic_fever(temperature, anc) is expected


@pytest.mark.parametrize(
    ("labs", "grade"),
    [
        ({"uric_acid_mg_dl": 8.0}, None),  # one criterion is not tumour lysis
        ({"uric_acid_mg_dl": 8.0, "potassium_mmol_l": 6.0}, "laboratory"),
        ({"uric_acid_mg_dl": 7.9, "potassium_mmol_l": 6.0}, None),
        ({"phosphate_mg_dl": 4.5, "calcium_mg_dl": 7.0}, "laboratory"),
        ({"phosphate_mg_dl": 4.4, "calcium_mg_dl": 7.1}, None),
        ({"phosphate_mg_dl": 4.5, "calcium_mg_dl": 7.0, "creatinine_mg_dl": 1.8}, "clinical"),
        ({"phosphate_mg_dl": 4.5, "calcium_mg_dl": 7.0, "creatinine_mg_dl": 1.79}, "laboratory"),
        ({"phosphate_mg_dl": 4.5, "calcium_mg_dl": 7.0, "arrhythmia": True}, "clinical"),
        ({"phosphate_mg_dl": 4.5, "calcium_mg_dl": 7.0, "seizure": True}, "clinical"),
        # Clinical findings without laboratory tumour lysis are not tumour lysis.
        ({"uric_acid_mg_dl": 9.0, "creatinine_mg_dl": 3.0, "arrhythmia": True}, None),
    ],
)
def test_cairo_bishop(labs: dict[str, float | bool], grade: str | None) -> None:
    assert tumour_lysis(creatinine_uln_mg_dl=1.2, **labs).grade == grade  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("counts", "grade"),
    [
        ([(1, 2_000), (5, 1_800)], 0),
        ([(1, 400), (4, 600)], 1),  # ≤ 500 for under 7 days
        ([(1, 400), (8, 450), (9, 900)], 2),  # 7 days
        ([(1, 400), (15, 450)], 3),  # 14 days
        ([(1, 90), (8, 80)], 3),  # ≤ 100 for 7 days
        ([(0, 90), (14, 80)], 4),  # ≤ 100 for 14 days
        ([(0, 400), (30, 450)], 4),  # ≤ 500 for 30 days
        ([(1, 400), (5, 900), (9, 400), (12, 450)], 1),  # two short runs are not one long one
        # Late (after day 30): the level both of the latest two counts reach.
        ([(35, 1_400), (40, 1_200)], 1),
        ([(35, 900), (40, 1_000)], 2),
        ([(35, 400), (40, 300)], 3),
        ([(35, 50), (40, 90)], 4),
        ([(35, 50)], 0),  # one late count is not enough
    ],
)
def test_icaht_eha_ebmt_2023(counts: list[tuple[float, float]], grade: int) -> None:
    assert icaht_grade(counts) == grade


counts = st.lists(
    st.tuples(st.integers(0, 60), st.integers(0, 3_000)),
    min_size=1,
    max_size=12,
    unique_by=lambda c: c[0],
)


@given(counts, st.data())
def test_an_icaht_grade_never_falls_when_a_count_only_falls(
    series: list[tuple[int, int]], data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(series) - 1))
    day, anc = series[i]
    lower = data.draw(st.integers(0, anc))
    worse = [*series[:i], (day, lower), *series[i + 1 :]]
    assert icaht_grade(worse) >= icaht_grade(series)


@given(st.floats(0, 100_000), st.floats(0, 100_000))
def test_count_grades_never_fall_as_counts_fall(a: float, b: float) -> None:
    high, low = max(a, b), min(a, b)
    assert neutrophil_grade(low) >= neutrophil_grade(high)
    assert platelet_grade(low * 20) >= platelet_grade(high * 20)
    assert anaemia_grade(low / 5_000) >= anaemia_grade(high / 5_000)


labs = st.fixed_dictionaries(
    {
        "uric_acid_mg_dl": st.floats(1, 20),
        "potassium_mmol_l": st.floats(2, 9),
        "phosphate_mg_dl": st.floats(1, 10),
        "calcium_mg_dl": st.floats(4, 12),
        "creatinine_mg_dl": st.floats(0.3, 5),
    }
)
RANK = {None: 0, "laboratory": 1, "clinical": 2}


@given(labs, st.floats(0, 5), st.booleans(), st.booleans())
def test_tumour_lysis_never_falls_when_a_value_only_worsens(
    values: dict[str, float], by: float, arrhythmia: bool, seizure: bool
) -> None:
    worse = values | {
        "uric_acid_mg_dl": values["uric_acid_mg_dl"] + by,
        "potassium_mmol_l": values["potassium_mmol_l"] + by,
        "phosphate_mg_dl": values["phosphate_mg_dl"] + by,
        "calcium_mg_dl": values["calcium_mg_dl"] - by,
        "creatinine_mg_dl": values["creatinine_mg_dl"] + by,
    }
    before = tumour_lysis(**values, arrhythmia=False, seizure=False).grade
    after = tumour_lysis(**worse, arrhythmia=arrhythmia, seizure=seizure).grade
    assert RANK[after] >= RANK[before]
