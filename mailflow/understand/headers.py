"""Header facts of a message: who, when, what about, and which thread.

Every header is hostile text: encoded words with unknown charsets, dates
nobody can parse, Message-IDs without angle brackets.  Each reader here
returns something usable (or empty) and never raises.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.header import decode_header, make_header
from email.message import Message

from mailflow.model import Person
from mailflow.text import one_line
from mailflow.understand.people import clean_name, normalise_address

_MSGID = re.compile(r"<([^<>\s]{1,500})>")
#: the years a date is believed in; beyond them arithmetic overflows (year 1, 9999) and no meeting is
EARLIEST_YEAR, LATEST_YEAR = 1900, 2200
#: encoded words are decoded from at most this much of a header: an encoded character takes up to 12
ENCODED_PER_CHAR = 16


def in_range(value: date) -> bool:
    """Whether a date (or date-time) lies in the years this reads, :data:`EARLIEST_YEAR` to :data:`LATEST_YEAR`."""
    return EARLIEST_YEAR <= value.year <= LATEST_YEAR


def decode_words(value: str, limit: int = 4000) -> str:
    """RFC 2047 encoded words decoded (from the first ``limit`` * 16 characters); unknown charsets read as latin-1."""
    text = str(value or "")[: limit * ENCODED_PER_CHAR]
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except Exception:
        try:
            return "".join(
                chunk.decode("latin-1") if isinstance(chunk, bytes) else chunk
                for chunk, _ in decode_header(text)
            )
        except Exception:
            return text


def header(message: Message, name: str, limit: int = 2000) -> str:
    """One header, decoded and flattened to a single line."""
    try:
        value = message.get(name)
    except Exception:
        return ""
    if value is None:
        return ""
    return one_line(decode_words(str(value), limit), limit)


def raw_header(message: Message, name: str, limit: int = 2000) -> str:
    """One header as it stands (encoded-words not decoded), flattened to a single line."""
    values = raw_headers(message, name)
    return one_line(values[0], limit) if values else ""


def raw_headers(message: Message, name: str) -> list[str]:
    """Every value of one header as it stands, encoded-words NOT decoded (for what must match exactly)."""
    try:
        values = message.get_all(name) or []
    except Exception:
        return []
    return [one_line(str(v)[:20000], 4000) for v in values[:50]]


def all_headers(message: Message, name: str) -> list[str]:
    try:
        values = message.get_all(name) or []
    except Exception:
        return []
    return [one_line(decode_words(str(v), 4000), 4000) for v in values[:50]]


def message_ids(text: str) -> tuple[str, ...]:
    """Message-IDs in ``text``, each written ``<id>``."""
    found = [f"<{m}>" for m in _MSGID.findall(text)]
    if not found and text.strip() and " " not in text.strip() and "@" in text:
        found = [f"<{text.strip().strip('<>')}>"]
    return tuple(dict.fromkeys(found))


def address_of(text: str) -> Person | None:
    """The first person in an address header value."""
    people = people_of(text)
    return people[0] if people else None


_ANGLE = re.compile(r"<\s*([^<>\s]+@[^<>\s]+)\s*>")


def sender_of(raw: str) -> Person | None:
    """The From of a message, read from the raw (undecoded) header.

    The address is the one in angle brackets when there is one: a display name
    (plain, quoted or an encoded-word) that looks like an address is only a name.
    """
    match = _ANGLE.search(raw)
    if match is None:
        return address_of(decode_words(raw))
    address = normalise_address(match.group(1))
    if not address:
        return None
    name = decode_words(raw[: match.start()].strip().strip('"').strip())
    return Person(address, clean_name(name, address))


def people_of(text: str) -> list[Person]:
    """Every person in an address header value, addresses normalised."""
    found: list[Person] = []
    try:
        pairs = email.utils.getaddresses([text])
    except Exception:
        pairs = []
    for name, raw in pairs[:100]:
        address = normalise_address(raw)
        if address:
            found.append(Person(address, clean_name(name, address)))
    if not found:
        address = normalise_address(text)
        if address:
            found.append(Person(address, ""))
    return found


def parse_date(text: str) -> datetime | None:
    """An RFC 5322 date as an aware datetime (UTC when the zone is unknown); None out of range."""
    value = _date(text)
    return value if value is not None and in_range(value) else None


def _date(text: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        value = email.utils.parsedate_to_datetime(text.strip())
    except Exception:
        return None
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def date_note(text: str) -> str:
    """Why a Date header that could be read was not used (its year is out of range), or ""."""
    value = _date(text)
    if value is None or in_range(value):
        return ""
    return f"the Date header's year {value.year} is out of range ({EARLIEST_YEAR}-{LATEST_YEAR}); ignored"


@dataclass(frozen=True)
class Facts:
    """What the headers of one message say."""

    message_id: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    sender: Person | None
    recipients: tuple[Person, ...]
    subject: str
    sent_at: datetime | None
    notes: tuple[str, ...] = ()  # what could not be used, and why


def facts(message: Message) -> Facts:
    ids = message_ids(header(message, "Message-ID", 1000))
    recipients = people_of(header(message, "To", 20000)) + people_of(header(message, "Cc", 20000))
    sent = header(message, "Date", 200)
    return Facts(
        message_id=ids[0] if ids else "",
        in_reply_to=message_ids(header(message, "In-Reply-To", 4000)),
        references=message_ids(header(message, "References", 20000))[-100:],
        sender=sender_of(raw_header(message, "From", 2000)),
        recipients=tuple(recipients[:100]),
        subject=header(message, "Subject", 1000),
        sent_at=parse_date(sent),
        notes=tuple(note for note in (date_note(sent),) if note),
    )
