"""Property tests: whatever a stranger mails, ``understand`` answers with a valid Understanding.

Fixed seeds (``derandomize``): the same examples on every run, about a minute in all.  The open-ended
search is bench/fuzz_understand.py; what it found became tests/fixtures/hostile and the tests of
test_hostile_understand.py.  "Valid" (``runner.check``) means: no exception escaped, none reached the
last-resort catch of ``understand``, aware datetimes in the years believed, and JSON that serialises.
"""

from __future__ import annotations

import re
import threading
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from dateutil.rrule import rrulestr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailflow.understand import understand
from mailflow.understand.rules import PERIOD_DAYS, max_gap, rule_parts
from tests.fixtures.hostile import calendar, event, invite, mail, multipart, zone
from tests.fixtures.hostile.runner import check
from tests.unit.understand_support import CONTEXT

MAIL = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
FIXTURES = [path.read_bytes() for path in sorted(MAIL.glob("*.eml"))]
# a fuzzed rule may carry both COUNT and UNTIL; dateutil honours both and warns
pytestmark = pytest.mark.filterwarnings("ignore:Using both 'count' and 'until':DeprecationWarning")
FUZZ = settings(
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

YEARS = st.sampled_from([1, 1601, 1899, 1900, 1970, 2024, 2025, 2100, 2200, 2201, 9999])
CHARSETS = st.sampled_from(["utf-8", "rot13", "bz2", "hex", "punycode", "idna", "undefined", "utf-7", "utf-16",
                            "utf-8\x00", "unicode_escape", "latin-1", "x-nope", "", '"'])  # fmt: skip
TOKENS = st.sampled_from([
    b"RRULE:FREQ=DAILY;BYSETPOS=2", b"RRULE:FREQ=YEARLY;INTERVAL=0", b"DTSTART:00010101T000000Z",
    b"DTSTART:99991231T235959Z", b"DURATION:P99999999W", b"BEGIN:VTIMEZONE", b"END:VTIMEZONE",
    b"BEGIN:DAYLIGHT", b"TZOFFSETTO:+9999", b"Content-Type: multipart/mixed; boundary=b", b"--b",
    b"Content-Type: message/rfc822", b"Content-Transfer-Encoding: base64", b"charset=rot13",
    b"=?utf-8?B?AAAA?=", b"=?punycode?q?x?=", b"-------- Forwarded Message --------", b"> " * 50,
    b"From: " + b" " * 300, b"On Monday wrote:", b"Monday 1pm", b"https://zoom.us/j/1", b"(" * 100,
    b"\x00", b"\xff\xfe", b"\r", b"BEGIN:VEVENT", b"END:VCALENDAR",
])  # fmt: skip


def _valid(raw: bytes) -> None:
    problem = check(understand(raw, CONTEXT))
    assert problem == "", problem


@settings(FUZZ, max_examples=4000)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes(raw: bytes) -> None:
    _valid(raw)


# -- the project's own mail, changed --------------------------------------------------------


@st.composite
def mutated_mail(draw: st.DrawFn) -> bytes:
    raw = draw(st.sampled_from(FIXTURES))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(raw)))
        step = draw(st.sampled_from(["token", "cut", "flip", "repeat", "charset", "year", "rule", "nest"]))
        if step == "token":
            raw = raw[:at] + b"\r\n" + draw(TOKENS) * draw(st.sampled_from([1, 3, 200])) + b"\r\n" + raw[at:]
        elif step == "cut":
            raw = raw[:at] + raw[at + draw(st.integers(1, 500)) :]
        elif step == "flip" and raw:
            spot = min(at, len(raw) - 1)
            raw = raw[:spot] + bytes([draw(st.integers(0, 255))]) + raw[spot + 1 :]
        elif step == "repeat":
            lines = raw.split(b"\n")
            index = at % len(lines)
            lines[index:index] = [lines[index]] * draw(st.sampled_from([2, 50, 2000]))
            raw = b"\n".join(lines)
        elif step == "charset":
            charset = draw(CHARSETS).encode("utf-8", "surrogateescape")
            raw = re.sub(rb'(?i)charset="?[\w-]+"?', b'charset="' + charset + b'"', raw)
        elif step == "year":
            raw = re.sub(
                rb"(DTSTART[^:\r\n]*:|DTEND[^:\r\n]*:|DTSTAMP:)\d{4}", rb"\g<1>%04d" % draw(YEARS), raw
            )
        elif step == "rule":
            raw = raw.replace(b"BEGIN:VEVENT", b"BEGIN:VEVENT\r\nRRULE:" + draw(rules()).encode(), 1)
        else:
            raw = nested(raw, draw(st.sampled_from([1, 3, 120])))
    return raw


def nested(raw: bytes, depth: int) -> bytes:
    for level in range(depth):
        if level % 2:
            raw = mail(raw, content_type="message/rfc822", subject=f"Fwd {level}")
        else:
            raw = multipart([("text/plain", b"see below"), ("message/rfc822", raw)], subject=f"Fwd {level}")
    return raw


@settings(FUZZ, max_examples=2500)
@given(mutated_mail())
def test_mutations_of_our_own_mail(raw: bytes) -> None:
    _valid(raw)


# -- invites built from a grammar of hostile details --------------------------------------------


@st.composite
def rules(draw: st.DrawFn, plain: bool = False) -> str:
    freqs = ["DAILY", "WEEKLY", "MONTHLY", "YEARLY"] + (
        [] if plain else ["SECONDLY", "HOURLY", "NEVERLY", ""]
    )
    parts = {"FREQ": draw(st.sampled_from(freqs))}
    weekday = st.tuples(
        st.sampled_from(["", "1", "-1", "2", "4", "5", "-5", "6"]), st.sampled_from(["MO", "TU", "FR", "SU"])
    )
    choices = {
        "INTERVAL": st.sampled_from(
            [1, 2, 3, 5, 7, 12, 24, 28, 1000] + ([] if plain else [0, -1, 2**40])
        ).map(str),
        "BYDAY": st.lists(weekday, min_size=1, max_size=3).map(lambda ds: ",".join(n + d for n, d in ds)),
        "BYMONTH": st.lists(st.integers(1 if plain else 0, 12 if plain else 13), min_size=1, max_size=3).map(
            lambda ms: ",".join(map(str, ms))
        ),
        "BYMONTHDAY": st.lists(st.integers(-31, 31).filter(bool), min_size=1, max_size=3).map(
            lambda ds: ",".join(map(str, ds))
        ),
        "BYSETPOS": st.sampled_from([1, -1, 2, 3, 4] + ([] if plain else [5, 0, -6])).map(str),
    }
    if not plain:
        choices["COUNT"] = st.sampled_from(["1", "3", "1000000", "0"])
        choices["UNTIL"] = YEARS.map(lambda y: f"{y:04d}0101T000000Z")
        choices["BYWEEKNO"] = st.integers(-54, 54).map(str)
    for key in draw(st.lists(st.sampled_from(sorted(choices)), max_size=3, unique=True)):
        parts[key] = draw(choices[key])
    return ";".join(f"{k}={v}" for k, v in parts.items())


@st.composite
def hostile_invites(draw: st.DrawFn) -> bytes:
    components = []
    tzid = ""
    if draw(st.booleans()):
        tzid = draw(
            st.sampled_from(["Hostile Zone", "Europe/Berlin", "W. Europe Standard Time", "(UTC+01:00) x"])
        )
        start = f"{draw(YEARS):04d}0101T020000"
        components.append(zone(draw(rules()), start=start, tzid=tzid))
    day = f"{draw(YEARS):04d}{draw(st.integers(1, 12)):02d}{draw(st.integers(1, 28)):02d}"
    start_line = draw(st.sampled_from([f"DTSTART:{day}T140000Z", f"DTSTART;VALUE=DATE:{day}"]))
    if tzid and draw(st.booleans()):
        start_line = f"DTSTART;TZID={tzid}:{day}T140000"
    lines = [f"RRULE:{draw(rules())}" for _ in range(draw(st.integers(0, 2)))]
    lines += draw(st.lists(st.sampled_from(["DURATION:P99999W", "DURATION:-PT1H", "EXDATE:00010101T000000Z",
                                            "RDATE:99991231T000000Z", "RECURRENCE-ID:20250310T140000Z",
                                            "DTEND:99991231T000000Z", "SEQUENCE:99999999999999999999"]),
                           max_size=2))  # fmt: skip
    uid = draw(st.sampled_from(["", "hostile@x"]))
    method = draw(st.sampled_from(["REQUEST", "CANCEL", "REPLY", "COUNTER", "PUBLISH", ""]))
    components.append(event(*lines, uid=uid, start=start_line))
    ics = calendar(*components, method=method)
    return invite(ics, charset=draw(CHARSETS), date=draw(st.sampled_from(["Mon, 03 Mar 2025 10:00:00 +0000",
                                                                          "Fri, 31 Dec 9999 23:59:59 -1200"])))  # fmt: skip


@settings(FUZZ, max_examples=2000)
@given(hostile_invites())
def test_invites_with_hostile_details(raw: bytes) -> None:
    _valid(raw)


# -- the claim every expansion relies on ------------------------------------------------------


@settings(FUZZ, max_examples=2000)
@given(rules(plain=True), st.dates(date(1990, 1, 1), date(2100, 12, 31)), st.integers(0, 3 * 366))
def test_a_rule_said_to_keep_matching_does(rule: str, start: date, offset: int) -> None:
    """When ``max_gap`` says a plain rule matches at most ``gap`` periods apart, dateutil finds the next match
    within that: a wrong claim would let a series walk to 9999 (in a thread, so the guard can fire)."""
    gap = max_gap(rule, start)
    if gap is None:
        return
    parts = rule_parts(rule)
    dtstart = datetime(start.year, start.month, start.day, 9)
    probe = dtstart + timedelta(days=offset)
    found: list[datetime | None] = []
    walker = threading.Thread(
        target=lambda: found.append(rrulestr(rule, dtstart=dtstart).after(probe)), daemon=True
    )
    walker.start()
    walker.join(20)
    assert found, f"dateutil still walking {rule} from {dtstart} after 20 s"
    step = timedelta(days=PERIOD_DAYS[parts["FREQ"]] * int(parts.get("INTERVAL", "1")))
    assert found[0] is not None and found[0] - probe <= (gap + 1) * step, (rule, dtstart, found[0])
