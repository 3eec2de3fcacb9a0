"""Invites without a UID (Exchange CDO, Meetup, some exports) are tracked by organizer and summary."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailflow.understand import understand
from mailflow.understand.events import summary_key
from tests.unit.understand_support import CONTEXT

ORGANIZER = "carla.mendes@contoso.com"


def uidless(
    start: str,
    *,
    sequence: int = 0,
    method: str = "REQUEST",
    summary: str = "Coffee chat",
    organizer: str = f"mailto:{ORGANIZER}",
    stamp: str = "20300101T100000Z",
) -> bytes:
    """An invite as Exchange's CDO writes it: everything but a UID."""
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:Microsoft CDO for Microsoft Exchange",
        "VERSION:2.0",
        f"METHOD:{method}",
        "BEGIN:VEVENT",
        f"DTSTAMP:{stamp}",
        f"DTSTART:{start}",
        "DURATION:PT30M",
        f"SEQUENCE:{sequence}",
        *([f"SUMMARY:{summary}"] if summary else []),
        *([f"ORGANIZER;CN=Carla Mendes:{organizer}"] if organizer else []),
        "ATTENDEE;PARTSTAT=NEEDS-ACTION:MAILTO:ana@owner.example",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    return (
        f"From: Carla Mendes <{ORGANIZER}>\r\nTo: ana@owner.example\r\nSubject: {summary}\r\n"
        f"Date: Tue, 01 Jan 2030 10:00:00 +0000\r\nMessage-ID: <cdo-{sequence}-{method}@contoso.com>\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: text/calendar; charset=utf-8; method={method}\r\n\r\n"
        + "\r\n".join(lines)
    ).encode()


def test_an_invite_without_uid_is_tracked_by_its_organizer_and_summary() -> None:
    result = understand(uidless("20300110T140000Z"), CONTEXT)
    assert result.kind == "invite"
    assert result.uid.startswith("derived-") and len(result.uid) == len("derived-") + 64
    assert "the invite has no UID; tracked by its organizer and summary" in result.reasons


def test_its_reschedule_and_cancel_carry_the_same_uid() -> None:
    invite = understand(uidless("20300110T140000Z"), CONTEXT)
    moved = understand(uidless("20300111T090000Z", sequence=1, stamp="20300102T100000Z"), CONTEXT)
    cancel = understand(
        uidless("20300111T090000Z", sequence=2, method="CANCEL", summary="Canceled: Coffee chat"), CONTEXT
    )
    assert invite.uid == moved.uid == cancel.uid
    assert moved.start == datetime(2030, 1, 11, 9, tzinfo=UTC) and moved.kind == "update"
    assert cancel.kind == "cancel"


def test_case_and_spacing_do_not_change_the_uid() -> None:
    plain = understand(uidless("20300110T140000Z"), CONTEXT).uid
    shouted = understand(
        uidless("20300110T140000Z", summary="COFFEE   chat", organizer=f"MAILTO:{ORGANIZER.upper()}"), CONTEXT
    ).uid
    assert plain == shouted


def test_another_summary_or_organizer_is_another_meeting() -> None:
    plain = understand(uidless("20300110T140000Z"), CONTEXT).uid
    assert understand(uidless("20300110T140000Z", summary="Lunch"), CONTEXT).uid != plain
    assert understand(uidless("20300110T140000Z", organizer="mailto:kim@x.example"), CONTEXT).uid != plain


@pytest.mark.parametrize("missing", ["organizer", "summary"])
def test_without_organizer_or_summary_it_stays_untracked_with_the_reason(missing: str) -> None:
    result = understand(uidless("20300110T140000Z", **{missing: ""}), CONTEXT)
    assert result.kind == "invite" and result.uid == ""
    assert "the invite has no UID, and no organizer and summary to track it by" in result.reasons


def test_an_invite_with_a_uid_keeps_it() -> None:
    raw = uidless("20300110T140000Z").replace(b"SEQUENCE:0", b"SEQUENCE:0\r\nUID:own-uid@contoso.com")
    result = understand(raw, CONTEXT)
    assert result.uid == "own-uid@contoso.com"
    assert not any("no UID" in reason for reason in result.reasons)


@pytest.mark.parametrize(
    ("summary", "key"),
    [
        ("Canceled: Coffee chat", "coffee chat"),
        ("Abgesagt:  Kaffee", "kaffee"),
        ("Updated: Canceled: Coffee", "coffee"),
        ("Coffee: the sequel", "coffee: the sequel"),
    ],
)
def test_the_summary_key_drops_status_prefixes_case_and_spacing(summary: str, key: str) -> None:
    assert summary_key(summary) == key
