"""Forwarded messages written inline by mail clients, in several languages.

Gmail: ``---------- Forwarded message ---------`` then From/Date/Subject/To.
Outlook: a line of underscores (or ``-----Original Message-----``) then
From/Sent/To/Subject.  Apple Mail: ``Begin forwarded message:``.
Thunderbird: ``-------- Forwarded Message --------`` then Subject/Date/From/To.
Yahoo: ``----- Forwarded Message -----``.  Each with its translations.  The
parser finds the first such block and returns who wrote the forwarded
message, when, about what, and its text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailflow.model import Person
from mailflow.understand.people import clean_name, normalise_address

_MARKER_WORDS = (
    "forwarded message|original message|forwarded e-?mail|weitergeleitete nachricht|ursprüngliche nachricht"
    "|originalnachricht|message transféré|message d'origine|message original|mensaje reenviado|mensaje original"
    "|messaggio inoltrato|messaggio originale|doorgestuurd bericht|oorspronkelijk bericht"
    "|mensagem encaminhada|mensagem original|vidarebefordrat meddelande|ursprungligt meddelande"
    "|originalmeddelande|videresendt melding|opprinnelig melding|videresendt meddelelse|oprindelig meddelelse"
    "|wiadomość przekazana|oryginalna wiadomość|przekazana wiadomość|пересылаемое сообщение|исходное сообщение"
    "|välitetty viesti|alkuperäinen viesti"
)
# The markers match within one line ([ \t\r], never \s, which spans lines: a run of blank lines would
# be retried from each one, quadratic), and their leading quotes and blanks are read once (*+).
_DASH_MARKER = re.compile(
    rf"^[> \t]*+-{{2,}}[ \t]*(?:{_MARKER_WORDS})[ \t]*-{{2,}}[ \t\r]*$", re.IGNORECASE | re.MULTILINE
)
_APPLE_MARKER = re.compile(
    r"^[> \t]*+(?:begin forwarded message|anfang der weitergeleiteten nachricht|début du message réexpédié"
    r"|début du message transféré|inicio del mensaje reenviado|inizio messaggio inoltrato"
    r"|begin doorgestuurd bericht|början av vidarebefordrat brev|videresendt besked|start på videresendt besked"
    r"|mensagem encaminhada|comienzo del mensaje reenviado)[ \t]*:[ \t\r]*$",
    re.IGNORECASE | re.MULTILINE,
)
_RULE_MARKER = re.compile(r"^[> \t]*+_{10,}[ \t\r]*$", re.MULTILINE)
MAX_LINE = 2000  # a forwarded header line is shorter; a longer one is cut before it is matched

_KEYS: dict[str, tuple[str, ...]] = {
    "from": (
        "from",
        "von",
        "de",
        "da",
        "van",
        "från",
        "fra",
        "od",
        "от",
        "lähettäjä",
        "absender",
        "remitente",
    ),
    "date": (
        "date",
        "sent",
        "datum",
        "gesendet",
        "envoyé",
        "enviado",
        "enviado el",
        "fecha",
        "data",
        "inviato",
        "verzonden",
        "skickat",
        "sendt",
        "wysłano",
        "дата",
        "отправлено",
        "lähetetty",
        "päivämäärä",
        "sent at",
    ),
    "subject": (
        "subject",
        "betreff",
        "objet",
        "sujet",
        "asunto",
        "oggetto",
        "onderwerp",
        "ämne",
        "emne",
        "temat",
        "тема",
        "aihe",
        "assunto",
    ),
    "to": ("to", "an", "à", "pour", "para", "a", "aan", "till", "til", "do", "кому", "vastaanottaja"),
    "cc": ("cc", "kopie", "copie à", "cc :", "kopia"),
}
_KEY_OF = {word: key for key, words in _KEYS.items() for word in words}
# possessive (*+): each run of quotes, stars and blanks is read once, never split between two of them
_HEADER_LINE = re.compile(r"^[>\s]*+\**+\s*+([^\W\d_][\w .'-]{0,18}?)\s*+\**+\s*+:\s?(.*)$", re.UNICODE)


@dataclass(frozen=True)
class Forward:
    """An inline forwarded message."""

    preface: str  # what the forwarder wrote above it
    sender: Person | None
    subject: str
    date_text: str
    body: str
    style: str  # "marker", "apple", "outlook" or "headers"
    message_id: str = ""  # the forwarded message's own Message-ID, when it came whole (message/rfc822)


def person_in(value: str) -> Person | None:
    """The person in a forwarded From line, in any client's notation."""
    text = value.replace("**", "").replace("*", "")
    text = re.sub(r"\[mailto:([^\]]+)\]", r"<\1>", text, flags=re.IGNORECASE)
    text = re.sub(r"<mailto:[^>]*>", "", text, flags=re.IGNORECASE)
    address = normalise_address(text)
    if not address:
        return None
    name = re.split(r"[<\[]", text, maxsplit=1)[0]
    name = name.replace(address, "").strip().strip(",").strip()
    if name.lower().endswith(("wrote", "schrieb")):
        name = ""
    return Person(address, clean_name(name, address))


def _header(line: str) -> tuple[str, str] | None:
    match = _HEADER_LINE.match(line[:MAX_LINE].strip())
    if not match:
        return None
    key = _KEY_OF.get(match.group(1).strip().lower())
    return (key, match.group(2).strip()) if key else None


def _read_block(lines: list[str], start: int = 0) -> tuple[dict[str, str], int] | None:
    """Header lines of ``lines`` from ``start`` on: (headers, index of the first body line after ``start``)."""
    headers: dict[str, str] = {}
    last = ""
    index = start
    while index < len(lines) and not lines[index].strip().lstrip(">").strip():
        index += 1  # blank lines between the marker and the headers
    limit = min(len(lines), index + 30)
    while index < limit and lines[index].strip().lstrip(">").strip():
        found = _header(lines[index])
        if found is None and not last:
            return None
        if found is None:
            headers[last] = f"{headers[last]} {lines[index][:MAX_LINE].strip()}"[:MAX_LINE]  # a wrapped value
        elif found[0] not in headers:
            last = found[0]
            headers[last] = found[1]
        index += 1
    return (headers, index - start) if "from" in headers else None


def find_forward(text: str) -> Forward | None:
    """The first inline forwarded message in ``text``, or None."""
    candidates: list[tuple[int, int, str]] = []
    for pattern, style in ((_DASH_MARKER, "marker"), (_APPLE_MARKER, "apple"), (_RULE_MARKER, "outlook")):
        match = pattern.search(text)
        if match:
            candidates.append((match.start(), match.end(), style))
    for start, end, style in sorted(candidates):
        forward = _forward_at(text, start, end, style)
        if forward is not None:
            return forward
    return headers_block(text)


def _forward_at(text: str, start: int, end: int, style: str) -> Forward | None:
    lines = text[end:].lstrip("\r\n").splitlines()
    block = _read_block(lines)
    if block is None:
        return None
    headers, body_at = block
    body = "\n".join(_unquote(line) for line in lines[body_at:]).strip()
    return Forward(
        preface=text[:start].strip(),
        sender=person_in(headers["from"]),
        subject=headers.get("subject", ""),
        date_text=headers.get("date", ""),
        body=body,
        style=style,
    )


def headers_block(text: str) -> Forward | None:
    """An Outlook-style block with no marker: a From line followed by a Sent/Date line."""
    lines = text.splitlines()
    for index, line in enumerate(lines[:2000]):
        found = _header(line)
        if not found or found[0] != "from":
            continue
        block = _read_block(lines, index)  # an index, not lines[index:]: a copy per From line is quadratic
        if block and "date" in block[0] and ("subject" in block[0] or "to" in block[0]):
            headers, body_at = block
            return Forward(
                preface="\n".join(lines[:index]).strip(),
                sender=person_in(headers["from"]),
                subject=headers.get("subject", ""),
                date_text=headers.get("date", ""),
                body="\n".join(_unquote(x) for x in lines[index + body_at :]).strip(),
                style="headers",
            )
    return None


def _unquote(line: str) -> str:
    return re.sub(r"^>\s?", "", line)


_FORWARD_SUBJECT = re.compile(
    r"^\s*(?:\[?(?:fwd?|fw|wg|tr|rv|i|enc|doorst|vs|vb|vl|pd|přes|fwd?\.)\s*:|\[fwd:)", re.IGNORECASE
)


def forward_subject(subject: str) -> bool:
    """Whether a subject says the message is a forward (Fwd:, FW:, WG:, TR:, RV:, Doorst:...)."""
    return bool(_FORWARD_SUBJECT.match(subject))


def strip_subject_prefixes(subject: str) -> str:
    """The subject without Re:/Fwd:/AW:/WG: prefixes."""
    previous = None
    while previous != subject:
        previous = subject
        subject = re.sub(
            r"^\s*(?:re|aw|sv|vs|antw|odp|ynt|fwd?|fw|wg|tr|rv|enc|doorst)\s*(?:\[\d+\])?\s*:\s*",
            "",
            subject,
            flags=re.IGNORECASE,
        )
    return subject.strip()
