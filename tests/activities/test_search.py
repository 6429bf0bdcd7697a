"""Search by name or passport number in the case store, on SQLite and PostgreSQL: accents,
case, spaces and script do not matter (pinyin for Chinese, Latin for Cyrillic); erasure
clears what search matched; the care-team rule is applied to many cases at once."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cellpath.store import CaseStore
from cellpath.store.access import Identities
from cellpath.store.search import fold, search_key
from cellpath.store.tables import Patient
from models.enums import CellSource, Phase, Program, Therapy
from models.messages import JourneyProjection, JourneyWrite
from models.roles import Role

PEOPLE = {
    "S-1": ("José Núñez", "ES", "PAE 123 456"),
    "S-2": ("王伟", "CN", "G7654321"),
    "S-3": ("Иван Петров", "RU", "75 1234567"),
}


def test_folding() -> None:
    assert fold("José Núñez") == fold("JOSE nunez") == "josenunez"
    assert fold("王伟") == fold("Wang Wei") == "wangwei"
    assert fold("Иван") == "ivan"
    assert search_key("王伟", "G 765") == "|wangwei|g765|"
    assert search_key(None, None) is None


@pytest.fixture
def people(fresh_store: CaseStore) -> Identities:
    for case_id, (name, country, passport) in PEOPLE.items():
        ref = f"pt-{case_id.lower()}"
        with fresh_store.session() as s:
            fresh_store.add_patient(
                s,
                Patient(
                    patient_ref=ref,
                    full_name=name,
                    birth_date=date(1970, 1, 1),
                    nationality=country,
                    passport_number=passport,
                    created_at=datetime.now(UTC),
                ),
                case_id,
            )
        fresh_store.write_journey(
            JourneyWrite(
                projection=JourneyProjection(
                    case_id=case_id,
                    patient_ref=ref,
                    revision=1,
                    phase=Phase.PI_REVIEW,
                    therapy=Therapy.CAR_T,
                    cell_source=CellSource.AUTOLOGOUS,
                    program=Program.TRIAL,
                    site="site-a" if case_id != "S-3" else "site-b",
                    coordinator="coord-1",
                    updated_at=datetime.now(UTC),
                )
            )
        )
    return Identities(fresh_store)


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("jose nunez", ["S-1"]),
        ("NÚÑEZ", ["S-1"]),
        ("wang wei", ["S-2"]),
        ("王伟", ["S-2"]),
        ("ivan", ["S-3"]),
        ("pae123456", ["S-1"]),
        ("75 12345", ["S-3"]),
        ("s-2", ["S-2"]),
        ("nobody", []),
    ],
)
def test_search_finds_by_name_passport_or_case_id(
    people: Identities, typed: str, found: list[str]
) -> None:
    assert [r.case_id for r in people.search(typed)] == found


def test_names_in_one_query_and_the_care_team_for_many_cases(
    people: Identities, fresh_store: CaseStore
) -> None:
    assert people.names(["S-1", "S-2"]) == {"S-1": ("José Núñez", "ES"), "S-2": ("王伟", "CN")}
    rows = people.search("s-")
    assert people.in_care_team("coord-1", Role.COORDINATOR, rows) == {"S-1", "S-2", "S-3"}
    assert people.in_care_team("coord-2", Role.COORDINATOR, rows) == set()
    fresh_store.set_role("nurse-a", Role.SITE_STAFF, by="test")
    fresh_store.set_sites("nurse-a", ["site-a"], by="test")
    assert people.in_care_team("nurse-a", Role.SITE_STAFF, rows) == {"S-1", "S-2"}


def test_erasure_clears_what_search_matched(people: Identities, fresh_store: CaseStore) -> None:
    fresh_store.erase_patient("S-2", actor="coord-1", reason="the patient asked (GDPR art. 17)")
    assert people.search("wang wei") == []
    assert [r.case_id for r in people.search("S-2")] == ["S-2"]  # the case, by its id
    assert people.names(["S-2"]) == {"S-2": (None, None)}
