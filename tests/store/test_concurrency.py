"""Two writers at once (the daemon and `mailflow note`), each with its own Store and pool."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from mailflow.store import MeetingData, Store
from tests.store.conftest import T0

ROUNDS = 40


def _both(first: Callable[[], object], second: Callable[[], object]) -> list[object]:
    """Run both at once (a barrier lines them up); any exception fails the test."""
    barrier = threading.Barrier(2)

    def start(job: Callable[[], object]) -> object:
        barrier.wait()
        return job()

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(start, first), pool.submit(start, second)]
        return [f.result(timeout=60) for f in futures]


def test_two_writers_at_once_both_succeed(store: Store, other_store: Store) -> None:
    with store.transaction() as tx:
        meeting_id = tx.upsert_meeting(MeetingData(ical_uid="shared@x"))[0].id

    def daemon() -> None:  # read-then-write batches, the pattern that SQLITE_BUSYs without BEGIN IMMEDIATE
        for n in range(ROUNDS):
            with store.transaction() as tx:
                tx.upsert_contact(f"contact{n}@example.org", f"Contact {n}")
                tx.set_cursor("mailbox", f"1:{n}")

    def note_command() -> None:
        for n in range(ROUNDS):
            with other_store.transaction() as tx:
                assert tx.get_meeting(meeting_id) is not None
                tx.add_note(meeting_id, f"note {n}", source="cli")

    _both(daemon, note_command)
    with store.read() as tx:
        assert len(tx.list_contacts()) == ROUNDS
        assert len(tx.list_notes(meeting_id)) == ROUNDS
        assert tx.get_cursor("mailbox") == f"1:{ROUNDS - 1}"


def test_claim_is_exclusive_across_processes(store: Store, other_store: Store) -> None:
    with store.transaction() as tx:
        meeting_id = tx.upsert_meeting(MeetingData(ical_uid="claim@x"))[0].id
        step_ids = [tx.plan_step(meeting_id, "stay_in_touch", n, T0, "send")[0].id for n in range(ROUNDS)]

    def claimer(target: Store, tag: str) -> Callable[[], list[int]]:
        def run() -> list[int]:
            won = []
            for step_id in step_ids:
                with target.transaction() as tx:
                    if tx.claim_step(step_id, f"<{step_id}.{tag}@m>"):
                        won.append(step_id)
            return won

        return run

    first, second = _both(claimer(store, "a"), claimer(other_store, "b"))
    assert isinstance(first, list) and isinstance(second, list)
    assert sorted(first + second) == step_ids  # every step claimed exactly once
    with store.read() as tx:
        for step_id in step_ids:
            step = tx.get_step(step_id)
            assert step is not None and step.attempts == 1
            assert step.message_id == f"<{step_id}.{'a' if step_id in first else 'b'}@m>"
