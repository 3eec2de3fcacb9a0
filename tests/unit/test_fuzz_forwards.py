"""Property tests for what reads the owner's forwards and lenient calendars (issue #26).

Fixed seeds (``derandomize``), a few seconds.  Texts are built from the pieces forwards are made of
(marker lines, header lines, quotes, addresses, tags, long runs), so the search reaches the branches.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailflow.understand import understand
from mailflow.understand.forwards import (
    _APPLE_MARKER,
    _DASH_MARKER,
    MAX_RECIPIENTS,
    _normalised,
    find_forward,
    people_in,
)
from mailflow.understand.tags import owner_tags
from tests.fixtures.hostile.runner import check
from tests.unit.understand_support import CONTEXT

FUZZ = settings(
    derandomize=True,
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LENIENT = Path(__file__).resolve().parents[1] / "fixtures" / "mail" / "lenient"

PIECES = st.sampled_from([
    "---------- Forwarded message ---------", "Begin forwarded message:", "-----Original Message-----",
    "_" * 32, "From: Dan <dan@brooks.example>", "From: ana@owner.example", "From:", "To: Doe, John <j@x.example>;",
    "Date: Mon, 30 Nov 2026", "Sent: Monday", "Subject: coffee?", "Cc: a@b.example", "> ", ">>", "#note",
    "#ignore", "#seeker", "#adviser", "##note", "x#note", "mailto:", "<", ">", "@", "a" * 70 + "@", ".", " " * 40,
    "\t", "\r", "victim@third.example", "[mailto:v@x.example]", "**From:**", "Von: Dan", "De : Dan",
])  # fmt: skip
TEXTS = st.lists(st.one_of(PIECES, st.text(max_size=30)), max_size=60).map(
    lambda parts: "".join(p + ("\n" if i % 3 == 0 else " ") for i, p in enumerate(parts))
)


@FUZZ
@given(TEXTS)
def test_a_forward_names_only_addresses_of_its_own_header_block(text: str) -> None:
    forward = find_forward(text)
    if forward is None:
        return
    text = _normalised(text)  # line breaks other than "\n" are read as spaces
    assert text.startswith(forward.preface) or forward.preface in text
    named = [p for p in (forward.sender, *forward.recipients) if p is not None]
    for person in named:
        assert person.address in text.lower()
    # the boundary is the earliest: the preface holds no worded marker line of its own
    assert not _DASH_MARKER.search(forward.preface) and not _APPLE_MARKER.search(forward.preface)


@FUZZ
@given(TEXTS)
def test_people_in_gives_each_address_of_the_line_once(text: str) -> None:
    found = people_in(text)
    addresses = [p.address for p in found]
    assert len(addresses) == len(set(addresses)) <= MAX_RECIPIENTS
    assert all("@" in a and a in text.lower() for a in addresses)


@FUZZ
@given(st.lists(TEXTS, max_size=6))
def test_tags_in_quoted_lines_never_count(lines: list[str]) -> None:
    quoted = "\n".join("> " + line.replace("\n", "\n> ") for line in lines)
    tags = owner_tags(quoted)
    assert (tags.ignore, tags.note, tags.role, tags.text) == (False, False, None, "")


CALENDARS = sorted(LENIENT.glob("*.ics"))
GARBAGE = st.sampled_from([
    "P-15M", "-P15MX", "20270230T100000", "", ";", ":", "=", "=3D", "=\r\n", "FREQ=SECONDLY;INTERVAL=0",
    "x" * 500, "\x00", "TZID=Nowhere:", "99999999T999999Z", "MAYBE", "-1", "1e9", "BEGIN:VALARM", "END:VEVENT",
])  # fmt: skip


@FUZZ
@given(st.sampled_from(CALENDARS), st.lists(st.tuples(st.integers(0, 80), GARBAGE), max_size=6))
def test_a_calendar_with_broken_lines_is_always_an_answer(path: Path, changes: list[tuple[int, str]]) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    for index, garbage in changes:
        at = index % len(lines)
        name = lines[at].split(":", 1)[0]
        lines[at] = f"{name}:{garbage}"
    result = understand("\r\n".join(lines).encode(), CONTEXT)
    assert check(result) == ""
    if result.kind in ("invite", "update", "cancel") and any(
        line.startswith("DTSTART") and "20270230" in line for line in lines
    ):
        assert result.start is None or result.doubts  # a date that does not exist is never guessed
