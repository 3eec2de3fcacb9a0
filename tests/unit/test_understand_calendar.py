"""Reading calendar data: repairs, broken properties, choice of the main event, recurrence, kinds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mailflow.understand import Context, is_newer, understand
from mailflow.understand.calendar import read_calendars, repair
from mailflow.understand.choice import choose, rule_is_cheap

BERLIN = ZoneInfo("Europe/Berlin")


def ics(*events: str, method: str = "REQUEST", head: str = "") -> str:
    body = "".join(f"BEGIN:VEVENT\n{e.strip()}\nEND:VEVENT\n" for e in events)
    return f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n{head}METHOD:{method}\n{body}END:VCALENDAR\n"


def one(text: str, mime_method: str = "", ref: datetime | None = None):  # type: ignore[no-untyped-def]
    reading = read_calendars([(text, mime_method)], BERLIN)
    return reading, choose(reading, ref)


def test_repair_fixes_dashed_dates_and_spaced_rrules_and_drops_junk() -> None:
    text = "junk\nBEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:2023-07-01T12:57:00\nRRULE:FREQ=DAILY;BYDAY=MO, TU\n"
    text += "EXDATE;VALUE=DATE:\nnot a content line\nEND:VEVENT\nEND:VCALENDAR\nX-COMMENT:trailing junk\n"
    fixed, reasons = repair(text)
    assert "DTSTART:20230701T125700" in fixed
    assert "RRULE:FREQ=DAILY;BYDAY=MO,TU" in fixed
    assert "EXDATE" not in fixed and "junk" not in fixed
    assert len(reasons) == 2


def test_sequence_beyond_32_bits_is_kept() -> None:
    _, chosen = one(ics("UID:a\nDTSTAMP:20250101T000000Z\nDTSTART:20250301T100000Z\nSEQUENCE:1407317367304"))
    assert chosen is not None and chosen.event.sequence == 1407317367304


def test_broken_sequence_is_a_reason_not_a_failure() -> None:
    _, chosen = one(ics("UID:a\nDTSTART:20250301T100000Z\nSEQUENCE:many"))
    assert chosen is not None and chosen.event.sequence == 0
    assert any("SEQUENCE" in r for r in chosen.event.reasons)


def test_value_date_holding_a_time_is_read_as_a_day() -> None:
    _, chosen = one(ics("UID:a\nDTSTART;VALUE=DATE:20200612T000000\nDTEND;VALUE=DATE:20200615T000000"))
    assert chosen is not None and chosen.start == date(2020, 6, 12) and chosen.end == date(2020, 6, 15)


def test_missing_dtstart_is_stated() -> None:
    _, chosen = one(ics("UID:a\nDTEND:20250301T100000Z\nSTATUS:CANCELLED", method="CANCEL"))
    assert chosen is not None and chosen.start is None
    assert "the event has no DTSTART" in chosen.event.reasons


def test_duration_gives_the_end_and_both_is_a_reason() -> None:
    _, chosen = one(ics("UID:a\nDTSTART:20250301T100000Z\nDURATION:PT45M"))
    assert chosen is not None and chosen.end == datetime(2025, 3, 1, 10, 45, tzinfo=UTC)
    _, both = one(ics("UID:a\nDTSTART:20250301T100000Z\nDTEND:20250301T110000Z\nDURATION:PT45M"))
    assert both is not None and both.end == datetime(2025, 3, 1, 11, 0, tzinfo=UTC)
    assert any("DURATION" in r for r in both.event.reasons)


def test_end_before_start_is_ignored() -> None:
    _, chosen = one(ics("UID:a\nDTSTART:20250301T100000Z\nDTEND:20250301T090000Z"))
    assert chosen is not None and chosen.end is None


def test_calendar_method_wins_over_mime_method() -> None:
    reading, _ = one(ics("UID:a\nDTSTART:20250301T100000Z", method="CANCEL"), mime_method="REQUEST")
    assert reading.method == "CANCEL"
    assert any("used CANCEL" in r for r in reading.reasons)


def test_mime_method_used_when_the_calendar_has_none() -> None:
    text = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTART:20250301T100000Z\nEND:VEVENT\nEND:VCALENDAR\n"
    reading, _ = one(text, mime_method="REQUEST")
    assert reading.method == "REQUEST"


def test_same_invite_in_two_parts_counts_once() -> None:
    text = ics("UID:a\nDTSTAMP:20250101T000000Z\nDTSTART:20250301T100000Z")
    reading = read_calendars([(text, "REQUEST"), (text.replace("\n", "\r\n"), "")], BERLIN)
    assert len(reading.events) == 1


def test_main_event_is_the_first_uid_and_the_rest_are_named() -> None:
    _, chosen = one(
        ics("UID:first\nDTSTART:20250301T100000Z\nSUMMARY:One", "UID:second\nDTSTART:20250302T100000Z")
    )
    assert chosen is not None and chosen.event.uid == "first"
    assert [e.label() for e in chosen.others] == ["second"]


def test_duplicate_masters_keep_the_newest() -> None:
    older = "UID:x\nSEQUENCE:1\nDTSTAMP:20250101T000000Z\nDTSTART:20250301T100000Z"
    newer = "UID:x\nSEQUENCE:2\nDTSTAMP:20250102T000000Z\nDTSTART:20250305T100000Z"
    _, chosen = one(ics(older, newer))
    assert chosen is not None and chosen.event.sequence == 2
    assert len(chosen.others) == 1


def test_override_without_master_is_one_occurrence() -> None:
    first = "UID:s\nRECURRENCE-ID:20250305T100000Z\nDTSTART:20250305T120000Z"
    second = "UID:s\nRECURRENCE-ID:20250312T100000Z\nDTSTART:20250312T120000Z"
    _, chosen = one(ics(first, second), ref=datetime(2025, 3, 8, tzinfo=UTC))
    assert chosen is not None and chosen.start == datetime(2025, 3, 12, 12, tzinfo=UTC)
    assert chosen.recurring


def test_series_that_ended_shows_its_first_date() -> None:
    series = "UID:s\nDTSTART:20200101T100000Z\nRRULE:FREQ=DAILY;COUNT=3"
    _, chosen = one(ics(series), ref=datetime(2025, 3, 8, tzinfo=UTC))
    assert chosen is not None and chosen.start == datetime(2020, 1, 1, 10, tzinfo=UTC)
    assert any("no occurrence in the two years" in r for r in chosen.reasons)


def test_too_frequent_series_is_not_expanded() -> None:
    series = "UID:s\nDTSTART:20200101T100000Z\nRRULE:FREQ=SECONDLY"
    _, chosen = one(ics(series), ref=datetime(2025, 3, 8, tzinfo=UTC))
    assert chosen is not None and chosen.start == datetime(2020, 1, 1, 10, tzinfo=UTC)
    assert chosen.recurring


def test_floating_series_keeps_the_owner_zone_for_its_next_occurrence() -> None:
    series = "UID:s\nDTSTART:20250106T090000\nDTEND:20250106T093000\nRRULE:FREQ=WEEKLY"
    _, chosen = one(ics(series), ref=datetime(2025, 7, 1, tzinfo=UTC))
    assert chosen is not None and chosen.start == datetime(2025, 7, 7, 9, tzinfo=BERLIN)
    assert chosen.end == datetime(2025, 7, 7, 9, 30, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("new", "old", "expected"),
    [
        ((2, None), (1, None), True),
        ((1, datetime(2025, 1, 2, tzinfo=UTC)), (2, datetime(2025, 1, 1, tzinfo=UTC)), False),
        ((1, datetime(2025, 1, 2, tzinfo=UTC)), (1, datetime(2025, 1, 1, tzinfo=UTC)), True),
        ((1, datetime(2025, 1, 1, tzinfo=UTC)), (1, datetime(2025, 1, 1, tzinfo=UTC)), False),
        ((1, datetime(2025, 1, 1, tzinfo=UTC)), (1, datetime(2025, 1, 2, tzinfo=UTC)), False),
        ((0, None), (0, datetime(2025, 1, 2, tzinfo=UTC)), False),
    ],
)
def test_is_newer(new: tuple[int, datetime | None], old: tuple[int, datetime | None], expected: bool) -> None:
    assert is_newer(new[0], new[1], old[0], old[1]) is expected


def _kind(text: str, subject: str = "x") -> str:
    raw = f"From: a@b.example\nSubject: {subject}\nDate: Mon, 3 Mar 2025 10:00:00 +0000\n"
    raw += "Content-Type: text/calendar\n\n" + text
    return understand(raw.encode(), Context()).kind


@pytest.mark.parametrize(
    ("method", "extra", "subject", "kind"),
    [
        ("REQUEST", "", "Invitation", "invite"),
        ("REQUEST", "SEQUENCE:3", "Invitation", "update"),
        ("REQUEST", "", "Updated invitation: x", "update"),
        ("REQUEST", "STATUS:CANCELLED", "x", "cancel"),
        ("CANCEL", "", "x", "cancel"),
        ("REPLY", "", "Accepted: x", "reply"),
        ("COUNTER", "", "New Time Proposed: x", "counter"),
        ("PUBLISH", "", "x", "invite"),
        ("REFRESH", "", "x", "ignored"),
        ("ADD", "", "x", "update"),
    ],
)
def test_kind_from_method_status_and_sequence(method: str, extra: str, subject: str, kind: str) -> None:
    text = ics(f"UID:a\nDTSTART:20250310T100000Z\n{extra}".strip(), method=method)
    assert _kind(text, subject) == kind


def test_calendar_without_events_is_ignored_with_a_reason() -> None:
    result = understand(b"\xef\xbb\xbfBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", Context())
    assert result.kind == "ignored"
    assert "calendar data without any event" in result.reasons


def test_bare_ics_uses_dtstamp_as_the_reference_for_recurrence() -> None:
    text = ics("UID:s\nDTSTAMP:20250301T000000Z\nDTSTART:20250101T100000Z\nRRULE:FREQ=MONTHLY")
    result = understand(text.encode(), Context())
    assert result.start == datetime(2025, 3, 1, 10, tzinfo=UTC) and result.recurring


def test_latin1_calendar_file_is_read() -> None:
    text = ics("UID:a\nDTSTART:20250301T100000Z\nSUMMARY:Två möten").encode("latin-1")
    assert understand(text, Context()).summary == "Två möten"


def test_start_delta_is_consistent_with_end() -> None:
    text = ics("UID:a\nDTSTART;TZID=Europe/Berlin:20250330T013000\nDTEND;TZID=Europe/Berlin:20250330T033000")
    result = understand(text.encode(), Context())
    assert result.start is not None and result.end is not None
    # the clocks jump from 02:00 to 03:00: two hours on the wall, one in reality
    assert result.end.astimezone(UTC) - result.start.astimezone(UTC) == timedelta(hours=1)


def test_impossible_rule_finishes() -> None:
    series = "UID:s\nDTSTART:20200101T100000Z\nRRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"
    _, chosen = one(ics(series), ref=datetime(2025, 3, 8, tzinfo=UTC))
    assert chosen is not None and chosen.start == datetime(2020, 1, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rule", "cheap"),
    [
        ("FREQ=WEEKLY;UNTIL=20250828T130000Z;INTERVAL=1;BYDAY=TH;WKST=MO", True),
        ("FREQ=MONTHLY;BYDAY=-1FR", True),
        ("FREQ=MONTHLY;BYDAY=FR;BYSETPOS=-1", True),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", True),
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", False),
        ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6", False),
        ("FREQ=MONTHLY;BYDAY=6MO", False),
        ("FREQ=YEARLY;BYWEEKNO=53", False),
        ("FREQ=DAILY;BYMONTHDAY=x", False),
    ],
)
def test_rule_is_cheap(rule: str, cheap: bool) -> None:
    assert rule_is_cheap(rule) is cheap
