"""Forwarded messages written inline by mail clients, in several languages.

Gmail: ``---------- Forwarded message ---------`` then From/Date/Subject/To.
Outlook: a line of underscores (or ``-----Original Message-----``) then
From/Sent/To/Subject.  Apple Mail: ``Begin forwarded message:``.
Thunderbird: ``-------- Forwarded Message --------`` then Subject/Date/From/To.
Yahoo: ``----- Forwarded Message -----``.  Each with its translations.  The
parser finds the first such block and returns who wrote the forwarded
message, to whom, when, about what, and its text.

Only the earliest boundary counts: the forwarded text is a stranger's, and a
"Forwarded message" block written inside it must never name the counterpart.
A marker with words ("Forwarded message", "Begin forwarded message:") is a
boundary even when the header block after it cannot be read (then the
forward names nobody); a line of underscores or a bare From/Date block is one
only when its header block reads.
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
# an address, bounded on each side so that a long run of letters is tried in linear time
_ADDRESS_IN_LINE = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){0,8}")

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
    recipients: tuple[Person, ...] = ()  # its To line: the counterpart when the owner wrote it


def person_in(value: str) -> Person | None:
    """The person in a forwarded From line, in any client's notation."""
    text = value.replace("**", "").replace("*", "").lstrip("> \t")
    text = re.sub(r"\[mailto:([^\]]+)\]", r"<\1>", text, flags=re.IGNORECASE)
    text = re.sub(r"<mailto:[^>]*>", "", text, flags=re.IGNORECASE)
    written = _ADDRESS_IN_LINE.search(text[:MAX_LINE])  # as written: never glued across a space
    address = written.group(0).lower().rstrip(".") if written else normalise_address(text)
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
    return (key, match.group(2).strip().lstrip("> \t")) if key else None


def _read_block(lines: list[str], start: int = 0) -> tuple[dict[str, str], int] | None:
    """Header lines of ``lines`` from ``start`` on: (headers, index of the first body line after ``start``)."""
    headers: dict[str, str] = {}
    last = ""
    index = start
    while index < len(lines) and not lines[index].strip().lstrip(">").strip():
        index += 1  # blank lines between the marker and the headers
    limit = min(len(lines), index + 30)
    while index < limit:
        if not lines[index].strip().lstrip(">").strip():
            # HTML-to-text output of some clients leaves a blank line between header lines
            after = _header(lines[index + 1]) if index + 1 < limit else None
            if after is None or after[0] in headers:
                break
            index += 1
            continue
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


# Line breaks other than "\n" become spaces: a stranger's Subject with U+2028, NEL or a lone CR in it
# must not start a header line of its own in the forwarded block.
_OTHER_BREAKS = str.maketrans({c: " " for c in "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"})


def _normalised(text: str) -> str:
    return text.replace("\r\n", "\n").translate(_OTHER_BREAKS)


def find_forward(text: str) -> Forward | None:
    """The inline forwarded message at the earliest forward boundary of ``text``, or None.

    A boundary whose headers cannot be read (a client or language not known here) names nobody,
    and when a readable block follows it, that later block (in the forwarded text) never counts.
    """
    text = _normalised(text)
    lines = text.split("\n")
    starts = _line_starts(lines)
    found: list[tuple[int, Forward | None, bool]] = []  # (offset, forward, worded marker)
    for pattern, style in ((_DASH_MARKER, "marker"), (_APPLE_MARKER, "apple"), (_RULE_MARKER, "outlook")):
        match = pattern.search(text)
        if match:
            forward = _forward_at(text, match.start(), match.end(), style)
            if forward is None and style != "outlook":
                forward = Forward(
                    text[: match.start()].strip(), None, "", "", _body(text[match.end() :].split("\n")), style
                )
            found.append((match.start(), forward, style != "outlook"))
    for index, forward in _bare_blocks(lines):
        found.append((starts[index], forward, False))
    if not found:
        return None
    found.sort(key=lambda item: item[0])
    offset, first, worded = found[0]
    if first is not None and (first.sender is not None or worded):
        return first
    if any(f is not None and f.sender is not None for _, f, _ in found[1:]):
        # an unreadable boundary shadows what follows it: the forwarded text is a stranger's
        return Forward(text[:offset].strip(), None, "", "", text[offset:].strip(), "unread")
    return first if first is not None and first.sender is not None else None


def _line_starts(lines: list[str]) -> list[int]:
    starts, offset = [], 0
    for line in lines:
        starts.append(offset)
        offset += len(line) + 1
    return starts


def _forward_at(text: str, start: int, end: int, style: str) -> Forward | None:
    lines = text[end:].lstrip("\n").split("\n")
    block = _read_block(lines)
    if block is None:
        return Forward(text[:start].strip(), None, "", "", "", style) if _header_shaped(lines, 0) else None
    headers, body_at = block
    return Forward(
        preface=text[:start].strip(),
        sender=person_in(headers["from"]),
        subject=headers.get("subject", ""),
        date_text=headers.get("date", ""),
        body=_body(lines[body_at:]),
        style=style,
        recipients=people_in(headers.get("to", "")),
    )


def _bare_blocks(lines: list[str]) -> list[tuple[int, Forward | None]]:
    """Marker-less header blocks: the first readable one (From, Date, and Subject or To) and any header-shaped
    block before it, as (line index, forward); an unreadable block is a forward that names nobody."""
    found: list[tuple[int, Forward | None]] = []
    previous_shaped = False
    for index, line in enumerate(lines[:2000]):
        shaped = _HEADER_LINE.match(line[:MAX_LINE].strip()) is not None
        if shaped and not previous_shaped:
            block = _read_block(lines, index)  # an index, not lines[index:]: a copy per block is quadratic
            if block and "date" in block[0] and ("subject" in block[0] or "to" in block[0]):
                headers, body_at = block
                found.append((index, Forward(
                    preface="\n".join(lines[:index]).strip(),
                    sender=person_in(headers["from"]),
                    subject=headers.get("subject", ""),
                    date_text=headers.get("date", ""),
                    body=_body(lines[index + body_at :]),
                    style="headers",
                    recipients=people_in(headers.get("to", "")),
                )))  # fmt: skip
                return found
            if _header_shaped(lines, index, at_least=3):
                found.append((index, Forward("\n".join(lines[:index]).strip(), None, "", "", "", "unread")))
        previous_shaped = shaped
    return []  # shaped blocks count only in front of a readable one


def _header_shaped(lines: list[str], start: int, at_least: int = 2) -> bool:
    """Whether header-like lines ("Kimden: Dan <dan@x>") begin at ``start``: a block in a language or
    notation not known here, at least ``at_least`` lines, one of them naming an address."""
    index = start
    while index < len(lines) and not lines[index].strip().lstrip(">").strip():
        index += 1
    shaped = 0
    address = False
    while index < min(len(lines), start + 40) and _HEADER_LINE.match(lines[index][:MAX_LINE].strip()):
        shaped += 1
        address = address or "@" in lines[index]
        index += 1
    return shaped >= at_least and address


def _body(lines: list[str]) -> str:
    return "\n".join(_unquote(line.rstrip("\r\n")) for line in lines).strip()


MAX_RECIPIENTS = 20


def people_in(value: str) -> tuple[Person, ...]:
    """Everyone a forwarded To line names ("Doe, John <j@x>; Ann <a@y>"), in order, without repeats.

    Each address is the one matched, as written; the name is what stands before it since the last one.
    """
    text = value[:MAX_LINE]
    people: list[Person] = []
    start = 0
    for match in _ADDRESS_IN_LINE.finditer(text):
        address = match.group(0).lower().rstrip(".")
        before = text[start : match.start()].rstrip(" <[(\"'")
        if before.lower().endswith("mailto:"):  # Outlook's "Dan [mailto:dan@x]"
            before = before[: -len("mailto:")].rstrip(" <[(\"'")
        name = clean_name(before.strip(" ,;\"'<[("), address)
        end = match.end()
        while end < len(text) and text[end] in ">])\"'":
            end += 1
        start = end
        if all(p.address != address for p in people):
            people.append(Person(address, name))
        if len(people) >= MAX_RECIPIENTS:
            break
    return tuple(people)


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
