"""One meeting's absurd dates or odd rows never stop planning for the others.

Dates come from mail: a trusted invite for year 1 or 9999 is planned without
an OverflowError (a step whose moment falls outside the calendar is not
planned, with the reason), and a meeting whose planning raises anyway is
logged and counted while every other meeting is planned.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailflow import clock
from mailflow.config import OwnerSettings, Settings
from mailflow.engine.planning import plan_all
from mailflow.errors import StoreError
from mailflow.playbook import (
    ExistingStep,
    MeetingFacts,
    PlaybookConfig,
    SendWindow,
    apply_actions,
    lateness,
    next_in_window,
    plan,
    shift,
)
from mailflow.playbook.timing import OutOfRange, on_day_at
from mailflow.store import MeetingData, Store

NOW = datetime(2025, 3, 11, 10, 0, tzinfo=UTC)  # a Tuesday
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
FIRST = datetime(1, 1, 1, 0, 30, tzinfo=UTC)  # the first half hour datetime can count
LAST = datetime(9999, 12, 31, 23, 30, tzinfo=UTC)  # already the year 10000 in Berlin
WINDOW = SendWindow.parse("Mon-Fri 08:00-18:00")
SETTINGS = Settings(owner=OwnerSettings(name="Ana", addresses=["ana@example.org"], timezone="Europe/Berlin"))
CONFIG = PlaybookConfig.from_settings(SETTINGS)


# -- the arithmetic -------------------------------------------------------------


@pytest.mark.parametrize(
    ("anchor", "offset", "zone"),
    [
        (LAST, timedelta(hours=3), BERLIN),  # an exact duration past 9999-12-31
        (LAST, timedelta(days=60), BERLIN),  # calendar days past it
        (LAST, timedelta(0), BERLIN),  # the anchor itself is after 9999 in Berlin
        (FIRST, -timedelta(days=1), BERLIN),  # "start - 1d" before year 1
        (FIRST, timedelta(days=1), NEW_YORK),  # the anchor itself is before year 1 in New York
    ],
)
def test_a_moment_outside_the_calendar_is_a_value_error_not_an_overflow(
    anchor: datetime, offset: timedelta, zone: ZoneInfo
) -> None:
    with pytest.raises(OutOfRange, match="years 1 to 9999"):
        shift(anchor, offset, zone)
    assert issubclass(OutOfRange, ValueError)


def test_the_window_and_the_time_of_day_at_the_calendars_ends() -> None:
    with pytest.raises(OutOfRange):
        next_in_window(datetime(9999, 12, 31, 20, tzinfo=UTC), WINDOW, BERLIN)  # a Friday evening: no Monday
    with pytest.raises(OutOfRange):
        on_day_at(LAST, time(8, 0), BERLIN)
    assert on_day_at(LAST, time(8, 0), ZoneInfo("UTC")) == datetime(9999, 12, 31, 8, tzinfo=UTC)


def test_lateness_of_a_step_due_in_year_one_is_counted_without_scanning_two_thousand_years() -> None:
    assert lateness(FIRST, NOW, (WINDOW, NEW_YORK)) == NOW - FIRST
    assert lateness(LAST, NOW, (WINDOW, BERLIN)) == timedelta(0)


# -- the pure planner --------------------------------------------------------------


def ending(start: datetime) -> datetime:
    """An hour after ``start``, or the last instant datetime can count."""
    return start + min(timedelta(hours=1), datetime.max.replace(tzinfo=UTC) - start)


def facts(start: datetime, **changes: object) -> MeetingFacts:
    made = MeetingFacts(
        id=1, state="scheduled", start=start, end=ending(start), scheduled_at=NOW, trusted=True
    )
    return replace(made, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("zone", [None, "America/New_York", "Pacific/Kiritimati"])
@pytest.mark.parametrize("start", [FIRST, LAST, datetime(9999, 11, 15, 9, tzinfo=UTC)])
def test_a_meeting_at_the_ends_of_the_calendar_is_planned_without_raising(
    start: datetime, zone: str | None
) -> None:
    meeting = facts(start, contact_timezone=zone)
    rows = apply_actions([], plan(meeting, [], CONFIG, NOW))
    assert {r.state for r in rows} <= {"pending", "skipped"}
    if start.year == 9999:  # (year 1 records 60 missed check-ins a plan until it reaches now)
        assert plan(meeting, rows, CONFIG, NOW) == []  # planning again changes nothing


def test_a_step_whose_moment_falls_past_9999_is_not_planned_and_says_why() -> None:
    actions = plan(facts(LAST), [], CONFIG, NOW)
    planned = {a.step.step: a.kind for a in actions}
    assert planned["prep_request"] == "add"  # "scheduled": now, a real moment
    assert "thank_you" not in planned and "take_action" not in planned and "follow_up" not in planned


def test_a_meeting_moved_to_year_9999_cancels_its_pending_steps_with_the_reason_and_a_real_date_restores_them() -> (
    None
):
    sane = facts(datetime(2025, 3, 20, 14, tzinfo=UTC))
    rows = apply_actions([], plan(sane, [], CONFIG, NOW))
    assert {r.step for r in rows if r.state == "pending"} >= {"thank_you", "follow_up"}
    moved = replace(sane, start=LAST, end=ending(LAST), rescheduled_at=NOW)
    actions = plan(moved, rows, CONFIG, NOW)
    cancels = {a.step.step: a.reason for a in actions if a.kind == "cancel"}
    assert "outside the calendar" in cancels["thank_you"] and "years 1 to 9999" in cancels["follow_up"]
    rows = apply_actions(rows, actions)
    back = replace(sane, rescheduled_at=NOW + timedelta(minutes=5))
    restored = {
        a.step.step for a in plan(back, rows, CONFIG, NOW + timedelta(minutes=5)) if a.kind == "restore"
    }
    assert {"thank_you", "follow_up"} <= restored


def test_a_contact_reply_dated_9999_stops_the_check_ins_without_raising() -> None:
    done = facts(datetime(2024, 1, 10, 14, tzinfo=UTC), state="done", last_contact_reply_at=LAST)
    rows = [ExistingStep("follow_up", 0, "sent", datetime(2024, 3, 10, 15, tzinfo=UTC), "draft")]
    actions = plan(done, rows, CONFIG, NOW)
    assert not [a for a in actions if a.step.step == "stay_in_touch" and a.kind == "add"]


# -- plan_all over a real store ---------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    clock.set_now(NOW)
    opened = Store.open(f"sqlite:///{tmp_path / 'm.db'}")
    yield opened
    opened.close()


def meeting(store: Store, uid: str, start: datetime, contact: str = "ben@example.net") -> int:
    end = ending(start)
    with store.transaction() as tx:
        person = tx.upsert_contact(contact, "Ben")
        row, _ = tx.upsert_meeting(
            MeetingData(ical_uid=uid, start_at=start, end_at=end, counterpart_id=person.id, trusted=True)
        )
    return row.id


def steps_of(store: Store, meeting_id: int) -> dict[str, str]:
    with store.read() as tx:
        return {s.step: s.state for s in tx.list_steps(meeting_id)}


def test_meetings_in_year_1_and_9999_next_to_a_normal_one_are_all_planned(store: Store) -> None:
    first = meeting(store, "first@x", FIRST, "carla@example.net")
    normal = meeting(store, "normal@x", datetime(2025, 3, 20, 14, tzinfo=UTC))
    last = meeting(store, "last@x", LAST, "dan@example.net")
    summary = plan_all(store, CONFIG, NOW)
    assert summary.meetings == 3 and summary.failed == 0 and summary.errors == []
    assert set(steps_of(store, normal).values()) == {"pending"} and len(steps_of(store, normal)) == 7
    assert (
        steps_of(store, first)["thank_you"] == "skipped"
    )  # its moment passed long before mailflow heard of it
    assert steps_of(store, last)["prep_request"] == "pending" and "thank_you" not in steps_of(store, last)
    again = plan_all(store, CONFIG, NOW + timedelta(minutes=1))
    assert (again.failed, again.added, again.retimed, again.cancelled) == (0, 0, 0, 0)


def test_a_meeting_whose_planning_raises_is_counted_and_the_others_are_planned(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    before = meeting(store, "a@x", datetime(2025, 3, 18, 14, tzinfo=UTC))
    odd = meeting(store, "odd@x", datetime(2025, 3, 19, 14, tzinfo=UTC), "carla@example.net")
    after = meeting(store, "z@x", datetime(2025, 3, 20, 14, tzinfo=UTC), "dan@example.net")
    with store.transaction() as tx:  # a step this version does not know (written by a newer mailflow)
        tx.plan_step(odd, "send_flowers", 0, NOW + timedelta(days=1), "send")
    summary = plan_all(store, CONFIG, NOW)
    assert summary.failed == 1 and summary.errors[0].startswith(f"meeting {odd}: KeyError")
    assert len(steps_of(store, before)) == 7 and len(steps_of(store, after)) == 7
    assert summary.added == 14  # the odd meeting's changes are not counted: its transaction rolled back
    assert steps_of(store, odd) == {"send_flowers": "pending"}
    assert f"meeting {odd} could not be planned" in caplog.text
    assert plan_all(store, CONFIG, NOW).failed == 1  # every cycle, and every cycle the others go on


def test_a_database_error_still_stops_planning(store: Store, tmp_path: Path) -> None:
    meeting(store, "a@x", datetime(2025, 3, 18, 14, tzinfo=UTC))
    with sqlite3.connect(tmp_path / "m.db") as raw:  # the database itself is broken, not one meeting
        raw.execute("DROP TABLE notes")
    with pytest.raises(StoreError, match="notes"):
        plan_all(store, CONFIG, NOW)
