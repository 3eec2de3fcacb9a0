"""The facade: never raises, unreadable input is a result, and the JSON schema is stable."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailflow.model import Understanding
from mailflow.understand import Context, understand
from tests.unit.understand_support import CONTEXT, MAIL, fixture

#: the documented keys of ``mailflow inspect`` (README "The inspect JSON"); adding is fine, removing is not
SCHEMA = {
    "kind", "method", "uid", "sequence", "dtstamp", "recurrence_id", "recurring", "start", "end", "date",
    "end_date", "timezone", "all_day", "summary", "organizer", "attendees", "counterpart", "location",
    "meeting_url", "proposed_times", "confidence", "reasons", "error", "message_id", "in_reply_to",
    "references", "sender", "subject", "sent_at", "from_owner", "trusted", "forwarded", "forwarded_from",
    "role_hint", "notes", "do_not_contact", "replied_to", "attachments", "other_events", "status",
    "original_message_id", "doubts",
}  # fmt: skip
FIXTURES = sorted(p.name for p in MAIL.glob("*.eml"))


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", "empty"),
        (b"   \r\n ", "empty"),
        (b"\x00\x01\x02 binary junk \xff\xfe", "not an e-mail message"),
        (b"just some words without any header", "not an e-mail message"),
    ],
)
def test_unreadable_input_is_a_result(raw: bytes, error: str) -> None:
    result = understand(raw, CONTEXT)
    assert result.kind == "unreadable"
    assert error in result.error


def test_too_large_is_unreadable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mailflow.understand.mime.MAX_MESSAGE_BYTES", 100)
    assert understand(b"Subject: x\n\n" + b"y" * 200, CONTEXT).kind == "unreadable"


def test_an_internal_failure_becomes_unreadable(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(raw: bytes) -> None:
        raise RuntimeError("parser exploded")

    monkeypatch.setattr("mailflow.understand.mime.parse", boom)
    result = understand(b"Subject: x\n\nhello", CONTEXT)
    assert result.kind == "unreadable" and "parser exploded" in result.error


@pytest.mark.parametrize("name", FIXTURES)
def test_every_fixture_gives_json_with_the_documented_keys(name: str) -> None:
    data = understand(fixture(name), CONTEXT).to_json()
    assert set(data) == SCHEMA
    json.dumps(data)  # serialisable without a default hook
    for key in ("start", "end", "sent_at", "dtstamp"):
        if data[key] is not None:
            assert datetime.fromisoformat(data[key]).utcoffset() is not None, key


def test_json_of_an_empty_understanding() -> None:
    data = Understanding(kind="ignored").to_json()
    assert data["attachments"] == [] and data["proposed_times"] == [] and data["start"] is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    result = understand(raw, CONTEXT)
    assert result.kind in {"unreadable", "ignored", "request", "invite", "update", "cancel", "reply", "counter",
                           "contact_reply", "owner_notes", "contact_note"}  # fmt: skip


SEEDS = [fixture(n) for n in ("google_invite.eml", "outlook_desktop_invite.eml", "thunderbird_owner_invite.eml",
                              "zoom_invite.eml", "exchange_cancel_occurrence.eml", "google_recurring.eml")]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 12))):
        action = draw(st.sampled_from(["flip", "cut", "dup", "insert"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[at : at + draw(st.integers(1, 400))]
        elif action == "dup":
            data[at:at] = data[at : at + draw(st.integers(1, 400))]
        else:
            data[at:at] = draw(st.sampled_from([b"\r\n", b":", b";", b"=", b"BEGIN:VEVENT\r\n", b"END:VCALENDAR",
                                                b"DTSTART;TZID=Nowhere:2025", b"RRULE:FREQ=SECONDLY\r\n",
                                                b"\xff\xfe", b"--", b"\r\n "]))  # fmt: skip
    return bytes(data)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_invites_never_raise(raw: bytes) -> None:
    result = understand(raw, CONTEXT)
    if result.start is not None:
        assert result.start.utcoffset() is not None


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=2000))
def test_arbitrary_calendar_text_never_raises(text: str) -> None:
    understand(f"BEGIN:VCALENDAR\r\n{text}\r\nEND:VCALENDAR".encode("utf-8", "surrogatepass"), Context())


def test_received_at_stands_in_for_a_missing_date() -> None:
    mail = b"From: jo@contact.example\nSubject: coffee\n\nWould you have 30 minutes for a coffee chat tomorrow at 10am?"
    ctx = Context(received_at=datetime(2025, 3, 3, 8, 0, tzinfo=UTC))
    result = understand(mail, ctx)
    assert result.proposed_times == (datetime(2025, 3, 4, 10, 0, tzinfo=UTC),)


def test_readme_documents_every_key() -> None:
    readme = (MAIL.parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("`mailflow inspect`", 1)[1].split("\n## ", 1)[0]
    missing = [key for key in sorted(SCHEMA) if f"`{key}`" not in section]
    assert not missing, f"README's inspect section does not document {missing}"


def test_a_series_keeps_its_calendar_for_later_occurrences_and_inspect_leaves_it_out() -> None:
    series = understand(fixture("google_recurring.eml"), CONTEXT)
    assert series.recurring and "RRULE:FREQ=WEEKLY;BYDAY=WE" in series.series_calendar
    assert "series_calendar" not in series.to_json()
    single = understand(fixture("google_invite.eml"), CONTEXT)
    one_occurrence = understand(fixture("exchange_cancel_occurrence.eml"), CONTEXT)  # RECURRENCE-ID only
    assert one_occurrence.recurring
    assert single.series_calendar == one_occurrence.series_calendar == ""
