"""The cheap first look: header fields and structure hints (FETCH answers: test_sources_imap_wire)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mailflow.model import MessageRef
from mailflow.sources.base import UidCursor
from mailflow.sources.peek import header_fields, incoming_from_header, look_at

REF = MessageRef("a", "INBOX", 1, 1)


def test_header_fields_unfold_and_keep_the_first_value() -> None:
    block = b"From: A <a@x.example>\r\nSubject: one\r\n two\r\nSubject: later\r\nbroken line\r\n"
    assert header_fields(block) == {"from": "A <a@x.example>", "subject": "one two"}


def test_structure_hints_from_bodystructure_text() -> None:
    def look(structure: bytes) -> tuple[bool, bool]:
        item = incoming_from_header(REF, b"", size=0, structure=structure)
        return item.calendar, item.attached_message

    assert look(b'("TEXT" "CALENDAR" ("METHOD" "REQUEST") NIL NIL "7BIT" 10 1)') == (True, False)
    assert look(b'("application" "ics" NIL NIL NIL "base64" 10)') == (True, False)
    assert look(b'("application" "octet-stream" ("name" "Invite.ICS") NIL NIL "base64" 10)') == (True, False)
    assert look(b'("message" "rfc822" NIL NIL NIL "7bit" 10 ("x"))') == (False, True)
    assert look(b'("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 10 1)') == (False, False)


def test_a_raw_message_is_looked_at_without_parsing() -> None:
    raw = b"From: Kim <KIM@Example.org>\r\nMessage-ID: <k1@x>\r\n\r\nContent-Type: text/calendar\r\n"
    item = look_at(REF, raw)
    assert (item.sender, item.message_id, item.calendar, item.size) == (
        "kim@example.org",
        "<k1@x>",
        True,
        len(raw),
    )


@given(st.binary(max_size=3000))
def test_any_bytes_give_a_look_and_never_raise(raw: bytes) -> None:
    item = look_at(REF, raw)
    assert item.size == len(raw)
    assert "\n" not in item.subject and "\r" not in item.subject


@given(st.text(max_size=40))
def test_a_cursor_round_trips_or_is_refused(text: str) -> None:
    parsed = UidCursor.parse(text)
    if parsed is not None:
        assert UidCursor.parse(str(parsed)) == parsed
    assert str(UidCursor(7, 42, 9)) == "7:42:9" and UidCursor.parse("7:42") == UidCursor(7, 42)
