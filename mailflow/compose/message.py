"""Building the EmailMessage that goes out, with headers that cannot be abused.

This Python's ``email`` package predates the standard library's fixes for
header injection (CVE-2024-6923 and friends), so every value that reaches a
header is made safe here first: control characters (CR, LF, NUL, bidi
overrides) become spaces, encoded-word look-alikes (``=?utf-8?q?...?=``) are
broken up so no client decodes them into something else, angle brackets and
quotes leave display names, and addresses and Message-IDs must match a
strict ASCII shape or are refused (addresses) or dropped (threading).
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from mailflow import clock
from mailflow.compose.environment import Rendered
from mailflow.config import Settings
from mailflow.errors import ConfigError, PermanentError
from mailflow.model import Person
from mailflow.text import one_line, safe_filename

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN_RE = rf"{_LABEL}(?:\.{_LABEL})+"
_ADDRESS = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*@{_DOMAIN_RE}$")
_DOMAIN = re.compile(rf"^{_DOMAIN_RE}$")
_MESSAGE_ID = re.compile(r"^<[\x21-\x3b\x3d\x3f-\x7e]{1,200}@[\x21-\x3b\x3d\x3f-\x7e]{1,200}>$")
_ENCODED_WORD_START = re.compile(r"=\s*\?")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
MAX_REFERENCES = 20

SMTP_POLICY = email.policy.SMTP


@dataclass(frozen=True)
class Attachment:
    """A file to attach."""

    filename: str
    content_type: str  # "application/pdf"
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class CalendarPart:
    """An iCalendar object, sent both inline (``text/calendar; method=...``) and as a file."""

    method: str  # "REQUEST" or "PUBLISH"
    data: bytes = field(repr=False)
    filename: str = "invite.ics"


# -- making values safe ---------------------------------------------------------


def encodable(text: str) -> str:
    """``text`` without lone surrogates (undecodable bytes of a parsed mail), which UTF-8 cannot carry."""
    return _SURROGATE.sub("\ufffd", text)


def safe_header_text(text: str, limit: int = 250) -> str:
    """One line, no control characters, no encoded-word look-alikes: fit for a Subject."""
    flat = one_line(encodable(text), limit)
    return _ENCODED_WORD_START.sub("= ?", flat)


def safe_display_name(name: str) -> str:
    """A display name that can be neither two headers nor a second address."""
    flat = safe_header_text(name, 80)
    return " ".join(re.sub(r'[<>"\\]', " ", flat).split())


def checked_address(address: str) -> str:
    """``address`` when it is a plain ASCII ``local@domain.tld``; otherwise refused."""
    candidate = address.strip()
    if not _ADDRESS.match(candidate) or len(candidate) > 254:
        raise PermanentError(
            f'"{one_line(candidate, 80)}" is not an e-mail address mailflow can write to.',
            backend="compose",
            hint="correct the contact's address, or set the step to off",
        )
    return candidate


def checked_message_id(value: str) -> str:
    """``value`` when it is a well-formed ``<left@right>``, else ""."""
    value = value.strip()
    return value if _MESSAGE_ID.match(value) else ""


def checked_references(values: Sequence[str]) -> list[str]:
    """Well-formed, de-duplicated Message-IDs; the first and the most recent kept when too many."""
    result: list[str] = []
    for value in values:
        checked = checked_message_id(value)
        if checked and checked not in result:
            result.append(checked)
    if len(result) > MAX_REFERENCES:
        result = [result[0], *result[-(MAX_REFERENCES - 1) :]]
    return result


def _address(person: Person) -> Address:
    return Address(display_name=safe_display_name(person.name), addr_spec=checked_address(person.address))


# -- Message-IDs ----------------------------------------------------------------


def make_message_id(domain: str) -> str:
    """A new Message-ID on ``domain``: ``<mailflow.20240514T100000.3f9a0c1e5d7b2a46@example.org>``."""
    domain = domain.strip().lower()
    if not _DOMAIN.match(domain):
        raise ConfigError(f'sending.message_id_domain: expected a domain like "example.org", got "{domain}"')
    stamp = clock.now().strftime("%Y%m%dT%H%M%S")
    return f"<mailflow.{stamp}.{secrets.token_hex(8)}@{domain}>"


def message_id_domain(settings: Settings) -> str:
    """``[sending] message_id_domain``, else the domain of the address mail is sent from."""
    if settings.sending.message_id_domain:
        return settings.sending.message_id_domain.strip().lower()
    sender = sending_address(settings)
    return sender.rpartition("@")[2].lower() if "@" in sender else "mailflow.invalid"


def sending_address(settings: Settings) -> str:
    """The From address of mail mailflow sends: ``[smtp] from_address``, else the owner's first."""
    if settings.smtp is not None and settings.smtp.from_address:
        return settings.smtp.from_address.strip()
    return settings.owner.addresses[0] if settings.owner.addresses else ""


# -- the message ----------------------------------------------------------------


def build_message(
    rendered: Rendered,
    *,
    message_id: str,
    from_: Person,
    to: Person | Sequence[Person],
    reply_to: Person | None = None,
    in_reply_to: str = "",
    references: Sequence[str] = (),
    to_owner: bool = False,
    attachments: Sequence[Attachment] = (),
    calendar: CalendarPart | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """The mail for ``rendered``.

    ``message_id`` is chosen (and stored) by the caller before sending.
    ``in_reply_to``/``references`` thread the mail onto the original invite or
    request.  Mail to the owner carries ``Auto-Submitted: auto-generated`` so
    nothing auto-replies to it.  With HTML or a calendar the body is
    ``multipart/alternative``; attachments (and ``invite.ics``) make it
    ``multipart/mixed``.
    """
    if not checked_message_id(message_id):
        raise ValueError(f"not a Message-ID: {message_id!r}")
    msg = EmailMessage(policy=SMTP_POLICY)
    _set_headers(msg, rendered, message_id, from_, to, reply_to, date)
    _set_threading(msg, in_reply_to, references)
    if to_owner:
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "All"
    _set_body(msg, rendered, calendar)
    for attachment in attachments:
        _attach(msg, attachment)
    if calendar is not None:
        _attach(msg, Attachment(calendar.filename, "application/ics", calendar.data))
    for part in msg.walk():
        if part is not msg:
            del part["MIME-Version"]  # only the top needs it
    return msg


def _set_headers(
    msg: EmailMessage,
    rendered: Rendered,
    message_id: str,
    from_: Person,
    to: Person | Sequence[Person],
    reply_to: Person | None,
    date: datetime | None,
) -> None:
    recipients = [to] if isinstance(to, Person) else list(to)
    if not recipients:
        raise ValueError("a message needs at least one recipient")
    msg["Message-ID"] = message_id
    msg["Date"] = format_datetime(date or clock.now())
    msg["From"] = _address(from_)
    msg["To"] = [_address(person) for person in recipients]
    if reply_to is not None and reply_to.address.strip().lower() != from_.address.strip().lower():
        msg["Reply-To"] = _address(reply_to)
    msg["Subject"] = safe_header_text(rendered.subject)


def _set_threading(msg: EmailMessage, in_reply_to: str, references: Sequence[str]) -> None:
    parent = checked_message_id(in_reply_to)
    chain = checked_references([*references, parent] if parent else list(references))
    if parent:
        msg["In-Reply-To"] = parent
    if chain:
        msg["References"] = " ".join(chain)


def _set_body(msg: EmailMessage, rendered: Rendered, calendar: CalendarPart | None) -> None:
    msg.set_content(encodable(rendered.text))
    if rendered.html is not None:
        msg.add_alternative(encodable(rendered.html), subtype="html")
    if calendar is not None:
        if msg.get_content_type() != "multipart/alternative":
            msg.make_alternative()
        msg.attach(calendar_part(calendar))


def calendar_part(calendar: CalendarPart) -> EmailMessage:
    """The inline ``text/calendar; method=...`` part.

    Parsed from text rather than built, so that its Content-Type keeps
    ``method=REQUEST`` unquoted, as Outlook and Google write it (the email
    package would quote every parameter it formats itself).
    """
    method = re.sub(r"[^A-Z-]", "", calendar.method.upper()) or "PUBLISH"
    try:
        body, cte = calendar.data.decode("ascii"), "7bit"
    except UnicodeDecodeError:
        body, cte = base64.encodebytes(calendar.data).decode("ascii"), "base64"
    source = (
        f"Content-Type: text/calendar; charset=utf-8; method={method}\n"
        f"Content-Transfer-Encoding: {cte}\n\n{body}"
    )
    part = email.parser.Parser(_class=EmailMessage, policy=SMTP_POLICY).parsestr(source)
    assert isinstance(part, EmailMessage)
    return part


def _attach(msg: EmailMessage, attachment: Attachment) -> None:
    maintype, _, subtype = attachment.content_type.partition("/")
    if not re.match(r"^[a-z0-9.+-]+$", maintype.lower()) or not re.match(r"^[a-z0-9.+-]+$", subtype.lower()):
        maintype, subtype = "application", "octet-stream"
    msg.add_attachment(
        attachment.data,
        maintype=maintype.lower(),
        subtype=subtype.lower(),
        filename=safe_filename(attachment.filename),
        params={"name": safe_filename(attachment.filename)},
    )
