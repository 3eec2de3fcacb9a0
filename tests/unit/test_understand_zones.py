"""Zone names as clients write them, and the resolver's choices."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from mailflow.understand.calendar import read_calendars, repair
from mailflow.understand.zones import ZoneResolver, clean_tzid, iana_for

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("tzid", "expected"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ('"America/Los_Angeles"', "America/Los_Angeles"),
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("Romance Standard Time", "Europe/Paris"),
        ("Pacific Standard Time", "America/Los_Angeles"),
        ("FLE", "Europe/Kiev"),
        ("(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna", "Europe/Berlin"),
        ("(UTC+01:00) Amsterdam\\, Berlin\\, Bern\\, Rome\\, Stockholm\\, Vienna", "Europe/Berlin"),
        ("(UTC-05:00) Eastern Time (US & Canada)", "America/New_York"),
        ("(GMT-08.00) Pacific Time (US & Canada) / Tijuana", "America/Los_Angeles"),
        ("(UTC+07:00) Bangkok, Hanoi, Jakarta", "Asia/Bangkok"),
        ("(UTC-03:00) Brasília", "America/Sao_Paulo"),
        ("(UTC+09:00) Yakutsk", "Asia/Yakutsk"),  # not in the table: found by city and offset
        ("/mozilla.org/20050126_1/Europe/Berlin", "Europe/Berlin"),
        ("/freeassociation.sourceforge.net/Tzfile/America/New_York", "America/New_York"),
        ("US/Pacific", "America/Los_Angeles"),
        ("Customized Time Zone", None),
        ("GMT +0100 (Standard) / GMT +0200 (Daylight)", None),
        ("(UTC+05:00) Nowhere City", None),
        ("../../etc/passwd", None),
        ("", None),
    ],
)
def test_iana_for(tzid: str, expected: str | None) -> None:
    found = iana_for(tzid)
    assert found == expected or (expected == "Europe/Kiev" and found in {"Europe/Kiev", "Europe/Kyiv"})


def test_clean_tzid_drops_quotes_and_escapes() -> None:
    assert clean_tzid(' "(UTC+01:00) Amsterdam\\, Berlin" ') == "(UTC+01:00) Amsterdam, Berlin"


def test_resolver_prefers_iana_when_the_inline_definition_agrees() -> None:
    resolver = ZoneResolver({}, BERLIN)
    value, name = resolver.aware(datetime(2025, 7, 1, 9, 0), "W. Europe Standard Time")
    assert name == "Europe/Berlin" and value.utcoffset() is not None
    assert value.astimezone(UTC) == datetime(2025, 7, 1, 7, 0, tzinfo=UTC)
    assert resolver.reasons == ['zone "W. Europe Standard Time" read as Europe/Berlin']


def test_resolver_uses_inline_zone_when_it_disagrees_with_the_name() -> None:
    # an inline "Europe/Berlin" that someone defined as fixed +03:00
    inline = {"Europe/Berlin": ZoneInfo("Europe/Moscow")}
    resolver = ZoneResolver(inline, BERLIN)
    value, name = resolver.aware(datetime(2025, 1, 10, 12, 0), "Europe/Berlin")
    assert value.utcoffset() is not None and value.utcoffset().total_seconds() == 3 * 3600  # type: ignore[union-attr]
    assert name == "Europe/Berlin"
    assert any("inline definition" in r for r in resolver.reasons)


def test_unknown_zone_without_definition_falls_back_to_the_owner() -> None:
    resolver = ZoneResolver({}, ZoneInfo("America/Chicago"))
    value, name = resolver.aware(datetime(2025, 1, 10, 12, 0), "Atlantis Standard Time")
    assert name == "America/Chicago"
    assert value.astimezone(UTC).hour == 18
    assert any("owner's zone" in r for r in resolver.reasons)


def test_floating_uses_calendar_default_then_owner() -> None:
    with_default = ZoneResolver({}, BERLIN, (ZoneInfo("Asia/Tokyo"), "Asia/Tokyo"))
    assert with_default.aware(datetime(2025, 1, 1, 9), None)[1] == "Asia/Tokyo"
    owner = ZoneResolver({}, BERLIN)
    assert owner.aware(datetime(2025, 1, 1, 9), None)[1] == "Europe/Berlin"


CUSTOM = """BEGIN:VCALENDAR
VERSION:2.0
METHOD:REQUEST
BEGIN:VTIMEZONE
TZID:Customized Time Zone
BEGIN:STANDARD
DTSTART:16010101T000000
TZOFFSETFROM:{offset}
TZOFFSETTO:{offset}
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
UID:custom-{offset}
DTSTAMP:20250101T000000Z
DTSTART;TZID=Customized Time Zone:20250301T120000
SUMMARY:x
END:VEVENT
END:VCALENDAR
"""


def test_two_messages_with_the_same_custom_zone_name_do_not_share_its_definition() -> None:
    """icalendar caches VTIMEZONEs by TZID process-wide; each message must use its own."""
    first = read_calendars([(CUSTOM.format(offset="+0300"), "")], BERLIN).events[0]
    second = read_calendars([(CUSTOM.format(offset="-0600"), "")], BERLIN).events[0]
    assert isinstance(first.start, datetime) and isinstance(second.start, datetime)
    assert first.start.astimezone(UTC).hour == 9
    assert second.start.astimezone(UTC).hour == 18


def test_outlook_1601_rules_give_the_same_offsets_as_iana() -> None:
    text = CUSTOM.replace("Customized Time Zone", "Pacific Standard Time").format(offset="-0800")
    events = read_calendars([(text, "")], BERLIN).events
    assert isinstance(events[0].start, datetime)
    assert events[0].start.astimezone(UTC) == datetime(2025, 3, 1, 20, 0, tzinfo=UTC)
    assert events[0].timezone == "America/Los_Angeles"


EASTERN = """BEGIN:VCALENDAR
VERSION:2.0
METHOD:REQUEST
BEGIN:VTIMEZONE
TZID:Our Eastern
BEGIN:STANDARD
DTSTART:{start}T020000
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:{start}T020000
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
UID:eastern-{when}
DTSTAMP:20250101T000000Z
DTSTART;TZID=Our Eastern:{when}
DTEND;TZID=Our Eastern:{when}
SUMMARY:x
END:VEVENT
END:VCALENDAR
"""


@pytest.mark.parametrize(
    ("start", "when", "utc_hour"),
    [
        ("16010101", "20260310T120000", 16),  # after the 2nd Sunday of March: daylight time
        ("16010101", "20260305T120000", 17),  # before it: standard time
        ("19700101", "20261102T120000", 17),  # after the 1st Sunday of November
        ("19700101", "19950710T120000", 16),  # a date long before today keeps its rule too
        ("20240101", "20250710T120000", 16),  # a rule that starts after 1970 is moved no earlier
    ],
)
def test_open_ended_rules_moved_to_the_calendars_years_keep_every_offset(
    start: str, when: str, utc_hour: int
) -> None:
    """The rules' starts move to the year before the first date, for speed; no offset may change."""
    event = read_calendars([(EASTERN.format(start=start, when=when), "")], BERLIN).events[0]
    assert isinstance(event.start, datetime)
    assert event.start.astimezone(UTC).hour == utc_hour
    assert event.timezone == "Our Eastern"


def test_a_rule_is_moved_to_the_year_before_the_first_date_of_the_calendar() -> None:
    fixed, _ = repair(EASTERN.format(start="16010101", when="20260310T120000"))
    assert fixed.count("DTSTART:20240101T020000") == 2  # the DTSTAMP (2025) is the first date
    counted = EASTERN.format(start="20230101", when="20260310T120000").replace("1SU", "1SU;COUNT=3")
    kept, _ = repair(counted)
    assert "DTSTART:20230101T020000" in kept and "DTSTART:20240101T020000" in kept


def test_a_tzid_with_a_colon_does_not_hide_the_calendars_dates_from_the_rule_move() -> None:
    """Outlook writes TZID="(UTC-05:00) Eastern Time (US & Canada)"; its dates still count."""
    zone = "(UTC-05:00) Eastern Time (US & Canada)"
    text = (
        EASTERN.format(start="16010101", when="20190610T100000")
        .replace("TZID:Our Eastern", f"TZID:{zone}")
        .replace("TZID=Our Eastern:", f'TZID="{zone}":')
        .replace("DTSTAMP:20250101T000000Z", "DTSTAMP:20250301T100000Z")
    )
    fixed, _ = repair(text)
    assert fixed.count("DTSTART:20180101T020000") == 2  # the year before June 2019, not before the DTSTAMP
    event = read_calendars([(text, "")], BERLIN).events[0]
    assert isinstance(event.start, datetime)
    assert event.start.astimezone(UTC) == datetime(2019, 6, 10, 14, 0, tzinfo=UTC)
    assert event.timezone == "America/New_York"


def test_rules_of_every_other_year_and_unreadable_dates_are_not_moved_past_1970() -> None:
    biennial, _ = repair(
        EASTERN.format(start="16010101", when="20260310T120000").replace("BYDAY=2SU", "BYDAY=2SU;INTERVAL=2")
    )
    assert "DTSTART:16010101T020000" in biennial and "DTSTART:20240101T020000" in biennial
    odd, _ = repair(
        EASTERN.format(start="16010101", when="20260310T120000").replace(":20260310T120000", ":soon", 1)
    )
    assert odd.count("DTSTART:19700101T020000") == 2
