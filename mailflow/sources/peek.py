"""The cheap first look at a message: a few header fields and what its structure names.

No MIME parsing here: a header block is split by hand, and the structure
(IMAP's BODYSTRUCTURE text, or the raw bytes of a local file) is searched
with one regular expression.  A false "calendar" only costs a full parse
later; a missed one would lose an invite, so the patterns are generous.
Everything read is hostile text: bounded, decoded leniently, never raising.
"""

from __future__ import annotations

import contextlib
import email.utils
import re
from email.header import decode_header, make_header

from mailflow.model import MessageRef
from mailflow.sources.base import Incoming
from mailflow.text import one_line

#: the header fields the first look needs (IMAP fetches only these)
LOOK_FIELDS = ("FROM", "MESSAGE-ID", "IN-REPLY-TO", "REFERENCES", "SUBJECT")
MAX_HEADER_BYTES = 256 * 1024
MAX_IDS = 100
MAX_STRUCTURE_LINES = 1000
_CONTENT_MARKERS = (b"\nContent-", b"\ncontent-", b"\nCONTENT-")

_FOLD = re.compile(r"\r?\n[ \t]+")
_MSGID = re.compile(r"<[^<>\s]{1,998}>")
# BODYSTRUCTURE writes ("text" "calendar" ...); a raw message writes Content-Type: text/calendar
_CALENDAR = re.compile(
    rb'(?i)(?:"text" "(?:x-v)?calendar"|text/(?:x-v)?calendar|"application" "(?:x-)?ics"|application/(?:x-)?ics\b'
    rb'|"text" "ics"|text/ics\b|\.(?:ics|ical|icalendar|vcs)(?:\?=)?["\';\s)])'
)
_ATTACHED = re.compile(rb'(?i)"message" "rfc822"|message/rfc822')
_BODY_START = re.compile(rb"\r?\n\r?\n")
# `Name <a@b>`, `"Name" <a@b>`, `<a@b>` or `a@b`: no comments, groups, quoted pairs or lists
_SIMPLE_FROM = re.compile(
    r'^\s*(?:"([^"\\]*)"|([^"<>()\\,;:@]*?))\s*<?([A-Za-z0-9.!#$%&\'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+)>?\s*$'
)


def header_fields(block: bytes) -> dict[str, str]:
    """The first value of each field in a header block, unfolded, names lower case."""
    text = block[:MAX_HEADER_BYTES].decode("utf-8", "replace")
    fields: dict[str, str] = {}
    for line in _FOLD.sub(" ", text).splitlines():
        name, sep, value = line.partition(":")
        name = name.strip().lower()
        if sep and name and " " not in name and name not in fields:
            fields[name] = value.strip()
    return fields


def decoded(value: str, limit: int = 300) -> str:
    """An RFC 2047 header value as readable text on one line."""
    if "=?" in value:
        # an unknown charset or a broken encoded word is shown as it is
        with contextlib.suppress(Exception):
            value = str(make_header(decode_header(value)))
    return one_line(value, limit)


def sender_of(value: str) -> tuple[str, str]:
    """(address in lower case, display name) of a From value; ("", "") when there is none."""
    simple = _SIMPLE_FROM.match(value)
    if simple:  # the common shapes, without email.utils' tokenizer (10x slower)
        name = simple.group(1) if simple.group(1) is not None else (simple.group(2) or "")
        return simple.group(3).lower(), decoded(name.strip(), 200)
    try:
        name, address = email.utils.parseaddr(value)
    except Exception:
        return "", ""
    address = address.strip().lower()
    return (address if "@" in address else ""), decoded(name, 200)


def message_ids(value: str) -> tuple[str, ...]:
    return tuple(_MSGID.findall(value)[:MAX_IDS])


def incoming_from_header(ref: MessageRef, block: bytes, *, size: int, structure: bytes) -> Incoming:
    """An :class:`Incoming` from a header block and the text that shows the structure."""
    fields = header_fields(block)
    sender, name = sender_of(fields.get("from", ""))
    ids = message_ids(fields.get("message-id", ""))
    return Incoming(
        ref=ref,
        size=size,
        sender=sender,
        sender_name=name,
        message_id=ids[0] if ids else "",
        in_reply_to=message_ids(fields.get("in-reply-to", "")),
        references=message_ids(fields.get("references", "")),
        subject=decoded(fields.get("subject", "")),
        calendar=_CALENDAR.search(structure) is not None,
        attached_message=_ATTACHED.search(structure) is not None,
    )


def look_at(ref: MessageRef, raw: bytes) -> Incoming:
    """The first look at a whole message held in memory or in a local file."""
    end = _BODY_START.search(raw, 0, MAX_HEADER_BYTES)
    block = raw[: end.start()] if end else raw[:MAX_HEADER_BYTES]
    return incoming_from_header(ref, block, size=len(raw), structure=structure_lines(raw))


def structure_lines(raw: bytes) -> bytes:
    """Every ``Content-Type``/``Content-Disposition``-like line of a raw message, with its folds.

    What BODYSTRUCTURE is to IMAP: the part types and file names, found with
    ``bytes.find`` instead of a regular expression over a body that may hold
    megabytes of base64.
    """
    found: list[bytes] = []
    for marker in _CONTENT_MARKERS:
        start = 0 if raw.startswith(marker[1:]) else raw.find(marker)
        while start != -1 and len(found) < MAX_STRUCTURE_LINES:
            end = _line_end(raw, start + 1)
            found.append(raw[start : min(end, start + 4096)])
            start = raw.find(marker, end)
    return b"\n".join(found)


def _line_end(raw: bytes, start: int) -> int:
    """Where the header line at ``start`` ends, folded continuation lines included."""
    end = raw.find(b"\n", start)
    while end != -1 and raw[end + 1 : end + 2] in (b" ", b"\t"):
        end = raw.find(b"\n", end + 1)
    return len(raw) if end == -1 else end
