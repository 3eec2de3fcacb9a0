"""Bulk ``UID FETCH`` read straight off the connection, without a general response parser.

Why: imapclient parses every FETCH response with a pure-Python lexer, one
character at a time, and even imaplib spends tens of microseconds of Python
on every line.  For the first look at 10,000 messages (BODYSTRUCTURE and a
few header fields) that was more than everything else in a sync together.
The responses we ask for have a fixed, simple shape, so this module sends
the command on imaplib's connection (which imapclient exposes as
``client._imap``; imapclient is pinned below 5) and reads lines and
literals itself: a line that ends in ``{n}`` is followed by ``n`` bytes and
then the rest of the same response.

A command may be sent ahead (:func:`send_fetch`) and its answer read later
(:func:`read_fetch`), so the server works on it while we do something else;
nothing else may be sent on the connection in between.

Untagged responses that say the folder changed (EXISTS, EXPUNGE, VANISHED)
are filed where imaplib files them, for :func:`take_changes`.
"""

from __future__ import annotations

import imaplib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from imapclient import IMAPClient

#: UIDs per command: 500 UIDs of up to 10 digits stay far below Dovecot's 64 KB line limit
UID_BATCH = 500

_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_LITERAL = re.compile(rb"\{(\d+)\+?\}\r?\n?$")
_SECTION = re.compile(rb"\bBODY\[([^\]]*)\](?:<\d+>)? \{\d+\+?\}\r?\n?$")
_QUOTED_SECTION = re.compile(rb'\bBODY\[([^\]]*)\] (?:"((?:[^"\\]|\\.)*)"|NIL)')
_UNTAGGED = re.compile(rb"\* (?:(\d+) )?([A-Za-z]+)")
# untagged responses imaplib keeps and never clears: the ones that mean "the folder changed", the rest
_CHANGES = ("EXISTS", "EXPUNGE", "VANISHED")
_NOISE = ("RECENT", "FETCH", "SEARCH")


@dataclass
class FetchRecord:
    """One message's FETCH response: the text outside literals and each BODY[...] section."""

    text: bytes = b""
    sections: dict[bytes, bytes] = field(default_factory=dict)

    @property
    def uid(self) -> int | None:
        found = _UID.search(self.text)
        return int(found.group(1)) if found else None

    @property
    def size(self) -> int:
        found = _SIZE.search(self.text)
        return int(found.group(1)) if found else 0

    def section(self, prefix: bytes) -> bytes:
        """The first BODY[...] section whose name starts with ``prefix`` (b"" when absent)."""
        for name, value in self.sections.items():
            if name.upper().startswith(prefix):
                return value
        return b""


def records(data: Sequence[Any]) -> Iterator[FetchRecord]:
    """Group imaplib-style FETCH data into one record per message.

    imaplib hands back a list in which a literal arrives as a tuple ``(line
    up to {n}, literal bytes)`` and the rest of that line as the next
    element, so an element that follows a tuple continues the same response.
    """
    current: FetchRecord | None = None
    continues = False
    for element in data:
        if current is not None and not continues:
            yield _finish(current)
            current = None
        if current is None:
            current = FetchRecord()
        if isinstance(element, tuple):
            _take_literal(current, bytes(element[0]), bytes(element[1]))
            continues = True
        elif isinstance(element, bytes):
            current.text += element
            continues = False
    if current is not None:
        yield _finish(current)


def uid_fetch(client: IMAPClient, uids: Sequence[int], items: str) -> Iterator[FetchRecord]:
    """``UID FETCH`` of ``uids`` (in batches) asking for ``items`` (a parenthesised list).

    Each batch is read whole before its records are handed out, so a caller
    that stops early never leaves half an answer on the connection.
    """
    for start in range(0, len(uids), UID_BATCH):
        tag = send_fetch(client, uids[start : start + UID_BATCH], items)
        yield from read_fetch(client, tag)


def send_fetch(client: IMAPClient, uids: Sequence[int], items: str) -> bytes:
    """Send ``UID FETCH`` without waiting for the answer; returns the command's tag."""
    imap = client._imap
    tag: bytes = imap._new_tag()
    imap.send(b"%s UID FETCH %s %s\r\n" % (tag, uid_set(uids).encode("ascii"), items.encode("ascii")))
    return tag


def read_fetch(client: IMAPClient, tag: bytes) -> list[FetchRecord]:
    """The answer to the command ``tag``: one record per message, in the order the server sent them.

    Raises imaplib's ``abort`` when the connection ends or the server says BYE,
    and its ``error`` when the command fails (imapclient's exception types).
    """
    imap = client._imap
    found: dict[bytes, FetchRecord] = {}
    try:
        while True:
            line = imap.readline()
            if not line:
                raise imaplib.IMAP4.abort("the server closed the connection")
            if line.startswith(tag + b" "):
                status = line[len(tag) + 1 :].split(b" ", 1)[0].upper()
                if status != b"OK":
                    raise imaplib.IMAP4.error(f"UID FETCH failed: {_line_text(line)}")
                return [_finish(record) for record in found.values()]
            _untagged(imap, line, found)
    finally:
        imap.tagged_commands.pop(tag, None)


def uid_set(uids: Sequence[int]) -> str:
    """``1:3,7,9:10`` for [1, 2, 3, 7, 9, 10] (in the order given, runs collapsed)."""
    parts: list[str] = []
    first = last = None
    for uid in uids:
        if last is not None and uid == last + 1:
            last = uid
            continue
        if first is not None:
            parts.append(f"{first}:{last}" if last != first else str(first))
        first = last = uid
    if first is not None:
        parts.append(f"{first}:{last}" if last != first else str(first))
    return ",".join(parts)


def take_changes(client: IMAPClient) -> bool:
    """Whether the server reported new or expunged mail since last asked (EXISTS, EXPUNGE).

    imaplib files every untagged response it reads, whichever command it came
    with, and never clears them; this clears them and says whether any meant
    that the folder changed.
    """
    responses = client._imap.untagged_responses
    changed = any([responses.pop(key, None) for key in _CHANGES])  # a list: pop them all
    for key in _NOISE:
        responses.pop(key, None)
    return changed


def _untagged(imap: Any, line: bytes, found: dict[bytes, FetchRecord]) -> None:
    """One untagged response (with its literals): a FETCH is kept, a change filed, the rest dropped."""
    head = _UNTAGGED.match(line)
    if head is None:  # "+ ..." or noise: nothing we asked for
        _skip_literals(imap, line)
        return
    number, kind = head.group(1), head.group(2).upper()
    if kind == b"FETCH" and number is not None:
        record = _read_response(imap, line)
        key = _key(record, number)
        if key in found:  # the server may split one message's data, or add a flag change
            found[key].text += b" " + record.text
            found[key].sections.update(record.sections)
        else:
            found[key] = record
        return
    _skip_literals(imap, line)
    if kind == b"BYE":
        raise imaplib.IMAP4.abort(f"the server said goodbye: {_line_text(line)}")
    name = kind.decode("ascii")
    if name in _CHANGES:
        imap.untagged_responses.setdefault(name, []).append(number or b"")


def _read_response(imap: Any, line: bytes) -> FetchRecord:
    record = FetchRecord()
    while True:
        literal = _LITERAL.search(line)
        if literal is None:
            record.text += line.rstrip(b"\r\n")
            return record
        size = int(literal.group(1))
        data = imap.read(size)
        if len(data) < size:
            raise imaplib.IMAP4.abort("the server closed the connection in the middle of a message")
        _take_literal(record, line.rstrip(b"\r\n"), data)
        line = imap.readline()
        if not line:
            raise imaplib.IMAP4.abort("the server closed the connection in the middle of a message")


def _skip_literals(imap: Any, line: bytes) -> None:
    _read_response(imap, line)


def _key(record: FetchRecord, number: bytes) -> bytes:
    found = _UID.search(record.text)
    return b"U" + found.group(1) if found else b"S" + number


def _take_literal(record: FetchRecord, head: bytes, literal: bytes) -> None:
    record.text += head
    section = _SECTION.search(head)
    if section:
        record.sections[section.group(1)] = literal
    else:  # a literal inside BODYSTRUCTURE (a file name): keep it searchable, quoted
        record.text += b' "' + literal.replace(b'"', b"'") + b'"'


def _finish(record: FetchRecord) -> FetchRecord:
    """A short section may come as a quoted string (or NIL) instead of a literal.

    Only looked for when no literal section came, and the last match wins:
    a file name in the BODYSTRUCTURE before it is a stranger's text.
    """
    if not record.sections:
        for match in _QUOTED_SECTION.finditer(record.text):
            record.sections[match.group(1)] = (match.group(2) or b"").replace(b'\\"', b'"')
    return record


def _line_text(line: bytes) -> str:
    return line.decode("utf-8", "replace").strip()[:200]
