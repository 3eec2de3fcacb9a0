"""The calendars of recurring series in the store, on SQLite and PostgreSQL; migration 2 adds them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import inspect

from mailflow.store import LATEST, MeetingData, Store, migrations, schema_frozen
from mailflow.store.migrations import MIGRATIONS
from tests.store.conftest import T0


def _series(
    store: Store, uid: str, *, end_hours: int = 1, recurring: bool = True, state: str = "scheduled"
) -> int:
    with store.transaction() as tx:
        meeting, _ = tx.upsert_meeting(
            MeetingData(ical_uid=uid, start_at=T0, end_at=T0 + timedelta(hours=end_hours), recurring=recurring,
                        state=state)
        )  # fmt: skip
        tx.set_series(meeting.id, f"calendar of {uid}")
    return meeting.id


def test_a_series_calendar_is_kept_replaced_and_forgotten(store: Store) -> None:
    meeting_id = _series(store, "a@x")
    with store.transaction() as tx:
        assert tx.get_series(meeting_id) == "calendar of a@x"
        tx.set_series(meeting_id, "the update's calendar")
        assert tx.get_series(meeting_id) == "the update's calendar"
        tx.forget_series(meeting_id)
        assert tx.get_series(meeting_id) is None


def test_only_followed_series_whose_occurrence_ended_are_listed(store: Store) -> None:
    due = _series(store, "due@x")
    _series(store, "later@x", end_hours=5)
    _series(store, "single@x", recurring=False)
    _series(store, "cancelled@x", state="cancelled")
    with store.read() as tx:
        found = tx.series_ended_before(T0 + timedelta(hours=2))
    assert [(m.id, calendar) for m, calendar in found] == [(due, "calendar of due@x")]


def test_advancing_needs_the_occurrence_it_was_read_for(store: Store) -> None:
    meeting_id = _series(store, "race@x")
    nxt = T0 + timedelta(days=7)
    with store.transaction() as tx:
        assert not tx.advance_occurrence(meeting_id, T0 - timedelta(days=7), nxt, nxt + timedelta(hours=1))
        assert tx.advance_occurrence(meeting_id, T0, nxt, nxt + timedelta(hours=1))
        meeting = tx.get_meeting(meeting_id)
    assert meeting is not None and (meeting.start_at, meeting.rescheduled_at) == (nxt, None)


def test_forgetting_the_contact_forgets_the_series_and_every_kept_calendar_naming_them(store: Store) -> None:
    theirs, group, other = _series(store, "gone@x"), _series(store, "group@x"), _series(store, "other@x")
    with store.transaction() as tx:
        # folded inside the address, as Google folds at 75 octets; a longer address is someone else
        tx.set_series(group, "ATTENDEE;CN=Gone:mailto:Gone@Exam\r\n ple.org\nATTENDEE:mailto:sam@example.org")
        tx.set_series(other, "ATTENDEE:mailto:regone@example.org\nATTENDEE:mailto:gone@example.org.uk")
        contact = tx.upsert_contact("gone@example.org")
        tx.set_counterpart(theirs, contact.id)
        tx.forget_contact(contact.id)
        assert tx.get_series(theirs) is None and tx.get_series(group) is None
        assert tx.get_series(other) is not None
        assert tx.get_meeting(group) is not None  # the meeting stays; only its series is not followed


def test_a_version_1_database_gets_the_series_table_and_keeps_its_meetings(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = Store(db_url)
    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS[:1])
    monkeypatch.setattr(migrations, "LATEST", 1)
    assert old.upgrade() == [1]
    with old.transaction() as tx:  # written as version 1 wrote it (today's store writes later columns)
        tx.connection.execute(
            schema_frozen.meetings.insert().values(
                ical_uid="kept@x", start_at=T0, end_at=T0 + timedelta(hours=1), created_at=T0, updated_at=T0
            )
        )
    assert "meeting_series" not in inspect(old.engine).get_table_names()
    monkeypatch.undo()
    assert old.upgrade() == list(range(2, LATEST + 1))
    assert "meeting_series" in inspect(old.engine).get_table_names()
    with old.read() as tx:
        assert [m.ical_uid for m in tx.list_meetings()] == ["kept@x"]
    old.close()
