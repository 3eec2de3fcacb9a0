"""Calendars one bad line cannot sink (issue 26, item 7).

A cosmetic property that does not parse is dropped with a reason and the event
is still understood; a broken property that decides identity, time, recurrence
or status is never guessed: the event is shown with a doubt.  One fixture per
shape in ``tests/fixtures/mail/lenient``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from mailflow.understand import mime
from mailflow.understand.calendar import CalendarReading, read_calendars, repair
from mailflow.understand.choice import choose
from mailflow.understand.lenient import MAX_REASONS, lenient_lines
from tests.unit.understand_support import MAIL, read

BERLIN = ZoneInfo("Europe/Berlin")
LENIENT = MAIL / "lenient"
START = datetime(2027, 3, 16, 14, 0, tzinfo=UTC)  # 15:00 in Berlin, as every fixture says


def reading_of(name: str) -> CalendarReading:
    text = mime.bare_calendar((LENIENT / name).read_bytes())
    assert text is not None
    return read_calendars([(text, "")], BERLIN)


def ics(*lines: str, method: str = "METHOD:REQUEST") -> str:
    event = "\n".join(lines)
    return f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//t//EN\n{method}\nBEGIN:VEVENT\n{event}\nEND:VEVENT\nEND:VCALENDAR\n"


GOOD = ("UID:a@x", "DTSTAMP:20270301T091500Z", "DTSTART:20270316T140000Z", "SUMMARY:Coffee")

# -- cosmetic: dropped with a reason, the event still understood ------------------------------------------

COSMETIC = [
    (
        "alarm_trigger_sign.ics",
        "Coffee with Jordan",
        "dropped an alarm whose TRIGGER cannot be read (TRIGGER:P-15M)",
    ),
    (
        "alarm_trigger_garbage.ics",
        "Portfolio review",
        "dropped an alarm whose TRIGGER cannot be read (TRIGGER:-P15MX)",
    ),
    (
        "alarm_trigger_in_mail.eml",
        "Portfolio review by mail",
        "dropped an alarm whose TRIGGER cannot be read (TRIGGER:-P15MX); the event is still read",
    ),
    ("alarm_without_end.ics", "Mentoring call", "BEGIN:VALARM has no END; closed before END:VEVENT"),
    (
        "description_bad_param.ics",
        "Career chat",
        'dropped a line that cannot be read (DESCRIPTION;LANGUAGE="en:',
    ),
    (
        "description_qp_encoding.ics",
        "Lunch with Jordan",
        "DESCRIPTION was written as quoted-printable; decoded",
    ),
    ("attach_bad_base64.ics", "Résumé review", "dropped ATTACH that cannot be read ('JVBERi0x*not*base64!')"),
    ("created_bad.ics", "Intro call", "dropped CREATED that cannot be read ('20271345T259900Z')"),
    ("last_modified_bad.ics", "Design critique", "dropped LAST-MODIFIED that cannot be read ('yesterday')"),
    (
        "x_property_bad.ics",
        "Office hours",
        "dropped a line that cannot be read (X-MICROSOFT-CDO-BUSYSTATUS;=:BUSY)",
    ),
    (
        "x_property_bad.ics",
        "Office hours",
        "dropped X-EXAMPLE-REMINDER that cannot be read ('tomorrow morning')",
    ),
    ("calendar_bad_prodid.ics", "Quick sync", "dropped a line that cannot be read (X-WR-CALNAME;=:Work)"),
    (
        "qp_leftover.ics",
        "Product roadmap walk-through",
        "the calendar was still quoted-printable encoded (=3D, soft line breaks); decoded",
    ),
]


@pytest.mark.parametrize(("name", "summary", "reason"), COSMETIC)
def test_a_cosmetic_property_that_does_not_parse_is_dropped_and_the_event_understood(
    name: str, summary: str, reason: str
) -> None:
    result = read(f"lenient/{name}")
    assert result.kind == "invite"
    assert result.summary == summary
    assert result.start == START
    assert result.uid.endswith("@contact.example")
    assert any(reason in r for r in result.reasons), result.reasons


@pytest.mark.parametrize("name", sorted({name for name, _, _ in COSMETIC if name.endswith(".ics")}))
def test_a_cosmetic_property_leaves_no_doubt(name: str) -> None:
    reading = reading_of(name)
    assert len(reading.events) == 1
    assert reading.doubts == [] and reading.events[0].doubts == []


def test_the_decoded_values_are_the_ones_written() -> None:
    qp = read("lenient/qp_leftover.ics")
    assert qp.location == "Café Kranzler, Berlin" and qp.recurring
    assert "https://meet.example/j/4711?pwd=abc&lang=en" in qp.description
    assert "questions from the team about the launch" in qp.description
    lunch = read("lenient/description_qp_encoding.ics")
    assert lunch.description == "Lunch at the café near the office\r\nSee you there"


# -- decisive: shown with a doubt, never guessed ------------------------------------------------------------

DOUBTS = [
    ("uid_empty.ics", "Coffee without a name", "UID is empty"),
    ("dtstart_feb30.ics", "Thirtieth of February", "DTSTART cannot be read ('20270230T100000')"),
    (
        "dtstart_unsplittable.ics",
        "Start nobody can read",
        "DTSTART cannot be read ('DTSTART;TZID=\"Europe/Berlin:",
    ),
    ("rrule_garbage.ics", "Weekly-ish", "RRULE cannot be read ('FREQ=SOMETIMES;BYDAY=TU')"),
    ("exdate_garbage.ics", "Weekly sync", "EXDATE cannot be read ('not-that-one')"),
    ("status_garbage.ics", "Maybe coffee", "STATUS 'PROBABLY' is not TENTATIVE, CONFIRMED or CANCELLED"),
    ("sequence_not_number.ics", "Moved coffee", "SEQUENCE is not a number ('two')"),
]


@pytest.mark.parametrize(("name", "summary", "doubt"), DOUBTS)
def test_a_broken_decisive_property_is_a_doubt_and_the_event_is_shown(
    name: str, summary: str, doubt: str
) -> None:
    reading = reading_of(name)
    assert [e.summary for e in reading.events] == [summary]
    event = reading.events[0]
    assert any(doubt in d for d in event.doubts), event.doubts
    assert set(event.doubts) <= set(event.reasons)  # a doubt is said like any reason
    result = read(f"lenient/{name}")
    assert result.kind != "ignored" and result.summary == summary
    assert any(doubt in r for r in result.reasons)


def test_no_value_is_guessed_for_what_decides() -> None:
    feb30 = reading_of("dtstart_feb30.ics").events[0]
    assert feb30.start is None and feb30.end is None
    assert any("DTEND cannot be read" in d for d in feb30.doubts)
    unsplittable = reading_of("dtstart_unsplittable.ics").events[0]
    assert unsplittable.start is None and "the event has no DTSTART" not in unsplittable.reasons
    assert reading_of("uid_empty.ics").events[0].uid == ""
    assert reading_of("status_garbage.ics").events[0].status == "PROBABLY"  # as written, not made CONFIRMED
    sequence = reading_of("sequence_not_number.ics").events[0]
    assert sequence.sequence == 0 and sequence.doubts  # 0 only with the doubt
    assert reading_of("rrule_garbage.ics").events[0].recurs


def test_the_only_event_is_chosen_even_without_a_start() -> None:
    reading = reading_of("dtstart_feb30.ics")
    chosen = choose(reading, datetime(2027, 3, 1, tzinfo=UTC))
    assert chosen is not None and chosen.event.summary == "Thirtieth of February" and chosen.start is None
    result = read("lenient/dtstart_feb30.ics")
    assert result.kind == "invite" and result.start is None and result.date is None


def test_a_method_that_is_no_method_is_a_doubt_of_the_calendar() -> None:
    reading = reading_of("method_garbage.ics")
    assert reading.method == "INVITE-PLEASE"
    assert reading.doubts == [
        "METHOD 'INVITE-PLEASE' is not an iTIP method; the kind of message is not guessed"
    ]
    assert reading.events[0].summary == "Come along" and reading.events[0].start == START
    assert reading.doubts[0] in reading.reasons


def test_a_method_line_that_cannot_be_read_is_a_doubt_not_a_lost_calendar() -> None:
    reading = read_calendars([(ics(*GOOD, method="METHOD;=:REQUEST"), "")], BERLIN)
    assert reading.method == "" and [e.summary for e in reading.events] == ["Coffee"]
    assert reading.doubts == ["METHOD cannot be read ('METHOD;=:REQUEST')"]


@pytest.mark.parametrize(
    ("line", "doubt"),
    [
        ("DTEND:20270316T250000Z", "DTEND cannot be read"),
        ("DURATION:PT1HX", "DURATION cannot be read"),
        ("RDATE:sometime", "RDATE cannot be read ('sometime')"),
        ("RECURRENCE-ID:20270230T100000Z", "RECURRENCE-ID cannot be read ('20270230T100000Z')"),
        ("SEQUENCE:-3", "SEQUENCE is out of range"),
        ("DTSTART:20270317T140000Z", "DTSTART appears 2 times with different values"),
        ("UID:b@x", "UID appears 2 times with different values"),
        ("STATUS:", "STATUS '' is not"),
        ('UID;X-A="b:c', "UID cannot be read"),
        ("STATUS;=:CANCELLED", "STATUS cannot be read"),
    ],
)
def test_each_decisive_property_is_doubted(line: str, doubt: str) -> None:
    reading = read_calendars([(ics(*GOOD, line), "")], BERLIN)
    assert [e.summary for e in reading.events] == ["Coffee"]
    assert any(doubt in d for d in reading.events[0].doubts), reading.events[0].doubts


@pytest.mark.parametrize(
    "line",
    [
        "DTSTART:20270316T140000Z",
        "DTSTART:2027-03-16T14:00:00Z",
        "SEQUENCE:1407317367304",
        "STATUS:tentative",
    ],
)
def test_what_reads_fine_is_no_doubt(line: str) -> None:
    reading = read_calendars([(ics(*GOOD, line), "")], BERLIN)
    assert reading.events[0].doubts == [] and reading.doubts == []


# -- the line pass itself ------------------------------------------------------------------------------------


def test_a_broken_line_in_another_component_does_not_sink_the_event() -> None:
    text = ics(*GOOD).replace(
        "END:VCALENDAR", "BEGIN:VTODO\nUID:t\nDUE:someday\nPERCENT-COMPLETE:lots\nEND:VTODO\nEND:VCALENDAR"
    )
    reading = read_calendars([(text, "")], BERLIN)
    assert [e.summary for e in reading.events] == ["Coffee"]
    assert any(
        "dropped a line that cannot be read (DUE:someday); the VTODO is still read" in r
        for r in reading.reasons
    )


def test_a_good_alarm_is_kept_and_only_the_bad_one_dropped() -> None:
    good = "BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT15M\nEND:VALARM"
    bad = "BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:P-1D\nEND:VALARM"
    fixed, reasons = repair(ics(*GOOD, good, bad))
    assert fixed.count("BEGIN:VALARM") == 1 and "TRIGGER:-PT15M" in fixed and "P-1D" not in fixed
    assert reasons == [
        "dropped an alarm whose TRIGGER cannot be read (TRIGGER:P-1D); the event is still read"
    ]


def test_an_end_without_its_begin_is_dropped() -> None:
    lines, reasons = lenient_lines(
        ["BEGIN:VCALENDAR", "BEGIN:VEVENT", "END:VALARM", "UID:a", "END:VEVENT", "END:VCALENDAR"]
    )
    assert lines == ["BEGIN:VCALENDAR", "BEGIN:VEVENT", "UID:a", "END:VEVENT", "END:VCALENDAR"]
    assert reasons == ["dropped END:VALARM without its BEGIN"]


def test_a_sender_cannot_write_the_unread_marker() -> None:
    reading = read_calendars([(ics(*GOOD, "X-MAILFLOW-UNREAD:DTSTART:whatever"), "")], BERLIN)
    assert reading.events[0].doubts == [] and reading.events[0].start is not None


def test_a_calendar_that_only_looks_encoded_is_left_alone() -> None:
    text = ics(*GOOD, "DESCRIPTION:see https://x.example/?q=3D and more", "RRULE:FREQ=DAILY;COUNT=2")
    fixed, reasons = repair(text)
    assert "q=3D" in fixed and "FREQ=DAILY" in fixed and reasons == []


def test_some_broken_attachments_go_and_the_good_one_stays() -> None:
    text = ics(*GOOD, "ATTACH:https://files.example/cv.pdf", "ATTACH;ENCODING=BASE64;VALUE=BINARY:***")
    event = read_calendars([(text, "")], BERLIN).events[0]
    assert str(event.component["ATTACH"]) == "https://files.example/cv.pdf"
    assert event.doubts == [] and any("dropped ATTACH" in r for r in event.reasons)


def test_many_bad_lines_cost_little_and_say_little() -> None:
    alarms = "\n".join(f"BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:P-{i}M\nEND:VALARM" for i in range(1500))
    lines = "\n".join(f"X-BAD{i};=:v" for i in range(3000))
    began = time.monotonic()
    reading = read_calendars([(ics(*GOOD, alarms, lines), "")], BERLIN)
    assert time.monotonic() - began < 10
    assert [e.summary for e in reading.events] == ["Coffee"]
    assert len(reading.reasons) <= MAX_REASONS + 1
    assert "more lines that cannot be read were dropped" in reading.reasons
