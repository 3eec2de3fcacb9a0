"""A series moves on by itself: the next occurrence read again from the calendar it came with."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

from mailflow.engine.planning import occurrence_notes
from mailflow.engine.series import SETTLE, STALE_AFTER, advance_series, next_occurrence
from mailflow.store import MeetingData, Store

BERLIN = ZoneInfo("Europe/Berlin")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"


def calendar(
    rule: str, *, extra: str = "", start: str = "20250108T080000", end: str = "20250108T083000"
) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:series-1@x.example\r\n"
        f"DTSTAMP:20250101T000000Z\r\nDTSTART;TZID=Europe/Berlin:{start}\r\nDTEND;TZID=Europe/Berlin:{end}\r\n"
        f"RRULE:{rule}\r\n{extra}SUMMARY:Weekly\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'm.db'}")
    yield opened
    opened.close()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_the_next_occurrence_is_the_first_not_over_at_now() -> None:
    weekly = calendar("FREQ=WEEKLY;BYDAY=WE")
    assert next_occurrence(weekly, BERLIN, utc(2025, 3, 6)) == (
        utc(2025, 3, 12, 7), utc(2025, 3, 12, 7, 30), "2025-03-12T07:00:00+00:00"
    )  # fmt: skip
    # summer time: 08:00 in Berlin is 06:00 UTC
    assert next_occurrence(weekly, BERLIN, utc(2025, 7, 3))[:2] == (
        utc(2025, 7, 9, 6),
        utc(2025, 7, 9, 6, 30),
    )  # type: ignore[index]
    # an occurrence under way is still the current one
    assert next_occurrence(weekly, BERLIN, utc(2025, 3, 12, 7, 15))[0] == utc(2025, 3, 12, 7)  # type: ignore[index]


def test_exdates_and_overrides_count_as_they_did_for_the_invite() -> None:
    text = (FIXTURES / "google_recurring.eml").read_text()
    text = text[text.index("BEGIN:VCALENDAR") : text.index("END:VCALENDAR") + 13]
    # 26 February is excluded; 5 March moved to 09:00 by an override
    assert next_occurrence(text, BERLIN, utc(2025, 2, 20))[0] == utc(2025, 3, 5, 8)  # type: ignore[index]
    assert next_occurrence(text, BERLIN, utc(2025, 3, 6))[0] == utc(2025, 3, 12, 7)  # type: ignore[index]


def test_an_all_day_series_starts_at_midnight_in_the_owners_zone() -> None:
    text = calendar("FREQ=MONTHLY;BYMONTHDAY=1", start="20250101", end="20250102").replace(
        "TZID=Europe/Berlin:2025010", "VALUE=DATE:2025010"
    )
    assert next_occurrence(text, BERLIN, utc(2025, 3, 5)) == (
        utc(2025, 3, 31, 22),
        utc(2025, 4, 1, 22),
        "2025-04-01",
    )


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=WEEKLY;COUNT=3",  # its last occurrence was 22 January
        "FREQ=WEEKLY;UNTIL=20250201T000000Z",
        "FREQ=MINUTELY",  # never expanded: its first date comes back
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",  # never happens
    ],
)
def test_a_series_with_nothing_left_has_no_next_occurrence(rule: str) -> None:
    assert next_occurrence(calendar(rule), BERLIN, utc(2025, 3, 6)) is None


def test_junk_has_no_next_occurrence() -> None:
    assert next_occurrence("BEGIN:VCALENDAR\r\nnonsense\r\n", BERLIN, utc(2025, 3, 6)) is None


def _series_meeting(store: Store, rule: str, *, state: str = "scheduled") -> int:
    start = utc(2025, 3, 5, 7)
    with store.transaction() as tx:
        meeting, _ = tx.upsert_meeting(
            MeetingData(ical_uid=f"uid-{rule}-{state}", start_at=start, end_at=start + timedelta(minutes=30),
                        recurring=True, state=state)
        )  # fmt: skip
        tx.set_series(meeting.id, calendar(rule))
    return meeting.id


def test_advance_waits_for_the_occurrence_to_end_and_its_steps_to_go_out(store: Store) -> None:
    weekly = _series_meeting(store, "FREQ=WEEKLY;BYDAY=WE")
    ended = _series_meeting(store, "FREQ=WEEKLY;COUNT=9")
    cancelled = _series_meeting(store, "FREQ=WEEKLY;BYDAY=WE", state="cancelled")
    over = utc(2025, 3, 5, 7, 30)
    with store.transaction() as tx:
        reminder, _ = tx.plan_step(weekly, "take_action", 20250305, utc(2025, 3, 6, 8), "send")
    early = advance_series(store, BERLIN, over + SETTLE - timedelta(minutes=1))
    assert (early.advanced, early.ended) == (0, 0)
    waiting = advance_series(store, BERLIN, over + SETTLE + timedelta(minutes=1))
    assert (waiting.advanced, waiting.ended) == (0, 1)  # the weekly one waits for its reminder
    with store.transaction() as tx:
        assert tx.claim_step(reminder.id, "<r@x>") and tx.mark_sent(
            reminder.id, at=utc(2025, 3, 6, 8), receipt="250 ok"
        )
    later = advance_series(store, BERLIN, utc(2025, 3, 6, 9))
    assert (later.advanced, later.ended) == (1, 0)
    with store.read() as tx:
        moved, kept, untouched = (tx.get_meeting(i) for i in (weekly, ended, cancelled))
        assert moved is not None and moved.start_at == utc(2025, 3, 12, 7) and moved.rescheduled_at is None
        assert kept is not None and kept.start_at == utc(2025, 3, 5, 7)  # stays at its last occurrence
        assert untouched is not None and untouched.start_at == utc(2025, 3, 5, 7)
        assert tx.get_series(ended) is None and tx.get_series(weekly) is not None
    again = advance_series(store, BERLIN, utc(2025, 3, 6, 10))
    assert (again.advanced, again.ended) == (0, 0)  # nothing is read twice


def test_a_step_held_for_long_is_skipped_with_the_reason_and_the_series_moves_on(store: Store) -> None:
    weekly = _series_meeting(store, "FREQ=WEEKLY;BYDAY=WE")
    with store.transaction() as tx:
        held, _ = tx.plan_step(weekly, "thank_you", 20250305, utc(2025, 3, 5, 10), "send")
    assert (
        advance_series(store, BERLIN, utc(2025, 3, 5, 7, 30) + STALE_AFTER - timedelta(hours=1)).advanced == 0
    )
    assert (
        advance_series(store, BERLIN, utc(2025, 3, 5, 7, 30) + STALE_AFTER + timedelta(hours=1)).advanced == 1
    )
    with store.read() as tx:
        step = next(s for s in tx.list_steps(weekly) if s.id == held.id)
        meeting = tx.get_meeting(weekly)
    assert step.state == "skipped" and "moved on" in step.reason
    assert meeting is not None and meeting.start_at == utc(2025, 3, 19, 7)  # the first not over a week later


def test_an_all_day_occurrence_passed_over_east_of_utc_does_not_end_the_series() -> None:
    text = calendar("FREQ=WEEKLY;COUNT=10", start="20250101", end="20250102").replace(
        "TZID=Europe/Berlin:2025010", "VALUE=DATE:2025010"
    )
    # midnight in Berlin is 23:00 UTC the day before; the skipped day must not come back again and again
    found = next_occurrence(text, BERLIN, utc(2025, 1, 10), skip=frozenset({"2025-01-15"}))
    assert found == (utc(2025, 1, 21, 23), utc(2025, 1, 22, 23), "2025-01-22")


def test_occurrences_that_later_mail_moved_or_cancelled_are_passed_over(store: Store) -> None:
    weekly = calendar("FREQ=WEEKLY;BYDAY=WE")
    skipped = frozenset({utc(2025, 3, 12, 7).isoformat(), utc(2025, 3, 19, 7).isoformat()})
    assert next_occurrence(weekly, BERLIN, utc(2025, 3, 6), skip=skipped)[0] == utc(2025, 3, 26, 7)  # type: ignore[index]
    series = _series_meeting(store, "FREQ=WEEKLY;BYDAY=WE")
    with store.transaction() as tx:
        master = tx.get_meeting(series)
        assert master is not None and master.ical_uid
        moved = utc(2025, 3, 13, 15)  # the 12 March occurrence, moved to Thursday by its own invite
        tx.upsert_meeting(
            MeetingData(ical_uid=master.ical_uid, recurrence_id=utc(2025, 3, 12, 7).isoformat(), start_at=moved,
                        end_at=moved + timedelta(minutes=30), recurring=True)
        )  # fmt: skip
    assert advance_series(store, BERLIN, utc(2025, 3, 7)).advanced == 1
    with store.read() as tx:
        assert tx.overridden_occurrences(master.ical_uid) == {utc(2025, 3, 12, 7).isoformat()}
        advanced = tx.get_meeting(series)
    assert advanced is not None and advanced.start_at == utc(2025, 3, 19, 7)  # the moved one has its own row


def test_a_series_uses_the_notes_of_its_current_occurrence_only(store: Store) -> None:
    series = _series_meeting(store, "FREQ=WEEKLY;BYDAY=WE")
    with time_machine.travel(utc(2025, 2, 26, 9), tick=False), store.transaction() as tx:
        tx.add_note(series, "last week: read the book")
    with time_machine.travel(utc(2025, 3, 5, 9), tick=False), store.transaction() as tx:
        tx.add_note(series, "this week: call Sam")
        single, _ = tx.upsert_meeting(
            MeetingData(ical_uid="one@x", start_at=utc(2025, 3, 6, 7))
        )  # notes before it count
        tx.add_note(single.id, "about the single meeting")
    with store.read() as tx:
        meeting, one = tx.get_meeting(series), tx.get_meeting(single.id)
        assert meeting is not None and one is not None
        assert [n.text for n in occurrence_notes(tx, meeting)] == ["this week: call Sam"]
        assert [n.text for n in occurrence_notes(tx, one)] == ["about the single meeting"]


def test_the_series_row_drops_its_occurrence_by_its_slot_even_when_the_invite_had_moved_it(
    tmp_path: Path,
) -> None:
    """google_recurring.eml moves the 5 March occurrence from 08:00 to 09:00: its slot is still 08:00."""
    from mailflow.config import Settings
    from mailflow.engine.intake import Intake
    from mailflow.engine.planning import meeting_facts
    from mailflow.sources.memory import MemorySource

    settings = Settings(owner={"addresses": ["ana@owner.example"], "timezone": "Europe/Berlin"},
                        data={"folder": str(tmp_path)})  # fmt: skip
    store = Store.open(settings.database_url())
    with time_machine.travel(utc(2025, 2, 21), tick=False):
        Intake(store, MemorySource([(FIXTURES / "google_recurring.eml").read_bytes()]), settings).sync()
    with store.transaction() as tx:
        (series,) = tx.list_meetings()
        assert series.start_at == utc(2025, 3, 5, 8)  # moved to 09:00 in Berlin
        assert tx.series_occurrence(series.id) == "2025-03-05T07:00:00+00:00"  # its slot, 08:00
        assert 20250305 not in meeting_facts(tx, series, None).cancelled_occurrences
        tx.upsert_meeting(
            MeetingData(ical_uid=series.ical_uid or "", recurrence_id="2025-03-05T07:00:00+00:00",
                        start_at=utc(2025, 3, 6, 8), end_at=utc(2025, 3, 6, 9), recurring=True, trusted=True)
        )  # fmt: skip
        assert 20250305 in meeting_facts(tx, series, None).cancelled_occurrences
    store.close()


def test_a_step_of_an_occurrence_the_series_left_is_never_written_with_the_next_ones_dates(
    store: Store,
) -> None:
    from mailflow.config import Settings
    from mailflow.engine.outgoing import gather
    from mailflow.errors import PermanentError

    series = _series_meeting(store, "FREQ=WEEKLY;BYDAY=WE")
    with store.transaction() as tx:
        old, _ = tx.plan_step(series, "take_action", 20250305, utc(2025, 3, 6, 8), "send")
        assert tx.advance_occurrence(series, utc(2025, 3, 5, 7), utc(2025, 3, 12, 7), utc(2025, 3, 12, 7, 30))
        current, _ = tx.plan_step(series, "take_action", 20250312, utc(2025, 3, 13, 8), "send")
        with pytest.raises(PermanentError, match="no longer stands for"):
            gather(tx, old, Settings())  # a `mailflow retry` of a failed one, say
        assert gather(tx, current, Settings()).meeting.id == series


def test_a_failed_step_does_not_hold_the_series(store: Store) -> None:
    weekly = _series_meeting(store, "FREQ=WEEKLY;BYDAY=WE")
    with store.transaction() as tx:
        step, _ = tx.plan_step(weekly, "thank_you", 20250305, utc(2025, 3, 5, 10), "send")
        assert tx.claim_step(step.id, "<t@x>") and tx.mark_failed(step.id, "550 no such user")
    assert advance_series(store, BERLIN, utc(2025, 3, 5, 12)).advanced == 1  # not a week's wait on it


def test_one_materials_request_per_series_whichever_row_asks(store: Store) -> None:
    from mailflow.engine.planning import _prep_asked_elsewhere

    series = _series_meeting(store, "FREQ=WEEKLY;BYDAY=WE")
    with store.transaction() as tx:
        master = tx.get_meeting(series)
        assert master is not None and master.ical_uid
        own, _ = tx.upsert_meeting(
            MeetingData(ical_uid=master.ical_uid, recurrence_id="2025-03-12T07:00:00+00:00", recurring=True,
                        start_at=utc(2025, 3, 13, 7), end_at=utc(2025, 3, 13, 8), trusted=True)
        )  # fmt: skip
        assert _prep_asked_elsewhere(tx, own)[1]  # the occurrence's row leaves it to the series, for good
        asked, _ = tx.plan_step(own.id, "prep_request", 0, utc(2025, 3, 1), "send")
        assert not _prep_asked_elsewhere(tx, master)[1]
        assert "about to ask" in _prep_asked_elsewhere(tx, master)[0]  # held while the other is planned
        tx.cancel_step(asked.id, "that occurrence was cancelled")
        assert _prep_asked_elsewhere(tx, master) == ("", False)  # then the series asks after all
