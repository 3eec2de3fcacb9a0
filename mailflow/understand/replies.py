"""Replies to mailflow's mail: which message they answer, and what they say.

A reply is matched by In-Reply-To first, then References (newest first),
against the Message-IDs mailflow sent (a callable supplied by the store).
What the person wrote is the text above the quoted part and the signature.
Auto-replies, bounces and copies of mailflow's own mail are not replies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from email.message import Message

from mailflow.understand.headers import header

# Matched one line at a time, lines longer than MAX_LINE skipped: an attribution is a short line.
_ATTRIBUTION = re.compile(
    r"^[>\s]*+(?:"
    r"on\s.{0,200}\swrote:"  # Gmail, Apple Mail, Thunderbird
    r"|am\s.{0,200}\sschrieb\s.{0,120}:"  # German
    r"|.{0,200}\sschrieb\s.{0,120}:"
    r"|le\s.{0,200}\sa\s[ée]crit\s?:"  # French
    r"|el\s.{0,200}\sescribi[óo]:"  # Spanish
    r"|il\s.{0,200}\sha\sscritto:"  # Italian
    r"|op\s.{0,200}\sschreef\s.{0,120}:"  # Dutch
    r"|den\s.{0,200}\sskrev\s.{0,120}:"  # Swedish / Danish / Norwegian
    r"|em\s.{0,200}\sescreveu:"  # Portuguese
    r"|-{2,}\s*original message\s*-{2,}"
    r"|-{2,}\s*ursprüngliche nachricht\s*-{2,}"
    r"|-{2,}\s*message d'origine\s*-{2,}"
    r"|_{10,}"
    r")\s*$",
    re.IGNORECASE,
)
_OUTLOOK_HEADER = re.compile(r"^\s*+\**+(?:from|von|de|da|van|från|fra)\s*+\**+\s*+:\s*.+", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(
    r"^\s*+\**+(?:sent|gesendet|envoy[ée]|enviado|inviato|verzonden|date|datum)\s*+\**+\s*+:", re.I
)
MAX_LINE = 1000
_SIGNATURE = re.compile(
    r"^(?:--\s*|__+\s*"
    r"|sent from my \w+.*|get outlook for .*|sent from (?:outlook|mail|yahoo mail|gmail).*"
    r"|von meinem \w+ gesendet.*|envoyé de mon \w+.*|enviado desde mi \w+.*|inviato da .*"
    r"|verzonden vanaf mijn .*|skickat från min .*)$",
    re.IGNORECASE,
)
_DO_NOT_CONTACT = re.compile(
    r"\b(?:please\s+(?:stop|don'?t|do\s+not)\s+(?:e-?mailing|contacting|writing|messaging|sending)"
    r"|stop\s+(?:e-?mailing|contacting|writing\s+to|messaging|sending\s+me)"
    r"|(?:do\s+not|don'?t|never)\s+(?:contact|e-?mail|write\s+to)\s+me"
    r"|remove\s+me\s+from|take\s+me\s+off|unsubscribe(?:\s+me)?"
    r"|no\s+(?:more|further)\s+(?:e-?mails|messages|contact)"
    r"|bitte\s+(?:keine\s+(?:e-?mails|nachrichten)|kontaktieren\s+sie\s+mich\s+nicht)|abmelden"
    r"|ne\s+(?:plus\s+)?me\s+(?:contactez|contacter|[ée]crivez)\s+plus|d[ée]sabonn|d[ée]sinscri"
    r"|no\s+me\s+(?:contacte|escriba)s?\s+m[áa]s|darme\s+de\s+baja)",
    re.IGNORECASE,
)
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:auto(?:matic)?\s*(?:reply|response|antwort)|out\s+of\s+(?:the\s+)?office|abwesenheit"
    r"|absence|r[ée]ponse\s+automatique|respuesta\s+autom[áa]tica|risposta\s+automatica|autosvar"
    r"|automatisch\s+antwoord|afwezig|fuera\s+de\s+la\s+oficina|on\s+vacation|vacation\s+reply)",
    re.IGNORECASE,
)
_BOUNCE_FROM = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|bounces?)@", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery\s+(?:status\s+notification|has\s+failed|failure)|returned\s+mail|mail\s+delivery\s+failed"
    r"|non\s*remis|unzustellbar|nicht\s+zustellbar|failure\s+notice",
    re.IGNORECASE,
)


def reply_target(
    in_reply_to: Sequence[str], references: Sequence[str], is_ours: Callable[[str], bool]
) -> str:
    """The Message-ID of ours this message answers: In-Reply-To first, then References newest first."""
    for candidate in (*in_reply_to, *reversed(references)):
        try:
            if is_ours(candidate):
                return candidate
        except Exception:  # the store's callable must not break understanding
            continue
    return ""


def own_text(text: str) -> str:
    """What the writer wrote: quoted text, attributions and the signature removed."""
    kept: list[str] = []
    lines = text.replace("\r\n", "\n").split("\n")
    for index, line in enumerate(lines):
        short = len(line) <= MAX_LINE
        if short and (
            _ATTRIBUTION.match(line) or _is_outlook_block(lines, index) or _SIGNATURE.match(line.rstrip())
        ):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def _is_outlook_block(lines: list[str], index: int) -> bool:
    if not _OUTLOOK_HEADER.match(lines[index]):
        return False
    return any(_OUTLOOK_NEXT.match(line[:MAX_LINE]) for line in lines[index + 1 : index + 4])


def do_not_contact(text: str) -> str:
    """The phrase with which a contact asks not to be contacted, or ""."""
    match = _DO_NOT_CONTACT.search(own_text(text)[:20000])
    return match.group(0) if match else ""


def auto_reply(message: Message, subject: str) -> str:
    """Why the message is an automatic reply, or ""."""
    submitted = header(message, "Auto-Submitted").lower()
    if submitted and not submitted.startswith("no"):
        return f"Auto-Submitted: {submitted}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response", "X-Autogenerated"):
        if header(message, name):
            return f"{name} header"
    precedence = header(message, "Precedence").lower()
    if precedence in {"auto_reply", "junk"}:
        return f"Precedence: {precedence}"
    if _AUTO_SUBJECT.match(subject):
        return "an out-of-office or automatic reply subject"
    return ""


def bounce(message: Message, sender: str, subject: str) -> str:
    """Why the message is a delivery failure report, or ""."""
    report = header(message, "Content-Type").lower()
    if "multipart/report" in report and "delivery-status" in report:
        return "a delivery status notification (bounce)"
    if _BOUNCE_FROM.match(sender) and _BOUNCE_SUBJECT.search(subject):
        return "a delivery failure notice from the mail system"
    return ""
