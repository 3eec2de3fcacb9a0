"""Wall clocks, the send window, lateness and the dispatch verdict."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from mailflow.config import Settings
from mailflow.playbook import (
    ExistingStep,
    PlaybookConfig,
    SendWindow,
    is_due,
    lateness,
    next_in_window,
    shift,
)
from mailflow.playbook.timing import on_day_at, open_time_between, reader_zone, zone_named

CHICAGO = ZoneInfo("America/Chicago")
TOKYO = ZoneInfo("Asia/Tokyo")
WINDOW = SendWindow.parse("Mon-Fri 08:00-18:00")
CFG = PlaybookConfig.from_settings(Settings(owner={"timezone": "America/Chicago"}))


def ct(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)  # type: ignore[misc]


def test_whole_days_keep_the_wall_clock_across_dst_and_hours_do_not() -> None:
    before = ct(2025, 3, 8, 11, 0)  # CST; DST starts on the 9th
    assert shift(before, timedelta(days=2), CHICAGO) == ct(2025, 3, 10, 11, 0)
    # "25h" is an exact duration: the lost hour shows on the wall clock
    assert shift(before, timedelta(hours=25), CHICAGO) == ct(2025, 3, 9, 13, 0)
    assert shift(before, timedelta(days=2), CHICAGO).tzinfo is UTC


def test_a_time_of_day_that_does_not_exist_moves_an_hour_later() -> None:
    assert on_day_at(ct(2025, 3, 9, 12, 0), time(2, 30), CHICAGO) == ct(2025, 3, 9, 3, 30)
    # the repeated hour in November: the first 01:30 (CDT)
    assert on_day_at(ct(2025, 11, 2, 12, 0), time(1, 30), CHICAGO) == datetime(2025, 11, 2, 6, 30, tzinfo=UTC)


def test_the_time_of_day_is_read_on_the_readers_calendar() -> None:
    moment = datetime(2025, 3, 10, 23, 0, tzinfo=UTC)  # Monday evening in Chicago, Tuesday in Tokyo
    assert on_day_at(moment, time(8, 0), CHICAGO) == ct(2025, 3, 10, 8, 0)
    assert on_day_at(moment, time(8, 0), TOKYO) == datetime(2025, 3, 11, 8, 0, tzinfo=TOKYO)


def test_zones_from_mail_fall_back_to_the_owners() -> None:
    for junk in (None, "", "Mars/Olympus", "../../etc/passwd", "America", "Pacific Standard Time"):
        assert zone_named(junk, CHICAGO) is CHICAGO
    assert reader_zone("contact", "Asia/Tokyo", CHICAGO) == TOKYO
    assert reader_zone("owner", "Asia/Tokyo", CHICAGO) is CHICAGO


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (ct(2025, 3, 5, 10, 0), ct(2025, 3, 5, 10, 0)),  # Wednesday, open
        (ct(2025, 3, 5, 7, 0), ct(2025, 3, 5, 8, 0)),  # before opening
        (ct(2025, 3, 5, 18, 0), ct(2025, 3, 6, 8, 0)),  # at closing: tomorrow
        (ct(2025, 3, 7, 19, 0), ct(2025, 3, 10, 8, 0)),  # Friday evening: Monday
        (ct(2025, 3, 8, 12, 0), ct(2025, 3, 10, 8, 0)),  # Saturday
    ],
)
def test_next_in_window(instant: datetime, expected: datetime) -> None:
    assert next_in_window(instant, WINDOW, CHICAGO) == expected


def test_a_window_over_the_weekend_boundary() -> None:
    window = SendWindow.parse("Sat-Mon 10:00-12:00")
    assert window.days == frozenset({5, 6, 0})
    assert next_in_window(ct(2025, 3, 4, 9, 0), window, CHICAGO) == ct(2025, 3, 8, 10, 0)


def test_only_open_window_time_counts_as_lateness_for_held_steps() -> None:
    friday, monday = ct(2025, 3, 7, 17, 59), ct(2025, 3, 10, 8, 1)
    assert lateness(friday, monday, (WINDOW, CHICAGO)) == timedelta(minutes=2)
    # wall clock says 62h02 but the night of the 9th is an hour short
    assert lateness(friday, monday, None) == timedelta(hours=61, minutes=2)
    assert lateness(monday, friday, None) == timedelta(0)
    week = open_time_between(ct(2025, 3, 3, 0, 0), ct(2025, 3, 10, 0, 0), WINDOW, CHICAGO)
    assert week == timedelta(hours=50)


def _step(
    step: str = "prep_request", mode: str = "send", due: datetime | None = None, state: str = "pending"
):
    return ExistingStep(step, 0, state, due or ct(2025, 3, 7, 17, 0), mode)  # type: ignore[arg-type]


def test_is_due_waits_sends_and_skips() -> None:
    step = _step(step="take_action", due=ct(2025, 3, 13, 9, 0))
    assert is_due(step, ct(2025, 3, 13, 8, 0), CFG).next_check == ct(2025, 3, 13, 9, 0)
    assert is_due(step, ct(2025, 3, 13, 9, 0), CFG).verdict == "due"
    assert is_due(step, ct(2025, 3, 15, 9, 0), CFG).verdict == "due"  # exactly max_lateness
    late = is_due(step, ct(2025, 3, 15, 9, 1), CFG)
    assert (late.verdict, late.reason) == ("skip", "2 days, 0:01 late, more than max_lateness (2 days, 0:00)")


def test_is_due_holds_mail_to_a_contact_for_the_window_in_their_zone() -> None:
    step = _step()
    saturday = ct(2025, 3, 8, 10, 0)
    held = is_due(step, saturday, CFG)
    assert (held.verdict, held.next_check) == ("wait", ct(2025, 3, 10, 8, 0))
    in_tokyo = is_due(step, saturday, CFG, contact_timezone="Asia/Tokyo")
    assert in_tokyo.next_check == datetime(2025, 3, 10, 8, 0, tzinfo=TOKYO)
    assert "Asia/Tokyo" in in_tokyo.reason
    assert is_due(step, ct(2025, 3, 10, 8, 0), CFG).verdict == "due"  # 1 minute late in window time


def test_drafts_notify_and_owner_mail_are_not_held() -> None:
    saturday = ct(2025, 3, 8, 10, 0)
    for step in (_step(mode="draft"), _step(mode="notify"), _step(step="homework_brief")):
        assert is_due(step, saturday, CFG).verdict == "due"


def test_pause_and_rows_that_are_not_pending() -> None:
    now = ct(2025, 3, 10, 10, 0)
    assert is_due(_step(), now, CFG, paused=True) == is_due(_step(), now, CFG, paused=True)
    assert is_due(_step(), now, CFG, paused=True).reason == "paused"
    for state in ("sending", "sent", "uncertain", "failed", "skipped", "cancelled"):
        assert is_due(_step(state=state), now, CFG).verdict == "wait"
