"""One stranger's mail must never stop mailflow: every class of input that once hung, crawled or broke
``understand`` (tests/fixtures/hostile), each run in a child process with a generous guard.

Before the fixes these inputs hung (INTERVAL=0, never-matching rules walked to 9999, quadratic
patterns), took tens of seconds and hundreds of MB (a 4 MB calendar, a million parts or lines), or
raised inside understand (charsets that are not text encodings, year 1 and 9999, 1,000-deep
nesting).  The guards here are far above the fixed costs (milliseconds; see bench/fuzz_understand.py
for the real figures): they fail on a regression, not on a slow machine.  The structural tests
below check each fix where it lives.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr

from mailflow.understand import mime, understand
from mailflow.understand.calendar import read_calendars
from mailflow.understand.choice import MAX_WALK
from mailflow.understand.rules import PERIOD_DAYS, max_gap, rule_parts, walk_cost
from mailflow.understand.vtimezones import made_safe
from tests.fixtures.hostile import BY_NAME, CRAFTED, Hostile, calendar, event, invite, mail, zone
from tests.fixtures.hostile.probes import PROBES
from tests.fixtures.hostile.runner import PROBE, Outcome, run_all
from tests.unit.understand_support import CONTEXT

CPU_GUARD = 10.0  # seconds; the slowest input takes well under one
MEMORY_GUARD = 64 * 1024 * 1024  # plus 8 bytes per byte of input (a 32 MB message: ~320 MB)


@pytest.fixture(scope="module")
def outcomes() -> dict[str, Outcome]:
    return run_all([*(h.name for h in CRAFTED), *(PROBE + name for name in PROBES)], timeout=60)


@pytest.mark.parametrize("hostile", CRAFTED, ids=lambda h: h.name)
def test_a_hostile_input_is_understood_within_its_budget(
    outcomes: dict[str, Outcome], hostile: Hostile
) -> None:
    outcome = outcomes[hostile.name]
    assert outcome.problem == "", outcome
    assert outcome.cpu < CPU_GUARD, outcome
    assert outcome.mem < MEMORY_GUARD + 8 * outcome.size, outcome
    if hostile.expect:
        assert outcome.kind == hostile.expect, outcome.reasons


@pytest.mark.parametrize("name", PROBES)
def test_a_pattern_on_huge_hostile_text_finishes(outcomes: dict[str, Outcome], name: str) -> None:
    """Quadratic before (hours on these sizes), linear now (well under a second)."""
    outcome = outcomes[PROBE + name]
    assert outcome.problem == "" and outcome.cpu < CPU_GUARD, outcome


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("vtimezone-interval-0", "has a rule that is not a plain yearly one"),
        ("vtimezone-secondly-0", "has a rule that is not a plain yearly one"),
        ("vtimezone-daily-1601", "has a rule that is not a plain yearly one"),
        ("vtimezone-only-daylight", "has no STANDARD observance"),
        ("rrule-never-0", "a rule that may never match again"),
        ("rrule-never-1", "a rule that may never match again"),
        ("rrule-daily-1900", "it starts too long before the message date"),
        ("rrule-daily-zone-1601", "it starts too long before the message date"),
        ("calendar-many-timezones", "the rest were not read"),
        ("header-folded-million", "the message has more than 600,000 lines"),
        ("mime-many-parts-crlf", "the message has more than 600,000 lines"),
        ("calendar-4mb", "a calendar larger than 1024 KB was not read"),
        ("calendar-4mb-x5", "a calendar larger than 1024 KB was not read"),
        ("mime-million-parts", "the message has more than 600,000 lines"),
        ("header-million-lines", "the message has more than 600,000 lines"),
        ("message-63mb", "the message is larger than 32 MB"),
        ("boundary-3mb", "a Content-Type or Content-Disposition header is longer than"),
        ("parameters-quoted-semicolons", "a Content-Type or Content-Disposition header is longer than"),
        ("disposition-semicolons", "a Content-Type or Content-Disposition header is longer than"),
        ("nested-multipart-1000", "more than 100 nested parts"),
        ("nested-rfc822-1000", "more than 100 nested parts"),
    ],
)
def test_what_was_cut_short_says_so(outcomes: dict[str, Outcome], name: str, reason: str) -> None:
    assert any(reason in r for r in outcomes[name].reasons), outcomes[name].reasons


# -- expansions: every rule walked is shown to keep matching --------------------------------


NEVER = [
    "FREQ=DAILY;BYSETPOS=2",
    "FREQ=WEEKLY;BYDAY=MO;BYSETPOS=2",
    "FREQ=MONTHLY;BYDAY=MO,1TU",  # dateutil wants a Monday that is the first Tuesday
    "FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29",  # from 2025: never a leap year
    "FREQ=MONTHLY;INTERVAL=12;BYMONTH=2",  # from March: never February
    "FREQ=DAILY;INTERVAL=7;BYDAY=TU",  # from a Monday: only Mondays
    "FREQ=WEEKLY;INTERVAL=2;BYMONTH=6",
    "FREQ=YEARLY;INTERVAL=0",
]
REAL = [  # what Outlook, Google, Apple and Thunderbird write (../shared/corpus)
    "FREQ=WEEKLY;UNTIL=20250828T130000Z;INTERVAL=2;BYDAY=TH;WKST=MO",
    "FREQ=DAILY;UNTIL=20250828T130000Z;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR",
    "FREQ=WEEKLY;COUNT=8",
    "FREQ=MONTHLY;BYDAY=-1FR",
    "FREQ=MONTHLY;BYDAY=FR;BYSETPOS=-1",
    "FREQ=MONTHLY;INTERVAL=5;BYMONTHDAY=1",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
    "FREQ=DAILY;WKST=SU;COUNT=3;INTERVAL=1",
]
MONDAY_2025 = date(2025, 3, 3)


@pytest.mark.parametrize("rule", NEVER)
def test_a_rule_that_may_never_match_again_is_not_walked(rule: str) -> None:
    assert walk_cost(rule, MONDAY_2025, MONDAY_2025 + timedelta(days=731)) is None


@pytest.mark.parametrize("rule", REAL)
def test_the_rules_of_real_invites_are_walked(rule: str) -> None:
    cost = walk_cost(rule, MONDAY_2025, MONDAY_2025 + timedelta(days=731))
    assert cost is not None and cost < MAX_WALK


def test_a_daily_rule_from_1900_costs_too_much_to_walk() -> None:
    cost = walk_cost("FREQ=DAILY", date(1900, 1, 1), date(2027, 1, 1))
    assert cost is not None and cost > MAX_WALK


@pytest.mark.parametrize(
    "rule", [*REAL, "FREQ=MONTHLY;BYMONTHDAY=13;BYDAY=FR", "FREQ=YEARLY;INTERVAL=3;BYMONTH=2;BYMONTHDAY=29"]
)
def test_a_rule_said_to_keep_matching_matches_within_its_gap(rule: str) -> None:
    """The claim the expansion relies on, checked with dateutil itself (in a thread: a wrong claim
    would walk to 9999, and dateutil's loop lets the guard fire)."""
    text = ";".join(f"{k}={v}" for k, v in rule_parts(rule).items() if k not in {"UNTIL", "COUNT"})
    gap = max_gap(text, MONDAY_2025)
    assert gap is not None
    period = timedelta(
        days=PERIOD_DAYS[rule_parts(text)["FREQ"]] * int(rule_parts(text).get("INTERVAL", "1"))
    )
    probe = datetime(2096, 6, 1)
    found: list[datetime | None] = []
    walker = threading.Thread(
        target=lambda: found.append(rrulestr(text, dtstart=datetime(2025, 3, 3, 9)).after(probe)), daemon=True
    )
    walker.start()
    walker.join(30)
    assert found and found[0] is not None and found[0] - probe <= (gap + 1) * period


# -- VTIMEZONEs --------------------------------------------------------------------------


def test_a_vtimezone_rule_that_is_not_yearly_is_dropped_and_the_invite_keeps_its_start() -> None:
    text = calendar(zone("FREQ=MONTHLY;INTERVAL=0"), event(start="DTSTART;TZID=Hostile Zone:20250310T150000"))
    (found,) = read_calendars([(text, "")], ZoneInfo("UTC")).events
    assert found.start is not None and found.start.astimezone(UTC).hour == 14  # +01:00, the standard time


def test_real_vtimezone_rules_are_kept() -> None:
    lines = calendar(zone("FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"), event()).split("\r\n")
    kept, reasons = made_safe(lines)
    assert sum(line.startswith("RRULE") for line in kept) == 2 and reasons == []


@pytest.mark.parametrize(
    "broken",
    [
        ("TZOFFSETFROM:+0100\r\n", ""),  # dateutil: mandatory TZOFFSETFROM not found
        ("TZOFFSETTO:+0200", "TZOFFSETTO:+99999"),
        ("DTSTART:16010101T020000\r\n", ""),
    ],
)
def test_a_vtimezone_dateutil_cannot_build_no_longer_loses_the_invite(broken: tuple[str, str]) -> None:
    tz = zone("FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU").replace(*broken)
    result = understand(
        invite(calendar(tz, event(start="DTSTART;TZID=Hostile Zone:20250310T150000"))), CONTEXT
    )
    assert result.kind == "invite" and result.start is not None, result.reasons
    assert any('the VTIMEZONE "Hostile Zone" cannot be read' in r for r in result.reasons)


# -- exceptions that made a good invite unreadable ----------------------------------------


@pytest.mark.parametrize("charset", ["rot13", "bz2", "hex", "punycode", "utf-8\x00", "undefined"])
def test_a_charset_that_is_no_text_encoding_is_read_as_utf8(charset: str) -> None:
    result = understand(invite(calendar(event()), charset=charset), CONTEXT)
    assert result.kind == "invite" and result.summary == "Coffee chat"
    text, _note = mime.decode_bytes("Café".encode(), charset)
    assert text == "Café"


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        ("DTSTART:00010101T000000Z", "DTSTART is out of range (year 1"),
        ("DTSTART:99991231T235959Z", "DTSTART is out of range (year 9999"),
        ("DTSTART;TZID=Europe/Berlin:00010101T000000", "DTSTART is out of range (year 1"),
        ("DTSTART;VALUE=DATE:99991231", "DTSTART is out of range (year 9999"),
    ],
)
def test_a_date_out_of_range_is_refused_with_a_reason_and_the_rest_is_read(start: str, reason: str) -> None:
    result = understand(invite(calendar(event(start=start))), CONTEXT)
    assert result.kind == "invite" and result.start is None and result.date is None
    assert result.organizer is not None and result.summary == "Coffee chat"
    assert any(r.startswith(reason) for r in result.reasons), result.reasons


def test_a_duration_past_the_range_drops_only_the_end() -> None:
    result = understand(invite(calendar(event("DURATION:P99999999W"))), CONTEXT)
    assert result.start == datetime(2025, 3, 10, 14, tzinfo=UTC) and result.end is None
    assert "DURATION takes the end out of range; no end" in result.reasons


def test_a_date_header_out_of_range_is_ignored_with_the_reason() -> None:
    raw = mail(
        "Could we have coffee next Monday at 3pm? I'd love your advice.",
        date="Fri, 31 Dec 9999 23:59:59 -1200",
    )
    result = understand(raw, CONTEXT)
    assert result.sent_at is None
    assert any("the Date header's year 9999 is out of range" in r for r in result.reasons)


@pytest.mark.parametrize("depth", [1000])
def test_deep_nesting_is_flattened_before_the_parser_recurses(depth: int) -> None:
    raw = b"".join(
        f'Content-Type: multipart/mixed; boundary="n{i}"\r\n\r\n--n{i}\r\n'.encode() for i in range(depth)
    )
    screened = mime.screen(b"From: a@b.example\r\n" + raw)
    assert screened.refusal == "" and screened.notes
    assert mime.parse(screened.raw).get_content_type() == "multipart/mixed"  # no RecursionError


def test_a_delivery_status_is_one_leaf_not_a_message_per_blank_line() -> None:
    raw = BY_NAME["dsn-blank-lines"].build()
    parts = list(mime.walk(mime.parse(mime.screen(raw).raw)))
    assert len(parts) == 3  # the report, its text, the status: no 290,000 header blocks
    assert (
        understand(raw, CONTEXT).reasons[-1] == "a delivery status notification (bounce); not a new message"
    )


@pytest.mark.parametrize(
    ("raw", "refusal"),
    [
        (b"X: y\n" * (mime.MAX_HEADER_LINES + 1) + b"\nbody", "header lines"),
        (b"From: a@b\n\n" + b"--b\n" * (mime.MAX_BOUNDARY_LINES + 1), "MIME boundary lines"),
        (b"From: a@b\n\n" + b"\r" * (mime.MAX_LINES + 1), "lines"),
    ],
)
def test_costly_shapes_are_refused_before_parsing(raw: bytes, refusal: str) -> None:
    assert refusal in mime.screen(raw).refusal
