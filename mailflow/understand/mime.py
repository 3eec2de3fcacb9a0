"""Finding the parts of a message that matter, with bounded effort.

Calendar data hides in ``text/calendar`` parts, ``.ics`` attachments sent as
``application/ics``, ``application/octet-stream``, ``text/plain`` or
``text/x-vcalendar`` (mixed-case types included), inside forwarded
``message/rfc822`` parts, or is the whole message.  Every decode falls back
rather than fails: a wrong charset becomes cp1252/latin-1 text, a broken
base64 body whatever the decoder could recover.

Anyone can mail anything, so sizes are checked on the raw bytes before the
``email`` parser (whose memory grows with every line, part and header) or
icalendar (tens of microseconds a line) see them: :func:`screen` refuses a
message too large, too long or with too many parts, and keeps the nesting of
parts shallow enough for the parser's recursion.
"""

from __future__ import annotations

import codecs
import email
import email.feedparser
import email.policy
import email.utils
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from html.parser import HTMLParser

from mailflow.model import SavedAttachment
from mailflow.text import one_line, safe_filename
from mailflow.understand.headers import decode_words

# measured: the parser needs about 5 times a message's size, plus some 60 bytes a line
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
MAX_LINES = 600_000  # 32 MB of base64 in 64-character lines
MAX_HEADER_LINES = 10_000  # a long Received chain has a few hundred
MAX_BOUNDARY_LINES = 10_000  # lines starting "--"; no more than MAX_PARTS parts are read anyway
MAX_CONTAINERS = 100  # multipart and message/* parts; deeper nesting exhausts the parser's recursion
# a Content-Type or Content-Disposition field (a long file name in RFC 2231 pieces takes ~1 KB)
MAX_PARAMETERS_BYTES = 16 * 1024
MAX_PARAMETERS = 100
MAX_PARTS = 500
MAX_DEPTH = 12
MAX_CALENDAR_PARTS = 5  # an invite carries one or two (text/calendar and invite.ics)
MAX_VEVENTS_PER_PART = 1000
MAX_CALENDAR_CHARS = 1024 * 1024  # a real invite is a few KB; Outlook's with HTML, tens
MAX_CALENDAR_TOTAL = 2 * 1024 * 1024
MAX_CALENDAR_LINES = 15_000  # content lines of all parts together: icalendar needs ~40 µs a line
MAX_TEXT_CHARS = 200_000
MAX_ATTACHMENTS = 20

_CALENDAR_TYPES = {"text/calendar", "text/x-vcalendar", "application/ics", "application/x-ics", "text/ics"}
_CALENDAR_NAMES = (".ics", ".ical", ".icalendar", ".vcs", ".ifb")
_LATIN = {"iso-8859-1", "latin-1", "latin1", "iso8859-1", "iso-8859-15", "windows-1252", "cp1252"}
_MAIL_HEADERS = ("from", "to", "subject", "date", "message-id", "mime-version", "received", "content-type")
# codecs Python reads as text that no mail is written in; decoding with them raises or mangles
_NOT_MAIL_CHARSETS = {"punycode", "idna", "undefined", "unicode-escape", "raw-unicode-escape"}
_CONTAINER = re.compile(
    rb"(?im)^(content-type:[ \t]*(?:\r?\n[ \t]+)?)((?:multipart|message)/)(delivery-status\b)?"
)
_CONTENT_LINE_START = re.compile(rb"\n(?![ \t])")
_PARAMETER_FIELD = re.compile(rb"(?im)^content-(?:type|disposition)[ \t]*:")
_FIELD_END = re.compile(rb"[\r\n](?![ \t\r\n])")  # a line break not followed by a folded line
_FEED = 64 * 1024
_ENCODED_PER_BYTE = 3  # quoted-printable writes a byte as "=XX" at worst; base64 needs 4/3


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


@dataclass(frozen=True)
class Screened:
    """A message checked before parsing: the bytes to parse, or why not, and what was changed."""

    raw: bytes
    refusal: str = ""
    notes: tuple[str, ...] = ()


def screen(raw: bytes) -> Screened:
    """Refuse what would cost the parser too much; deep nesting flattened. Counts only, no parsing."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return Screened(b"", f"the message is larger than {MAX_MESSAGE_BYTES // (1024 * 1024)} MB")
    if _lines(raw) > MAX_LINES:
        return Screened(b"", f"the message has more than {MAX_LINES:,} lines")
    if _lines(raw[: _header_end(raw)]) > MAX_HEADER_LINES:
        return Screened(b"", f"the message has more than {MAX_HEADER_LINES:,} header lines")
    if _lines(raw, b"--") > MAX_BOUNDARY_LINES:
        return Screened(b"", f"the message has more than {MAX_BOUNDARY_LINES:,} MIME boundary lines")
    if not _parameters_fit(raw):
        return Screened(
            b"",
            f"a Content-Type or Content-Disposition header is longer than {MAX_PARAMETERS_BYTES:,} bytes "
            f"or has more than {MAX_PARAMETERS} parameters",
        )
    flat, cut = _flattened(raw)
    if not cut:
        return Screened(flat)
    return Screened(
        flat, notes=(f"more than {MAX_CONTAINERS} nested parts; the deeper ones read as plain data",)
    )


def _lines(data: bytes, start: bytes = b"") -> int:
    """Lines (ending in CR, LF or CRLF, as the parser splits them) that begin with ``start``."""
    return data.count(b"\n" + start) + data.count(b"\r" + start) - data.count(b"\r\n" + start)


def _parameters_fit(raw: bytes) -> bool:
    """Whether every Content-Type and Content-Disposition field is short enough for ``email`` to read.

    Its parameter reader is quadratic (it recounts the quotes before each ";", 64 KB: 2 s, for each
    parameter asked for), and it compiles the boundary into a pattern (3 MB of "=": 10 s).
    """
    for match in _PARAMETER_FIELD.finditer(raw):
        end = _FIELD_END.search(raw, match.end())
        field = raw[match.end() : end.start() if end else len(raw)]
        if len(field) > MAX_PARAMETERS_BYTES or field.count(b";") > MAX_PARAMETERS:
            return False
    return True


def _header_end(raw: bytes) -> int:
    """Where the blank line after the header begins (after the last header line's end)."""
    ends = [raw.find(blank) + 1 for blank in (b"\n\n", b"\n\r\n", b"\r\r")]
    return min((end for end in ends if end > 0), default=len(raw))


def _flattened(raw: bytes) -> tuple[bytes, int]:
    """``raw`` with the multipart and message/* types after the first :data:`MAX_CONTAINERS` renamed,
    and how many were.

    The parser recurses once or twice per level of nesting; renamed parts are leaves.  So is every
    message/delivery-status: the parser makes a message of each of its blank-line-separated blocks
    (300,000 blank lines: 3 s), and nothing here reads them (a bounce is told by its outer type).
    """
    seen = 0

    def rename(match: re.Match[bytes]) -> bytes:
        nonlocal seen
        seen += 1
        if seen <= MAX_CONTAINERS and not match[3]:
            return match[0]
        return match[1] + b"x-flattened-" + match[2] + (match[3] or b"")

    flat = _CONTAINER.sub(rename, raw)
    return flat, max(0, seen - MAX_CONTAINERS)


def parse(raw: bytes) -> Message:
    """The message object; the parser itself never raises on bad input (but see :func:`screen`).

    Fed in pieces, as ``email.message_from_bytes`` does after copying the whole message into a
    ``StringIO`` (four bytes a character): the same result, without that copy.
    """
    parser = email.feedparser.BytesFeedParser(policy=email.policy.compat32)
    for start in range(0, len(raw), _FEED):
        parser.feed(raw[start : start + _FEED])
    return parser.close()


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
        if isinstance(name, tuple):  # RFC 2231 triple, in a charset that may be any codec
            name = email.utils.collapse_rfc2231_value(name)
    except Exception:
        return ""
    return decode_words(str(name))[:300]


def payload_bytes(part: Message, limit: int | None = None) -> bytes:
    """The transfer-decoded body of a leaf part; b"" for containers.

    With ``limit``, only about the first ``limit`` bytes are decoded (whole lines of the encoded
    body): a 30 MB body is not decoded to read its first page.
    """
    if part.is_multipart():
        return b""
    if limit is not None:
        part = _head(part, limit * _ENCODED_PER_BYTE)
    try:
        data = part.get_payload(decode=True)
    except Exception:
        return b""
    return data if isinstance(data, bytes) else b""


def _raw_payload(part: Message) -> object:
    # the stored body: get_payload() without decode= decodes 8-bit text with the declared charset,
    # and "punycode", "undefined" or a NUL in the name raise there
    return getattr(part, "_payload", None)


def encoded_size(part: Message) -> int:
    """The length of a leaf part's body as it stands (transfer-encoded)."""
    payload = _raw_payload(part)
    return len(payload) if isinstance(payload, str | bytes) else 0


def _head(part: Message, size: int) -> Message:
    """``part`` with its encoded body cut after the last line that ends within ``size`` characters."""
    payload = _raw_payload(part)
    if not isinstance(payload, str) or len(payload) <= size:
        return part
    cut = payload.rfind("\n", 0, size)
    head = Message()
    for name, value in part.items():
        head[name] = value
    head.set_payload(payload[: cut + 1 if cut > 0 else size])
    return head


def text_codec(charset: str | None) -> tuple[str, str]:
    """The codec to read text labelled ``charset`` with, and a note when the label is not a text one.

    ``rot13``, ``bz2`` or ``hex`` are codecs but not text encodings, and ``punycode``
    or a name with a NUL in it raise instead of decoding: such labels read as UTF-8.
    """
    wanted = (charset or "").strip().strip('"').lower()
    if wanted in {"", "us-ascii", "ascii", "unknown-8bit", "x-unknown"}:
        return "utf-8", ""
    try:
        info = codecs.lookup(wanted)
    except (LookupError, ValueError, TypeError):  # unknown, or a NUL in the name
        return "utf-8", ""
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_MAIL_CHARSETS:
        return "utf-8", f'charset "{_printable(wanted)}" is not a text encoding; read as utf-8'
    return wanted, ""


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text[:40])


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, str]:
    """Text from ``data`` in ``charset``; (text, note) where note says when it fell back."""
    wanted, note = text_codec(charset)
    if wanted in _LATIN and not data.isascii():
        try:  # mislabelled UTF-8 is common; genuine latin-1 text is almost never valid UTF-8
            return data.decode("utf-8"), ""
        except UnicodeDecodeError:
            pass
    try:
        return data.decode(wanted), note
    except (UnicodeError, LookupError, ValueError):  # a codec may refuse in its own way
        pass
    for fallback in ("utf-8", "cp1252"):
        try:
            return data.decode(fallback), note or f"text was not valid {wanted}; read as {fallback}"
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), note or f"text was not valid {wanted}; read as latin-1"


def part_text(part: Message, limit: int = MAX_TEXT_CHARS) -> str:
    """The decoded text of a leaf part, bounded."""
    data = payload_bytes(part, limit * 4)[: limit * 4]
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
    return find_calendars(message)[0]


def find_calendars(message: Message) -> tuple[list[CalendarPart], list[str]]:
    """:func:`calendar_parts`, and why a calendar was left unread (too large for its cost)."""
    found: list[CalendarPart] = []
    notes: list[str] = []
    texts: set[str] = set()
    budget = _Budget()
    for walked in walk(message):
        part = walked.part
        if part.is_multipart() or not is_calendar_part(part):
            continue
        data = payload_bytes(part, MAX_CALENDAR_CHARS + 1)  # more than the limit: too large, at no cost
        if b"BEGIN:VCALENDAR" not in data[:65536].upper():
            continue
        if len(found) >= MAX_CALENDAR_PARTS:
            break
        try:
            charset = part.get_content_charset()
        except Exception:
            charset = None
        if len(data) > MAX_CALENDAR_CHARS:
            notes.append(budget.refusal(data))
            continue
        text, note = decode_bytes(data, charset)
        key = re.sub(r"\s+", "", text)
        if key in texts:
            continue
        refusal = budget.refusal(data)  # charged once per distinct calendar
        if refusal:
            notes.append(refusal)
            continue
        texts.add(key)
        method = _method(part)
        found.append(CalendarPart(text, method, content_type(part), filename(part), walked.depth > 0, note))
    return found, notes


def _method(part: Message) -> str:
    """The Content-Type ``method`` parameter, upper case, or ""."""
    try:
        value = part.get_param("method") or ""
    except Exception:
        return ""
    return one_line(str(value if isinstance(value, str) else value[-1]), 40).strip().upper()


class _Budget:
    """What the calendars of one message may cost together (icalendar's time grows with each line)."""

    def __init__(self) -> None:
        self.chars = 0
        self.lines = 0

    def refusal(self, data: bytes) -> str:
        """Why ``data`` is not read (and nothing charged), or "" (and it is charged)."""
        if len(data) > MAX_CALENDAR_CHARS:
            return f"a calendar larger than {MAX_CALENDAR_CHARS // 1024} KB was not read"
        if data.upper().count(b"BEGIN:VEVENT") > MAX_VEVENTS_PER_PART:
            return f"a calendar with more than {MAX_VEVENTS_PER_PART} events was not read"
        lines = len(_CONTENT_LINE_START.findall(data)) + 1
        if self.chars + len(data) > MAX_CALENDAR_TOTAL or self.lines + lines > MAX_CALENDAR_LINES:
            return (
                f"calendars of more than {MAX_CALENDAR_TOTAL // 1024} KB or {MAX_CALENDAR_LINES:,} lines "
                "in all; the rest were not read"
            )
        self.chars += len(data)
        self.lines += lines
        return ""


def is_bare_calendar(raw: bytes) -> bool:
    """Whether the message is nothing but an iCalendar file."""
    return raw[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").upper().startswith(b"BEGIN:VCALENDAR")


def bare_calendar(raw: bytes) -> str | None:
    """The text of a message that is nothing but an iCalendar file, else None (size: see :func:`calendar_refusal`)."""
    if not is_bare_calendar(raw):
        return None
    return decode_bytes(raw, "utf-8")[0].lstrip("\ufeff")


def calendar_refusal(data: bytes) -> str:
    """Why one calendar on its own (a bare .ics) is too costly to read, or ""."""
    return _Budget().refusal(data)


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
            inner = _raw_payload(walked.part)
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
        # decoded, a body is at least a third of its encoded size: a much larger one is not decoded
        data = payload_bytes(part) if encoded_size(part) <= max_bytes * _ENCODED_PER_BYTE + 4096 else None
        name = _unique(safe_filename(filename(part) or "attachment"), names)
        if data is None or len(data) > max_bytes:
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
        return html.unescape(re.sub(r"<[^<>]*>", " ", markup[: MAX_TEXT_CHARS * 2]))[:MAX_TEXT_CHARS]
    text = "".join(parser.chunks).replace("\xa0", " ")
    # per line, not re.sub(r"[ \t]+\n"): that retries every blank of a long run (quadratic)
    text = "\n".join(line.rstrip(" \t") for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()[:MAX_TEXT_CHARS]
