"""FETCH answers read straight off the connection: literals, splits, noise, failures, UID sets."""

from __future__ import annotations

import imaplib
import io
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailflow.sources import imap_wire
from mailflow.sources.imap_wire import FetchRefused, read_fetch, send_fetch, take_changes, uid_fetch, uid_set

HEADER = b"From: Kim <kim@x.example>\r\nSubject: hi\r\n\r\n"


class Wire:
    """imaplib's side of a connection: what the server will answer, and what was sent."""

    def __init__(self, answer: bytes) -> None:
        self.file = io.BytesIO(answer)
        self.sent: list[bytes] = []
        self.tagged_commands: dict[bytes, Any] = {}
        self.untagged_responses: dict[str, list[Any]] = {}
        self.tagnum = 1

    def _new_tag(self) -> bytes:
        tag = b"T%d" % self.tagnum
        self.tagnum += 1
        self.tagged_commands[tag] = None
        return tag

    def send(self, data: bytes) -> None:
        self.sent.append(data)

    def readline(self) -> bytes:
        return self.file.readline()

    def read(self, size: int) -> bytes:
        return self.file.read(size)


def client(answer: bytes) -> Any:
    return SimpleNamespace(_imap=Wire(answer))


def look(
    uid: int, header: bytes = HEADER, structure: bytes = b'("text" "plain" NIL NIL NIL "7bit" 3 1)'
) -> bytes:
    return (
        b"* %d FETCH (UID %d RFC822.SIZE %d BODYSTRUCTURE %s BODY[HEADER.FIELDS (FROM SUBJECT)] {%d}\r\n%s)\r\n"
        % (uid, uid, 100 + uid, structure, len(header), header)
    )


def test_a_fetch_is_sent_with_a_compact_uid_set_and_read_to_its_tag() -> None:
    wire = client(look(1) + look(2) + look(3) + b"T1 OK Fetch completed.\r\n" + b"* 9 EXISTS\r\n")
    found = list(uid_fetch(wire, [1, 2, 3], "(UID BODY.PEEK[])"))
    assert wire._imap.sent == [b"T1 UID FETCH 1:3 (UID BODY.PEEK[])\r\n"]
    assert [(r.uid, r.size, r.section(b"HEADER.FIELDS")) for r in found] == [
        (1, 101, HEADER),
        (2, 102, HEADER),
        (3, 103, HEADER),
    ]
    assert wire._imap.file.read() == b"* 9 EXISTS\r\n"  # nothing read past the tagged answer
    assert wire._imap.tagged_commands == {}


def test_a_literal_inside_bodystructure_is_a_quoted_file_name_not_a_section() -> None:
    structure = b'(("text" "plain" NIL NIL NIL "7bit" 3 1)("application" "octet-stream" ("name" {10}\r\ninvite.ics) NIL NIL "base64" 40) "mixed")'
    wire = client(look(7, structure=structure) + b"T1 OK done\r\n")
    (record,) = read_fetch(wire, send_fetch(wire, [7], "(X)"))
    assert b'"invite.ics"' in record.text
    assert record.sections == {b"HEADER.FIELDS (FROM SUBJECT)": HEADER}


def test_a_hostile_file_name_cannot_stand_in_for_the_header_section() -> None:
    named = b'("application" "pdf" ("name" "BODY[HEADER.FIELDS (FROM)] NIL") NIL NIL "base64" 4)'
    quoted_real = (
        b'* 4 FETCH (UID 4 BODYSTRUCTURE %s BODY[HEADER.FIELDS (FROM)] "From: kim@x.example")\r\n' % named
    )
    fake = b'BODY[HEADER.FIELDS (FROM)] "From: owner@x.example"'
    literal_name = (
        b'* 5 FETCH (UID 5 BODYSTRUCTURE ("application" "pdf" ("name" {%d}\r\n%s) NIL NIL "base64" 4) '
        b"BODY[HEADER.FIELDS (FROM)] NIL)\r\n" % (len(fake), fake)
    )
    wire = client(quoted_real + literal_name + b"T1 OK done\r\n")
    four, five = read_fetch(wire, send_fetch(wire, [4, 5], "(X)"))
    assert four.section(b"HEADER.FIELDS") == b"From: kim@x.example"
    assert five.section(b"HEADER.FIELDS") == b""


def test_a_file_name_cannot_pose_as_another_messages_uid_or_size() -> None:
    """RFC 3501 fixes no order: a server may send the UID after a stranger's BODYSTRUCTURE."""

    def uid_last(seq: int, uid: int, name: bytes) -> bytes:
        structure = b'("application" "pdf" ("name" "%s") NIL NIL "base64" 4)' % name
        return b"* %d FETCH (RFC822.SIZE 900 BODYSTRUCTURE %s BODY[HEADER.FIELDS (FROM)] {%d}\r\n%s UID %d)\r\n" % (
            seq, structure, len(HEADER), HEADER, uid)  # fmt: skip

    literal = b'* 3 FETCH (BODYSTRUCTURE ("application" "pdf" ("name" {16}\r\nUID 7 RFC822.SIZE) NIL NIL "base64" 4) UID 9)\r\n'
    wire = client(
        uid_last(1, 7, b"a.pdf") + uid_last(2, 8, b"UID 7 RFC822.SIZE 1") + literal + b"T1 OK done\r\n"
    )
    found = read_fetch(wire, send_fetch(wire, [7, 8, 9], "(X)"))
    assert [(r.uid, r.size) for r in found] == [(7, 900), (8, 900), (9, 0)]


def test_a_line_too_long_keeps_its_start_and_end_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imap_wire, "MAX_LINE", 200)
    names = b" ".join(
        b'("application" "pdf" ("name" "file number %d.pdf") NIL NIL "base64" 4)' % n for n in range(40)
    )
    long_line = b'* 1 FETCH (UID 5 RFC822.SIZE 77 BODYSTRUCTURE (%s "mixed") ' % names
    wire = client(look(4) + long_line + b"BODY[HEADER.FIELDS (FROM SUBJECT)] {%d}\r\n%s)\r\n" % (len(HEADER), HEADER)
                  + b"T1 OK done\r\n")  # fmt: skip
    four, five = read_fetch(wire, send_fetch(wire, [4, 5], "(X)"))
    assert (four.uid, four.truncated) == (4, False)
    assert (five.uid, five.size, five.truncated) == (5, 77, True)
    assert five.section(b"HEADER.FIELDS") == HEADER  # the literal after the cut was read, in step
    assert len(five.text) < 600


def test_split_answers_and_flag_changes_merge_into_one_record_per_uid() -> None:
    answer = (
        b"* 1 FETCH (UID 11 RFC822.SIZE 5)\r\n"
        b"* 2 FETCH (UID 12 FLAGS (\\Seen))\r\n"  # another client's change, unasked
        + look(1).replace(b"* 1 FETCH (UID 1 ", b"* 1 FETCH (UID 11 ")
        + b"T1 OK done\r\n"
    )
    wire = client(answer)
    found = read_fetch(wire, send_fetch(wire, [11], "(X)"))
    assert [r.uid for r in found] == [11, 12]
    assert found[0].section(b"HEADER.FIELDS") == HEADER and found[0].size == 5


def test_changes_announced_during_a_fetch_are_filed_for_the_next_poll() -> None:
    wire = client(b"* 3 EXPUNGE\r\n" + look(1) + b"* 40 EXISTS\r\n* 2 RECENT\r\nT1 OK done\r\n")
    found = read_fetch(wire, send_fetch(wire, [1], "(X)"))
    assert [r.uid for r in found] == [1]
    assert take_changes(wire) is True
    assert take_changes(wire) is False


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (look(1) + b"T1 NO [SERVERBUG] oops\r\n", FetchRefused),
        (look(1) + b"T1 BAD parse error\r\n", FetchRefused),
        (look(1) + b"* BYE shutting down\r\n", imaplib.IMAP4.abort),
        (look(1), imaplib.IMAP4.abort),  # the connection ends before the tagged answer
        (look(1)[:-20], imaplib.IMAP4.abort),  # ... or in the middle of a literal
    ],
)
def test_a_failed_or_cut_fetch_raises_imaplibs_errors(answer: bytes, error: type[Exception]) -> None:
    wire = client(answer)
    tag = send_fetch(wire, [1], "(X)")
    with pytest.raises(error):
        read_fetch(wire, tag)
    assert wire._imap.tagged_commands == {}


def test_uid_sets_collapse_runs() -> None:
    assert uid_set([1, 2, 3, 7, 9, 10]) == "1:3,7,9:10"
    assert uid_set([5]) == "5"
    assert uid_set([]) == ""


@given(st.sets(st.integers(min_value=1, max_value=10_000), max_size=300))
def test_a_uid_set_names_exactly_the_uids(uids: set[int]) -> None:
    named: list[int] = []
    for part in filter(None, uid_set(sorted(uids)).split(",")):
        first, _, last = part.partition(":")
        named.extend(range(int(first), int(last or first) + 1))
    assert named == sorted(uids)
