"""The dispatcher's round reads: in a storm every row asks who holds the lead coordinator's
role and how to reach them; one round asks the directory once, and the next round asks again
(a change to the directory is never held longer than a round)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from activities.dispatcher import _RoundReads


class CountingDirectory:
    """A directory that answers from a dict and counts what it was asked."""

    def __init__(self) -> None:
        self.asked: Counter[str] = Counter()
        self.lead = "lead-1"

    def holders(
        self, role: str, *, site: str | None, program: str | None, at: datetime
    ) -> list[str]:
        self.asked["holders"] += 1
        return [self.lead]

    def contact(self, actor: str) -> str:
        self.asked["contact"] += 1
        return f"{actor}@example.org"

    def case_context(self, case_id: str) -> tuple[str, str]:
        self.asked["case_context"] += 1
        return ("site-a", "trial")


AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_a_round_asks_who_holds_a_role_and_their_contact_once():
    directory = CountingDirectory()
    reads = _RoundReads(directory)
    for case in ("C-1", "C-2", "C-3"):
        site, program = reads.case_context(case)
        (person,) = reads.holders("lead_coordinator", site=site, program=program, at=AT)
        assert reads.contact(person) == "lead-1@example.org"
    # Per case, as asked; shared by the round's rows: once.
    assert directory.asked == Counter(case_context=3, holders=1, contact=1)


def test_different_questions_are_not_mixed_up():
    directory = CountingDirectory()
    reads = _RoundReads(directory)
    assert reads.contact("a") == "a@example.org"
    assert reads.contact("b") == "b@example.org"
    reads.holders("lead_coordinator", site="site-a", program="trial", at=AT)
    reads.holders("lead_coordinator", site="site-b", program="trial", at=AT)
    assert directory.asked == Counter(contact=2, holders=2)


def test_the_next_round_sees_a_change_to_the_directory():
    directory = CountingDirectory()
    reads = _RoundReads(directory)
    assert reads.holders("lead_coordinator", site=None, program=None, at=AT) == ["lead-1"]
    directory.lead = "lead-2"
    # Within the round the answer stands; the next round (cleared) asks again.
    assert reads.holders("lead_coordinator", site=None, program=None, at=AT) == ["lead-1"]
    reads.clear()
    assert reads.holders("lead_coordinator", site=None, program=None, at=AT) == ["lead-2"]
