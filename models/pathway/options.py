"""The options aid: considerations for the reviewing physician from the case's facts.

Seed 001's decision framework ("When to recommend CAR NK over available CAR-T") as data: each
entry says which fact of the case it rests on, what to consider, and where that comes from.
Shown in status and the console from pre-assessment until treatment starts, as suggestions:
never a decision, never a gate — nothing here refuses anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from models.enums import CellSource, Phase, Therapy
from models.messages import OptionHint

if TYPE_CHECKING:
    from models.pathway.journey import Journey

SEED_001 = "seed 001 (CancerFax CAR NK guide), decision framework"

# Until treatment starts the options are still open; after it they are history.
SHOWN_IN = (
    Phase.INTAKE,
    Phase.PRE_ASSESSMENT,
    Phase.PI_REVIEW,
    Phase.LOGISTICS,
    Phase.ARRIVAL,
    Phase.COLLECTION,
    Phase.MANUFACTURING,
)

SOLID_TUMOURS = {"breast", "gastric", "lung", "colorectal", "solid"}


def _indication(j: Journey) -> set[str]:
    """The indication's words ("AML (relapsed)" → {"aml", "relapsed"})."""
    return set(re.split(r"[^a-z0-9]+", j.facts.indication.lower())) - {""}


def _antigens(j: Journey) -> set[str]:
    return {a.upper() for a in j.facts.target_antigens}


@dataclass(frozen=True)
class Consideration:
    """One row of the framework: when it applies, the fact it rests on, what to consider."""

    applies: Callable[[Journey], bool]
    fact: Callable[[Journey], str]
    consider: str
    source: str = SEED_001


FRAMEWORK: tuple[Consideration, ...] = (
    Consideration(
        lambda j: j.facts.prior_car_t and bool(j.facts.antigen_negative_relapse),
        lambda j: (
            ", ".join(j.facts.antigen_negative_relapse)
            + "-negative relapse after CAR-T (antigen escape)"
        ),
        "consider a different target: a CD19+CD22 bispecific CAR NK; approved CAR-T cannot "
        "re-target escaped disease",
    ),
    Consideration(
        lambda j: j.facts.prior_car_t and not j.facts.antigen_negative_relapse,
        lambda j: "relapse after a prior CAR-T",
        "confirm the target antigen on a post-CAR-T biopsy before choosing the same target",
    ),
    Consideration(
        lambda j: "aml" in _indication(j),
        lambda j: "AML",
        "no approved CAR-T for AML: a CD33-, CD123- or NKG2D-based CAR NK trial",
    ),
    Consideration(
        lambda j: bool({"hcc", "hepatocellular"} & _indication(j)),
        lambda j: "hepatocellular carcinoma",
        "no approved CAR therapy for HCC: a GPC3-directed or NKG2D-based CAR NK trial",
    ),
    Consideration(
        lambda j: "HER2" in _antigens(j) and bool(SOLID_TUMOURS & _indication(j)),
        lambda j: "HER2+ solid tumour",
        "no approved CAR-T for solid tumours: a HER2-directed CAR NK trial (ADCC synergy "
        "with trastuzumab)",
    ),
    Consideration(
        lambda j: j.facts.older_adult and j.facts.therapy is Therapy.CAR_T,
        lambda j: "age over 65",
        "CAR NK preferred over CAR-T where a trial is available: rare severe CRS, no ICANS",
    ),
    Consideration(
        lambda j: (
            j.facts.poor_t_cell_quality
            or (j.facts.cell_source is CellSource.AUTOLOGOUS and j.state.manufacturing_failures > 0)
        ),
        lambda j: (
            "poor T-cell quality"
            if j.facts.poor_t_cell_quality
            else f"{j.state.manufacturing_failures} failed manufacturing attempt(s)"
        ),
        "donor CAR NK cells do not depend on the patient's T cells (autologous manufacturing "
        "fails in 5–15 % of heavily pre-treated patients)",
    ),
    Consideration(
        lambda j: j.facts.local_access is False,
        lambda j: "no approved CAR-T available or affordable at home",
        "a CAR NK trial in China covers the product's cost; the family pays logistics, "
        "conditioning and monitoring",
    ),
)


def _negative_antigens(j: Journey) -> list[str]:
    """Antigens the latest relapse is negative for (`CD19-negative` → ["CD19"])."""
    status = j.state.relapses[-1].antigen_status or "" if j.state.relapses else ""
    return re.findall(r"([A-Za-z0-9]+)[- ]?neg", status, flags=re.IGNORECASE)


# After a relapse or progression, until the way back is decided (`re_referral`).
AFTER_RELAPSE: tuple[Consideration, ...] = (
    Consideration(
        lambda j: j.facts.therapy is Therapy.CAR_T and bool(_negative_antigens(j)),
        lambda j: (
            f"{', '.join(a.upper() for a in _negative_antigens(j))}-negative relapse after "
            "this CAR-T (antigen escape)"
        ),
        "another target or a CAR NK trial (seed 001: 30–40 % of CD19 CAR-T responders who "
        "relapse lose CD19; approved CAR-T cannot re-target escaped disease)",
    ),
    Consideration(
        lambda j: not _negative_antigens(j),
        lambda j: "relapse or progression, antigen status not known to be negative",
        "confirm the target antigen on a biopsy of the relapse before choosing the same "
        "target again",
    ),
)


def options(j: Journey) -> list[OptionHint]:
    """The considerations that apply to this journey now: before treatment, the framework;
    after a relapse, until the way back is decided, the considerations after relapse."""
    if j.state.relapses and j.watched and j.state.re_referral_decision is None:
        return [
            OptionHint(fact=c.fact(j), consider=c.consider, source=c.source)
            for c in AFTER_RELAPSE
            if c.applies(j)
        ]
    if j.state.phase not in SHOWN_IN:
        return []
    return [
        OptionHint(fact=c.fact(j), consider=c.consider, source=c.source)
        for c in FRAMEWORK
        if c.applies(j)
    ]
