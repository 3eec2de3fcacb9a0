"""Finding the parts of a message that matter, with bounded effort.

Calendar data hides in ``text/calendar`` parts, ``.ics`` attachments sent as
``application/ics``, ``application/octet-stream``, ``text/plain`` or
``text/x-vcalendar`` (mixed-case types included), inside forwarded
``message/rfc822`` parts, or is the whole message.  Every decode falls back
rather than fails: a wrong charset becomes cp1252/latin-1 text, a broken
base64 body whatever the decoder could recover.
"""

from __future__ import annotations

import codecs
import email
import email.policy
import email.utils
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from html.parser import HTMLParser

from mailflow.model import SavedAttachment
from mailflow.text import safe_filename
from mailflow.understand.headers import decode_words

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
MAX_PARTS = 500
MAX_DEPTH = 12
MAX_CALENDAR_PARTS = 5  # an invite carries one or two (text/calendar and invite.ics)
MAX_VEVENTS_PER_PART = 1000
MAX_CALENDAR_CHARS = 4 * 1024 * 1024
MAX_TEXT_CHARS = 200_000
MAX_ATTACHMENTS = 20

_CALENDAR_TYPES = {"text/calendar", "text/x-vcalendar", "application/ics", "application/x-ics", "text/ics"}
_CALENDAR_NAMES = (".ics", ".ical", ".icalendar", ".vcs", ".ifb")
_LATIN = {"iso-8859-1", "latin-1", "latin1", "iso8859-1", "iso-8859-15", "windows-1252", "cp1252"}
_MAIL_HEADERS = ("from", "to", "subject", "date", "message-id", "mime-version", "received", "content-type")


@dataclass(frozen=True)
class CalendarPart:
    """One piece of calendar data and where it came from."""

    text: str
    mime_method: str  # the Content-Type ``method`` parameter, upper case, or ""
    content_type: str
    filename: str
    forwarded: bool  # inside a message/rfc822 part
    charset_note: str = ""


@dataclass(frozen=True)
class Walked:
    part: Message
    depth: int  # how many message/rfc822 parts contain it


def parse(raw: bytes) -> Message:
    """The message object; the parser itself never raises on bad input."""
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def looks_like_mail(message: Message) -> bool:
    """At least one header a mail always has; arbitrary bytes have none."""
    keys = {k.lower() for k in message.keys()[:200]}
    return any(h in keys for h in _MAIL_HEADERS)


def walk(message: Message) -> Iterator[Walked]:
    """Every part, depth first, at most :data:`MAX_PARTS` of them."""
    stack: list[tuple[Message, int, int]] = [(message, 0, 0)]
    seen = 0
    while stack and seen < MAX_PARTS:
        part, depth, nesting = stack.pop()
        seen += 1
        yield Walked(part, depth)
        if nesting >= MAX_DEPTH or not part.is_multipart():
            continue
        children = part.get_payload()
        if not isinstance(children, list):
            continue
        inner = depth + (1 if part.get_content_type() == "message/rfc822" else 0)
        stack.extend(
            (child, inner, nesting + 1) for child in reversed(children) if isinstance(child, Message)
        )


def content_type(part: Message) -> str:
    """The lower-case MIME type (``TeXt/CaLeNdAr`` -> ``text/calendar``)."""
    try:
        return part.get_content_type().lower()
    except Exception:  # a header the library cannot read counts as plain text
        return "text/plain"


def filename(part: Message) -> str:
    """The part's file name (Content-Disposition, else the ``name`` parameter), decoded."""
    try:
        name = part.get_filename() or part.get_param("name") or ""
    except Exception:
        return ""
    if isinstance(name, tuple):  # RFC 2231 triple
        name = email.utils.collapse_rfc2231_value(name)
    return decode_words(str(name))[:300]


def payload_bytes(part: Message) -> bytes:
    """The transfer-decoded body of a leaf part; b"" for containers."""
    if part.is_multipart():
        return b""
    try:
        data = part.get_payload(decode=True)
    except Exception:
        return b""
    return data if isinstance(data, bytes) else b""


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, str]:
    """Text from ``data`` in ``charset``; (text, note) where note says when it fell back."""
    wanted = (charset or "").strip().strip('"').lower()
    if wanted in {"", "us-ascii", "ascii", "unknown-8bit", "x-unknown"}:
        wanted = "utf-8"
    try:
        codecs.lookup(wanted)
    except LookupError:
        wanted = "utf-8"
    if wanted in _LATIN and not data.isascii():
        try:  # mislabelled UTF-8 is common; genuine latin-1 text is almost never valid UTF-8
            return data.decode("utf-8"), ""
        except UnicodeDecodeError:
            pass
    try:
        return data.decode(wanted), ""
    except UnicodeDecodeError:
        pass
    for fallback in ("utf-8", "cp1252"):
        try:
            return data.decode(fallback), f"text was not valid {wanted}; read as {fallback}"
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), f"text was not valid {wanted}; read as latin-1"


def part_text(part: Message, limit: int = MAX_TEXT_CHARS) -> str:
    """The decoded text of a leaf part, bounded."""
    data = payload_bytes(part)[: limit * 4]
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    return decode_bytes(data, charset)[0][:limit]


def is_calendar_part(part: Message) -> bool:
    kind = content_type(part)
    if kind in _CALENDAR_TYPES:
        return True
    name = filename(part).lower()
    return name.endswith(_CALENDAR_NAMES) and (kind.startswith(("text/", "application/")))


def calendar_parts(message: Message) -> list[CalendarPart]:
    """Every calendar found in the message, in document order, exact duplicates once."""
    found: list[CalendarPart] = []
    texts: set[str] = set()
    for walked in walk(message):
        part = walked.part
        if part.is_multipart() or not is_calendar_part(part):
            continue
        data = payload_bytes(part)
        if len(data) > MAX_CALENDAR_CHARS or b"BEGIN:VCALENDAR" not in data[:65536].upper():
            continue
        if data.upper().count(b"BEGIN:VEVENT") > MAX_VEVENTS_PER_PART:
            continue  # no invite has thousands of events; parsing them would cost minutes
        if len(found) >= MAX_CALENDAR_PARTS:
            break
        try:
            charset = part.get_content_charset()
        except Exception:
            charset = None
        text, note = decode_bytes(data, charset)
        key = re.sub(r"\s+", "", text)
        if key in texts:
            continue
        texts.add(key)
        method = str(part.get_param("method") or "").strip().upper()
        found.append(CalendarPart(text, method, content_type(part), filename(part), walked.depth > 0, note))
    return found


def bare_calendar(raw: bytes) -> str | None:
    """The text of a message that is nothing but an iCalendar file, else None."""
    head = raw[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").upper()
    if not head.startswith(b"BEGIN:VCALENDAR"):
        return None
    return decode_bytes(raw[:MAX_CALENDAR_CHARS], "utf-8")[0].lstrip("\ufeff")


# -- text bodies -------------------------------------------------------------


def _is_attachment(part: Message) -> bool:
    disposition = str(part.get("Content-Disposition", "")).lower()
    return disposition.startswith("attachment") or (
        bool(filename(part)) and not disposition.startswith("inline")
    )


def body_text(message: Message, *, depth: int = 0) -> str:
    """The readable text of the message itself (not of attached messages), bounded.

    ``text/plain`` is preferred; an HTML-only message is turned into text.
    """
    html_text = ""
    for walked in walk(message):
        part = walked.part
        if walked.depth != depth or part.is_multipart() or _is_attachment(part):
            continue
        kind = content_type(part)
        if kind == "text/plain":
            return part_text(part)
        if kind == "text/html" and not html_text:
            html_text = html_to_text(part_text(part))
    return html_text


def attached_messages(message: Message) -> list[Message]:
    """Messages attached as ``message/rfc822`` (forwards as attachment, bounced originals)."""
    found: list[Message] = []
    for walked in walk(message):
        if content_type(walked.part) == "message/rfc822" and walked.depth == 0:
            inner = walked.part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                found.append(inner[0])
    return found


def attachments(message: Message, max_bytes: int) -> tuple[list[SavedAttachment], list[str]]:
    """Files worth keeping (a résumé...), with safe unique names; and what was left out."""
    kept: list[SavedAttachment] = []
    skipped: list[str] = []
    names: set[str] = set()
    for walked in walk(message):
        part = walked.part
        if walked.depth or part.is_multipart() or not _is_attachment(part) or is_calendar_part(part):
            continue
        kind = content_type(part)
        if kind.startswith("image/") and part.get("Content-ID") and not filename(part):
            continue  # signature logos
        data = payload_bytes(part)
        name = _unique(safe_filename(filename(part) or "attachment"), names)
        if len(data) > max_bytes:
            skipped.append(f'attachment "{name}" is larger than {max_bytes} bytes; not kept')
        elif len(kept) >= MAX_ATTACHMENTS:
            skipped.append(f'attachment "{name}" not kept: more than {MAX_ATTACHMENTS} attachments')
        else:
            kept.append(SavedAttachment(name, kind, data))
    return kept, skipped


def _unique(name: str, taken: set[str]) -> str:
    candidate, counter = name, 2
    stem, dot, ext = name.rpartition(".")
    while candidate.lower() in taken:
        candidate = f"{stem} ({counter}).{ext}" if dot else f"{name} ({counter})"
        counter += 1
    taken.add(candidate.lower())
    return candidate


class _TextExtractor(HTMLParser):
    _BLOCKS = frozenset({"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "table", "blockquote", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skip = 0
        self._quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style", "head", "title"}:
            self._skip += 1
        if tag == "blockquote":
            self._quote += 1
        if tag in self._BLOCKS:
            self.chunks.append("\n")
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if href.startswith("http"):
                self.chunks.append(f" <{href}> ")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "head", "title"} and self._skip:
            self._skip -= 1
        if tag == "blockquote" and self._quote:
            self._quote -= 1
        if tag in self._BLOCKS:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._quote:
            data = "\n".join("> " + line for line in data.split("\n"))
        self.chunks.append(data)


def html_to_text(markup: str) -> str:
    """Readable text from HTML: block tags become line breaks, quotes keep a ``>``."""
    parser = _TextExtractor()
    try:
        parser.feed(markup[: MAX_TEXT_CHARS * 2])
        parser.close()
    except Exception:  # malformed markup: fall back to stripping tags
        return html.unescape(re.sub(r"<[^>]*>", " ", markup))[:MAX_TEXT_CHARS]
    text = "".join(parser.chunks).replace("\xa0", " ")
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()[:MAX_TEXT_CHARS]
