"""VTIMEZONE blocks in the shape Outlook reads: one yearly rule per observance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from mailflow.compose import Reminder, build_reminders
from mailflow.compose.vtimezone import derive_rules, vtimezone


def text(prop: object) -> str:
    value = prop.to_ical()  # type: ignore[attr-defined]
    return value.decode() if isinstance(value, bytes) else str(value)


def observances(zone: str) -> list[tuple[str, str, str, str, str]]:
    component = vtimezone(zone, 2024, 2025)
    assert component is not None
    return [
        (
            sub.name,
            text(sub["DTSTART"]),
            text(sub["RRULE"]) if "RRULE" in sub else "",
            text(sub["TZOFFSETFROM"]),
            text(sub["TZOFFSETTO"]),
        )
        for sub in component.subcomponents
    ]


def test_europe_berlin_is_written_like_google_and_exchange_write_it() -> None:
    assert observances("Europe/Berlin") == [
        ("DAYLIGHT", "19700329T020000", "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3", "+0100", "+0200"),
        ("STANDARD", "19701025T030000", "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10", "+0200", "+0100"),
    ]


def test_new_york_uses_the_second_and_first_sundays() -> None:
    assert observances("America/New_York") == [
        ("DAYLIGHT", "19700308T020000", "FREQ=YEARLY;BYDAY=2SU;BYMONTH=3", "-0500", "-0400"),
        ("STANDARD", "19701101T020000", "FREQ=YEARLY;BYDAY=1SU;BYMONTH=11", "-0400", "-0500"),
    ]


def test_southern_hemisphere_and_half_hour_dst() -> None:
    assert observances("Australia/Sydney") == [
        ("DAYLIGHT", "19701004T020000", "FREQ=YEARLY;BYDAY=1SU;BYMONTH=10", "+1000", "+1100"),
        ("STANDARD", "19700405T030000", "FREQ=YEARLY;BYDAY=1SU;BYMONTH=4", "+1100", "+1000"),
    ]
    lord_howe = observances("Australia/Lord_Howe")
    assert [o[3:] for o in lord_howe] == [("+1030", "+1100"), ("+1100", "+1030")]


def test_a_zone_without_dst_has_one_standard_observance() -> None:
    assert observances("Asia/Kolkata") == [("STANDARD", "19700101T000000", "", "+0530", "+0530")]


@pytest.mark.parametrize("zone", ["Africa/Casablanca", "America/Santiago", "Africa/Cairo"])
def test_zones_outlook_cannot_describe_are_written_in_utc(zone: str) -> None:
    assert vtimezone(zone, 2024, 2025) is None
    start = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)
    cal = Calendar.from_ical(
        build_reminders([Reminder("k", "s", "d", start)], zone=zone, domain="example.org")
    )
    assert cal.walk("VTIMEZONE") == []
    event = cal.walk("VEVENT")[0]
    assert text(event["DTSTART"]) == "20250701T120000Z"


def test_utc_needs_no_vtimezone() -> None:
    assert vtimezone("UTC", 2024, 2025) is None


def test_a_rule_that_changed_inside_the_range_is_not_pretended() -> None:
    # Brazil dropped daylight saving time in 2019: no single rule covers 2017-2020
    assert derive_rules("America/Sao_Paulo", 2017, 2020) is None
    assert derive_rules("America/Sao_Paulo", 2021, 2025) == ()


def test_the_repeated_hour_is_written_in_utc() -> None:
    second_two_thirty = datetime(2024, 10, 27, 1, 30, tzinfo=UTC)  # 02:30 CET, after 02:30 CEST
    first_two_thirty = second_two_thirty - timedelta(hours=1)
    data = build_reminders(
        [Reminder("a", "a", "", first_two_thirty), Reminder("b", "b", "", second_two_thirty)],
        zone="Europe/Berlin",
        domain="example.org",
    ).decode()
    assert "DTSTART;TZID=Europe/Berlin:20241027T023000" in data
    assert "DTSTART:20241027T013000Z" in data
