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

What a stranger controls here: the file names inside BODYSTRUCTURE (quoted
strings or literals) and the header section.  So the UID and the size are
read only outside quoted strings, a file name that came as a literal is kept
as a harmless quoted string, and a line too long to keep whole (thousands of
file names) makes the message one to read in full rather than an error that
would stop the folder.

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
#: of a longer response line only the start and the end are kept (its literal's ``{n}`` is at the end)
MAX_LINE = 1024 * 1024
#: of a literal inside BODYSTRUCTURE (a file name), what is kept to search
MAX_NAME = 1000

_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_LITERAL = re.compile(rb"~?\{(\d+)\+?\}\r?\n?$")
_SECTION = re.compile(rb"\bBODY\[([^\]]*)\](?:<\d+>)? ~?\{\d+\+?\}\r?\n?$")
_QUOTED = re.compile(rb'"(?:[^"\\]|\\.)*"')
_QUOTED_SECTION = re.compile(rb"\bBODY\[([^\]]*)\] (?=\"|NIL)")
_UNTAGGED = re.compile(rb"\* (?:(\d+) )?([A-Za-z]+)")
# untagged responses imaplib keeps and never clears: the ones that mean "the folder changed", the rest
_CHANGES = ("EXISTS", "EXPUNGE", "VANISHED")
_NOISE = ("RECENT", "FETCH", "SEARCH")


class FetchRefused(imaplib.IMAP4.error):
    """The server answered the FETCH with NO or BAD; the connection itself is in step."""


@dataclass
class FetchRecord:
    """One message's FETCH response: the text outside literals and each BODY[...] section.

    ``top`` is ``text`` with every quoted string emptied: the UID and the
    size are read there, where no file name can pose as ``UID 7``.
    ``truncated``: a line was too long to keep whole.
    """

    text: bytes = b""
    sections: dict[bytes, bytes] = field(default_factory=dict)
    truncated: bool = False
    top: bytes = b""

    @property
    def uid(self) -> int | None:
        found = _UID.search(self.top)
        return int(found.group(1)) if found else None

    @property
    def size(self) -> int:
        found = _SIZE.search(self.top)
        return int(found.group(1)) if found else 0

    def section(self, prefix: bytes) -> bytes:
        """The first BODY[...] section whose name starts with ``prefix`` (b"" when absent)."""
        for name, value in self.sections.items():
            if name.upper().startswith(prefix):
                return value
        return b""


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
    and :class:`FetchRefused` (an imaplib ``error``) when the command fails.
    """
    imap = client._imap
    found: dict[bytes, FetchRecord] = {}
    try:
        while True:
            line, long = _readline(imap)
            if line.startswith(tag + b" "):
                status = line[len(tag) + 1 :].split(b" ", 1)[0].upper()
                if status != b"OK":
                    raise FetchRefused(f"UID FETCH failed: {_line_text(line)}")
                return list(found.values())
            _untagged(imap, line, long, found)
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


def _untagged(imap: Any, line: bytes, long: bool, found: dict[bytes, FetchRecord]) -> None:
    """One untagged response (with its literals): a FETCH is kept, a change filed, the rest dropped."""
    record = _finish(_read_response(imap, line, long))
    head = _UNTAGGED.match(line)
    if head is None:  # "+ ..." or noise: nothing we asked for
        return
    number, kind = head.group(1), head.group(2).upper()
    if kind == b"FETCH" and number is not None:
        key = _key(record, number)
        if key in found:  # the server may split one message's data, or add a flag change
            merged = found[key]
            merged.text += b" " + record.text
            merged.top += b" " + record.top
            merged.sections.update(record.sections)
            merged.truncated |= record.truncated
        else:
            found[key] = record
        return
    if kind == b"BYE":
        raise imaplib.IMAP4.abort(f"the server said goodbye: {_line_text(line)}")
    name = kind.decode("ascii")
    if name in _CHANGES:
        imap.untagged_responses.setdefault(name, []).append(number or b"")


def _read_response(imap: Any, line: bytes, long: bool) -> FetchRecord:
    """A response from its first line on: each line that ends in ``{n}`` is followed by n bytes."""
    record = FetchRecord(truncated=long)
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
        line, long = _readline(imap)
        record.truncated |= long


def _readline(imap: Any) -> tuple[bytes, bool]:
    """One line, and whether it was too long: then its first MAX_LINE bytes and its end are kept.

    Not imaplib's ``readline``, which refuses a line over 1 MB outright: one
    stranger's message would stop the whole folder.
    """
    line: bytes = imap.file.readline(MAX_LINE)
    if not line:
        raise imaplib.IMAP4.abort("the server closed the connection")
    if line.endswith(b"\n"):
        return line, False
    tail = b""
    while not tail.endswith(b"\n"):
        chunk = imap.file.readline(MAX_LINE)
        if not chunk:
            raise imaplib.IMAP4.abort("the server closed the connection in the middle of a line")
        tail = (tail + chunk)[-256:]
    start = line.rstrip(b"\\")
    if b'"' in _QUOTED.sub(b"", start):  # cut inside a quoted string: close it
        start += b'"'
    # a quoted string closes before the line ends, so what follows the tail's last quote is outside
    # every string: the UID (when it comes last) and the literal's {n}
    return start + b" " + tail[tail.rfind(b'"') + 1 :], True


def _key(record: FetchRecord, number: bytes) -> bytes:
    found = _UID.search(record.top)
    return b"U" + found.group(1) if found else b"S" + number


def _take_literal(record: FetchRecord, head: bytes, literal: bytes) -> None:
    record.text += head
    section = _SECTION.search(head)
    if section:
        record.sections[section.group(1)] = literal
        return
    # a literal inside BODYSTRUCTURE (a file name): kept searchable as a quoted string that cannot end early
    name = literal[:MAX_NAME].translate(_HARMLESS)
    record.text += b' "' + name + b'"'


_HARMLESS = bytes.maketrans(b'"\\\r\n', b"'/  ")


def _finish(record: FetchRecord) -> FetchRecord:
    """``top`` made; a short section that came as a quoted string (or NIL) instead of a literal.

    Quoted sections are looked for only when no literal one came, and only
    outside quoted strings, where a file name in the BODYSTRUCTURE cannot pose as one.
    """
    record.top = _QUOTED.sub(b'""', record.text)
    if not record.sections:  # rare (Dovecot always sends a literal): blanked to the same length here
        blanked = _QUOTED.sub(lambda m: b'"' + b"_" * (len(m.group(0)) - 2) + b'"', record.text)
        for match in _QUOTED_SECTION.finditer(blanked):
            quoted = _QUOTED.match(record.text, match.end())
            value = quoted.group(0)[1:-1].replace(b'\\"', b'"') if quoted else b""
            record.sections[match.group(1)] = value
    return record


def _line_text(line: bytes) -> str:
    return line.decode("utf-8", "replace").strip()[:200]
