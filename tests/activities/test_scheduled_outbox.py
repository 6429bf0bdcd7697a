"""The scheduled outbox on a real case store (SQLite and PostgreSQL): a journey's write
replaces its pending rows, a dispatcher claims due ones alone, the journey's own send of the
same key later is told the dispatcher has it, and a claim left by a dead dispatcher is taken
again."""

from __future__ import annotations

import threading
from datetime import timedelta

import sqlalchemy as sa

from cellpath.store import CaseStore
from cellpath.store.ahead import DONE, PENDING, SENDING, SENT, Claim, Scheduled
from cellpath.store.tables import ScheduledRow
from models.enums import Phase
from models.messages import JourneyWrite, Notification
from tests.builders import STORE_NOW, stored_projection, stored_reminder

NOW = STORE_NOW


def due(key: str, minutes: float) -> Notification:
    return stored_reminder(key, NOW + timedelta(minutes=minutes))


def write(store: CaseStore, revision: int, ahead: list[Notification] | None, sent=()) -> list[str]:
    batch = JourneyWrite(
        projection=stored_projection(revision, Phase.INTAKE),
        notifications=[stored_reminder(k) for k in sent],
        ahead=ahead,
    )
    return store.write_journey(batch).dispatched


def states(store: CaseStore) -> dict[str, str]:
    return {r.idempotency_key: r.state for r in Scheduled(store).rows("C-1")}


def test_each_write_replaces_the_pending_rows_and_an_older_one_changes_nothing(fresh_store):
    write(fresh_store, 1, [due("a", 1), due("b", 2)])
    assert states(fresh_store) == {"a": PENDING, "b": PENDING}
    write(fresh_store, 2, [due("b", 3), due("c", 4)])  # a met, b moved, c new
    rows = Scheduled(fresh_store).rows("C-1")
    assert [(r.idempotency_key, r.due_at) for r in rows] == [
        ("b", NOW + timedelta(minutes=3)),
        ("c", NOW + timedelta(minutes=4)),
    ]
    write(fresh_store, 1, [due("a", 1)])  # a retried older write arrives late
    assert states(fresh_store) == {"b": PENDING, "c": PENDING}
    write(fresh_store, 3, None)  # a write that changes no deadline leaves them
    assert states(fresh_store) == {"b": PENDING, "c": PENDING}
    write(fresh_store, 4, [])  # the journey closed: nothing ahead
    assert states(fresh_store) == {}


def test_a_dispatcher_claims_what_is_due_and_the_journey_then_sends_nothing(fresh_store):
    write(fresh_store, 1, [due("a", 1), due("b", 2), due("c", 60)])
    s = Scheduled(fresh_store)
    assert s.claim(NOW).notifications == []
    claim = s.claim(NOW + timedelta(minutes=2))
    got = claim.notifications
    assert [n.idempotency_key for n in got] == ["a", "b"]
    assert got[0] == due("a", 1)  # the notification exactly as the journey made it
    assert s.claim(NOW + timedelta(minutes=2)).notifications == []  # claimed: not twice
    s.finish(Claim("other", []))
    with fresh_store.session() as session:  # b's round is still sending
        session.execute(
            sa.update(ScheduledRow).where(ScheduledRow.idempotency_key == "b").values(claim="b")
        )
    s.finish(claim)
    # The journey's own timer sends a and b later: both taken; c is still the journey's.
    assert sorted(write(fresh_store, 2, None, sent=["a", "b"])) == ["a", "b"]
    assert states(fresh_store) == {"a": SENT, "b": SENDING, "c": PENDING}
    # A new schedule keeps what was claimed or sent.
    write(fresh_store, 3, [due("c", 60)])
    assert states(fresh_store) == {"a": SENT, "b": SENDING, "c": PENDING}
    # The journey got to c first: it is the journey's to send, and no dispatcher's.
    assert write(fresh_store, 4, None, sent=["c"]) == []
    assert states(fresh_store)["c"] == DONE
    s.finish(Claim("b", [got[1]]))
    assert s.claim(NOW + timedelta(days=1)).notifications == []


def test_a_claim_left_by_a_dead_dispatcher_is_taken_again(fresh_store):
    write(fresh_store, 1, [due("a", 1)])
    s = Scheduled(fresh_store)
    assert len(s.claim(NOW + timedelta(minutes=1)).notifications) == 1  # and the process died
    later = NOW + timedelta(minutes=1, seconds=30)
    assert s.claim(later, stale=timedelta(seconds=60)).notifications == []
    (again,) = s.claim(later + timedelta(seconds=60), stale=timedelta(seconds=60)).notifications
    assert again.idempotency_key == "a"


def test_two_dispatchers_never_hold_the_same_row(fresh_store):
    write(fresh_store, 1, [due(f"k{i:03d}", i / 100) for i in range(300)])
    claimed: list[list[str]] = [[], [], [], []]

    def run(n: int) -> None:
        s = Scheduled(fresh_store)
        while got := s.claim(NOW + timedelta(hours=1), limit=20).notifications:
            claimed[n].extend(x.idempotency_key for x in got)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [k for keys in claimed for k in keys]
    assert sorted(every) == sorted(set(every)) and len(every) == 300
