"""The planner's anchors kept by the store: scheduled_at, rescheduled_at, confirmed_at, sticky trust."""

from __future__ import annotations

from datetime import timedelta

import time_machine

from mailflow.store import Store
from mailflow.store.rows import MeetingData
from tests.store.conftest import T0


def invite(
    sequence: int, start_offset_h: int = 0, *, trusted: bool = False, state: str = "scheduled"
) -> MeetingData:
    start = T0 + timedelta(days=3, hours=start_offset_h)
    return MeetingData(
        ical_uid="uid-1@example.org",
        sequence=sequence,
        dtstamp=T0 + timedelta(minutes=sequence),
        start_at=start,
        end_at=start + timedelta(minutes=30),
        trusted=trusted,
        state=state,
    )


def test_scheduled_at_is_set_once_and_reschedule_is_stamped(store: Store) -> None:
    with time_machine.travel(T0, tick=False), store.transaction() as tx:
        first, _ = tx.upsert_meeting(invite(0))
    assert first.scheduled_at == T0
    assert first.rescheduled_at is None
    later = T0 + timedelta(hours=5)
    with time_machine.travel(later, tick=False), store.transaction() as tx:
        same_time, applied = tx.upsert_meeting(invite(1))
    assert applied and same_time.rescheduled_at is None
    assert same_time.scheduled_at == T0
    with time_machine.travel(later + timedelta(hours=1), tick=False), store.transaction() as tx:
        moved, applied = tx.upsert_meeting(invite(2, start_offset_h=2))
    assert applied
    assert moved.rescheduled_at == later + timedelta(hours=1)
    assert moved.scheduled_at == T0


def test_trust_is_kept_by_later_updates(store: Store) -> None:
    with store.transaction() as tx:
        tx.upsert_meeting(invite(0, trusted=True))
        row, applied = tx.upsert_meeting(invite(1, trusted=False))
    assert applied and row.trusted


def test_set_trusted_and_confirmed_at(store: Store) -> None:
    with time_machine.travel(T0, tick=False), store.transaction() as tx:
        row, _ = tx.upsert_meeting(invite(0))
        assert not row.trusted
        assert tx.set_trusted(row.id)
        assert tx.set_confirmed(row.id)
        again = tx.get_meeting(row.id)
    assert again is not None and again.trusted
    assert again.confirmed_at == T0
