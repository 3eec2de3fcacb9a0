"""Every calendar file mailflow writes reads back, with icalendar, to the instants it was given.

Across time zones with odd rules (half-hour DST, southern hemisphere,
negative DST, zones Outlook's rule shape cannot describe) and around the
moments clocks change.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar, Event

from mailflow.compose import (
    FeedMeeting,
    FeedStep,
    Proposal,
    Reminder,
    build_feed,
    build_proposal,
    build_reminders,
    propose_slot,
)
from mailflow.compose.ics import local_instant
from mailflow.compose.vtimezone import transitions
from mailflow.config import parse_window
from mailflow.model import Person

ZONES = [
    "Europe/Berlin",
    "Europe/London",
    "Europe/Dublin",  # "negative" DST in tzdata
    "America/New_York",
    "America/Chicago",
    "America/St_Johns",  # -03:30 / -02:30
    "America/Sao_Paulo",  # DST abolished in 2019
    "America/Santiago",  # rules Outlook's shape cannot hold: written in UTC
    "Africa/Casablanca",  # Ramadan shifts: written in UTC
    "Africa/Cairo",
    "Asia/Jerusalem",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Australia/Sydney",  # southern hemisphere
    "Australia/Lord_Howe",  # 30-minute DST
    "Pacific/Chatham",  # +12:45 / +13:45
    "Pacific/Apia",
    "UTC",
]
OWNER = Person("ben@example.org", "Ben Okafor")
CONTACT = Person("ana@example.com", "Ana Pérez")
NOW = datetime(2024, 5, 14, 8, 0, tzinfo=UTC)


@st.composite
def instants(draw: st.DrawFn, zone: str) -> datetime:
    """Instants anywhere in 2020-2035, often within hours of a clock change in ``zone``."""
    year = draw(st.integers(2020, 2035))
    changes = transitions(zone, year)
    if changes and draw(st.booleans()):
        change = draw(st.sampled_from(changes)).at
        return change + timedelta(minutes=draw(st.integers(-180, 180)))
    start = datetime(year, 1, 1, tzinfo=UTC)
    return start + timedelta(minutes=draw(st.integers(0, 365 * 24 * 60)))


@st.composite
def zone_and_instants(draw: st.DrawFn, count: int = 1) -> tuple[str, list[datetime]]:
    zone = draw(st.sampled_from(ZONES))
    return zone, [draw(instants(zone)) for _ in range(count)]


def read_back(data: bytes) -> tuple[Calendar, list[Event]]:
    cal = Calendar.from_ical(data)
    return cal, list(cal.walk("VEVENT"))


def instant_of(cal: Calendar, event: Event, name: str) -> datetime:
    """The instant of property ``name``, checked three ways: icalendar, the TZID, the VTIMEZONE."""
    prop = event[name]
    value = prop.dt
    assert isinstance(value, datetime) and value.tzinfo is not None, f"{name} must not float"
    tzid = prop.params.get("TZID")
    if tzid:
        wall = value.replace(tzinfo=None)
        by_name = wall.replace(tzinfo=ZoneInfo(tzid))
        definitions = [tz for tz in cal.walk("VTIMEZONE") if str(tz["TZID"]) == tzid]
        assert len(definitions) == 1, f"TZID {tzid} is used but has no VTIMEZONE"
        by_definition = wall.replace(tzinfo=definitions[0].to_tz(lookup_tzid=False))  # the VTIMEZONE itself
        assert by_name.astimezone(UTC) == by_definition.astimezone(UTC) == value.astimezone(UTC)
    # in UTC: PEP 495 makes a wall time in a repeated hour unequal to every instant of another zone
    return value.astimezone(UTC)


def assert_outlook_ready(cal: Calendar) -> None:
    used = {
        str(p.params["TZID"])
        for e in cal.walk("VEVENT")
        for p in e.values()
        if hasattr(p, "params") and "TZID" in p.params
    }
    defined = [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")]
    assert used == set(defined) and len(defined) == len(set(defined))
    for event in cal.walk("VEVENT"):
        assert event["UID"] and event["DTSTAMP"].dt.tzinfo is not None
        assert int(event["SEQUENCE"]) == int(event["X-MICROSOFT-CDO-APPT-SEQUENCE"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(zone_and_instants(count=2), st.integers(5, 120))
def test_reminders_read_back_to_the_same_instants(case: tuple[str, list[datetime]], minutes: int) -> None:
    zone, moments = case
    reminders = [
        Reminder(f"k{i}", f"Reminder {i}", "Do it.", m, minutes=minutes) for i, m in enumerate(moments)
    ]
    cal, events = read_back(build_reminders(reminders, zone=zone, domain="example.org", now=NOW))
    assert_outlook_ready(cal)
    assert str(cal["METHOD"]) == "PUBLISH"
    for reminder, event in zip(reminders, events, strict=True):
        assert instant_of(cal, event, "DTSTART") == reminder.start
        assert instant_of(cal, event, "DTEND") == reminder.start + timedelta(minutes=minutes)
        (alarm,) = event.walk("VALARM")
        assert str(alarm["ACTION"]) == "DISPLAY"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(zone_and_instants(count=1), st.integers(15, 180), st.sampled_from(["request", "publish"]))
def test_proposals_read_back_to_the_same_instants(
    case: tuple[str, list[datetime]], minutes: int, method: str
) -> None:
    zone, (start,) = case
    end = start + timedelta(minutes=minutes)
    proposal = Proposal("42/follow_up/0", start, end, "Coffee", "Again?", OWNER, CONTACT, method=method)  # type: ignore[arg-type]
    cal, (event,) = read_back(build_proposal(proposal, zone=zone, domain="example.org", now=NOW))
    assert_outlook_ready(cal)
    assert instant_of(cal, event, "DTSTART") == start
    assert instant_of(cal, event, "DTEND") == end


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(zone_and_instants(count=4))
def test_the_feed_reads_back_to_the_same_instants(case: tuple[str, list[datetime]]) -> None:
    zone, (a, b, c, d) = case
    meetings = [FeedMeeting("m1", "Coffee", "Ana Pérez", start=a, end=a + timedelta(minutes=45))]
    steps = [
        FeedStep(f"s{i}", "thank_you", "Ana Pérez", due=m, mode="draft") for i, m in enumerate((b, c, d))
    ]
    cal, events = read_back(build_feed(meetings, steps, zone=zone, domain="example.org", now=NOW))
    assert_outlook_ready(cal)
    assert [instant_of(cal, e, "DTSTART") for e in events] == [a, b, c, d]
    assert len({str(e["UID"]) for e in events}) == 4


@st.composite
def availabilities(draw: st.DrawFn) -> str:
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    first = draw(st.integers(0, 6))
    last = draw(st.integers(first, 6))
    opens = draw(st.integers(0, 19))
    closes = draw(st.integers(opens + 3, 23))
    return f"{days[first]}-{days[last]} {opens:02d}:{draw(st.sampled_from([0, 30])):02d}-{closes:02d}:00"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone_and_instants(count=1),
    availabilities(),
    st.integers(15, 150),
    st.one_of(st.none(), st.times().map(lambda t: t.replace(second=0, microsecond=0))),
)
def test_a_proposed_slot_is_inside_the_availability_and_reads_back(
    case: tuple[str, list[datetime]], availability: str, minutes: int, preferred: time | None
) -> None:
    zone_name, (not_before,) = case
    zone = ZoneInfo(zone_name)
    length = timedelta(minutes=minutes)
    slot = propose_slot(not_before, availability, zone, length, preferred)
    days, opens, closes = parse_window(availability)
    local = slot.astimezone(zone)
    assert slot >= not_before
    assert local.weekday() in days
    assert opens <= local.time() and (datetime.combine(local.date(), local.time()) + length).time() <= closes
    assert local_instant(local.date(), local.time(), zone) == slot  # neither skipped nor repeated
    proposal = Proposal("k", slot, slot + length, "Coffee", "", OWNER, CONTACT)
    cal, (event,) = read_back(build_proposal(proposal, zone=zone_name, domain="example.org", now=NOW))
    assert instant_of(cal, event, "DTSTART") == slot


def test_the_preferred_time_is_used_when_it_fits() -> None:
    zone = ZoneInfo("Europe/Berlin")
    not_before = datetime(2024, 7, 20, 8, 0, tzinfo=UTC)  # a Saturday
    slot = propose_slot(not_before, "Mon-Fri 09:00-17:00", zone, timedelta(minutes=30), time(10, 7))
    assert slot == datetime(2024, 7, 22, 10, 0, tzinfo=zone)  # Monday, rounded to the quarter hour
    late = propose_slot(not_before, "Mon-Fri 09:00-17:00", zone, timedelta(minutes=30), time(16, 45))
    assert late == datetime(2024, 7, 22, 9, 0, tzinfo=zone)  # 16:45 + 30m would pass 17:00


def test_a_slot_never_lands_in_the_hour_clocks_skip_or_repeat() -> None:
    zone = ZoneInfo("Europe/Berlin")
    spring = propose_slot(
        datetime(2024, 3, 31, 0, 0, tzinfo=UTC), "Sun 02:00-05:00", zone, timedelta(minutes=30), time(2, 30)
    )
    assert spring.astimezone(zone).time() == time(2, 0) or spring.date() > datetime(2024, 3, 31).date()
    assert local_instant(spring.astimezone(zone).date(), spring.astimezone(zone).time(), zone) == spring
    assert local_instant(datetime(2024, 3, 31).date(), time(2, 30), zone) is None
    assert local_instant(datetime(2024, 10, 27).date(), time(2, 30), zone) is None


def test_hostile_names_and_text_cannot_add_properties_or_people() -> None:
    start = datetime(2024, 7, 22, 8, 0, tzinfo=UTC)
    evil = 'Ana"; RSVP=FALSE:mailto:x@evil.example\r\nATTENDEE:mailto:boss@evil.example\r\n'
    proposal = Proposal(
        "k",
        start,
        start + timedelta(minutes=30),
        "Coffee\r\nATTENDEE:mailto:summary@evil.example",
        "Line one\nLine two\r\nEND:VEVENT",
        OWNER,
        Person("ana@example.com", evil),
    )
    data = build_proposal(proposal, zone="Europe/Berlin", domain="example.org", now=NOW)
    _cal, (event,) = read_back(data)
    attendees = [str(a) for a in event["ATTENDEE"]]
    assert attendees == ["mailto:ana@example.com", "mailto:ben@example.org"]
    assert "evil" not in str(event["ORGANIZER"])
    assert str(event["DESCRIPTION"]) == "Line one\nLine two\nEND:VEVENT"
    lines = data.split(b"\r\n")
    assert lines.count(b"BEGIN:VEVENT") == lines.count(b"END:VEVENT") == 1
