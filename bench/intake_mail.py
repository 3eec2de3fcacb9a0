"""Realistic generated mail for bench/intake.py: ordinary mail, a few large attachments, and invites.

Deterministic for a given seed.  Ordinary mail carries what real mail carries
(Received and DKIM headers, plain text, an HTML alternative in about a third,
replies with In-Reply-To/References); about 0.3 % has a large PDF attached.
Invites (``invite_share``, 5 % by default) are modelled on Google Calendar
(VTIMEZONE, text/calendar inside multipart/alternative plus an .ics file),
Outlook (a Windows zone name) and Zoom (UTC); half of them are sent straight
by the contact with the owner as attendee, half forwarded by the owner with
an Authentication-Results header from the owner's own server.  Every invite
has its own UID, so every invite must become one meeting.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

OWNER = "owner@bench.example"
MAILBOX = "flow@bench.example"
AUTHSERV = "mx.bench.example"

_WORDS = [
    "meeting",
    "project",
    "update",
    "quarterly",
    "report",
    "budget",
    "please",
    "review",
    "attached",
    "draft",
    "thanks",
    "regards",
    "team",
    "schedule",
    "tomorrow",
    "afternoon",
    "coffee",
    "discuss",
    "plan",
    "launch",
    "customer",
    "feedback",
    "numbers",
    "design",
    "roadmap",
    "deadline",
    "friday",
    "notes",
    "agenda",
    "follow",
    "question",
    "answer",
    "idea",
    "proposal",
    "contract",
    "invoice",
    "travel",
    "conference",
]


@dataclass(frozen=True)
class Generated:
    raw: bytes
    invite: bool


def _paragraphs(rng: random.Random, size: int) -> str:
    words, total = [], 0
    while total < size:
        word = rng.choice(_WORDS)
        words.append(word)
        total += len(word) + 1
    lines = [" ".join(words[i : i + 12]) for i in range(0, len(words), 12)]
    return "\r\n".join(lines) + "\r\n"


def _date(rng: random.Random) -> datetime:
    return datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 200 * 24 * 60))


def _rfc2822(moment: datetime) -> str:
    return moment.strftime("%a, %d %b %Y %H:%M:%S +0000")


def _transport_headers(rng: random.Random, domain: str, moment: datetime) -> str:
    signature = base64.b64encode(rng.randbytes(256)).decode()
    folded = "\r\n\t".join(signature[i : i + 70] for i in range(0, len(signature), 70))
    return (
        f"Received: from mail-{rng.randrange(999)}.{domain} (mail.{domain} [203.0.113.{rng.randrange(255)}])\r\n"
        f"\tby {AUTHSERV} with ESMTPS id {rng.randbytes(6).hex()}; {_rfc2822(moment)}\r\n"
        f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=s1;\r\n"
        f"\th=from:to:subject:date:message-id; bh={base64.b64encode(rng.randbytes(32)).decode()};\r\n"
        f"\tb={folded}\r\n"
    )


def ordinary(rng: random.Random, number: int) -> bytes:
    """A few KB of everyday mail from a stranger; sometimes a reply, sometimes with HTML or a big PDF."""
    domain = f"corp{rng.randrange(400)}.example"
    moment = _date(rng)
    head = _transport_headers(rng, domain, moment) + (
        f"From: Person {number} <person{number}@{domain}>\r\nTo: {MAILBOX}\r\n"
        f"Subject: {' '.join(rng.choice(_WORDS) for _ in range(5))}\r\nDate: {_rfc2822(moment)}\r\n"
        f"Message-ID: <{rng.randbytes(8).hex()}.{number}@{domain}>\r\n"
    )
    if rng.random() < 0.35:
        parent = f"<{rng.randbytes(8).hex()}@{domain}>"
        head += f"In-Reply-To: {parent}\r\nReferences: <{rng.randbytes(8).hex()}@{domain}> {parent}\r\n"
    text = _paragraphs(rng, rng.randrange(1200, 4500))
    if rng.random() < 0.003:
        return (head + _with_attachment(rng, text, rng.randrange(256, 1024) * 1024)).encode()
    if rng.random() < 0.35:
        return (head + _alternative(text)).encode()
    return (head + f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}").encode()


def _alternative(text: str) -> str:
    html = "<html><body><p>" + text.replace("\r\n", "</p>\r\n<p>") + "</p></body></html>\r\n"
    return (
        'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="alt"\r\n\r\n'
        f"--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}"
        f"--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}--alt--\r\n"
    )


def _with_attachment(rng: random.Random, text: str, size: int) -> str:
    payload = base64.encodebytes(rng.randbytes(size)).decode().replace("\n", "\r\n")
    return (
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="mix"\r\n\r\n'
        f"--mix\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}"
        '--mix\r\nContent-Type: application/pdf; name="report.pdf"\r\n'
        'Content-Disposition: attachment; filename="report.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        f"{payload}--mix--\r\n"
    )


_BERLIN = (
    "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nX-LIC-LOCATION:Europe/Berlin\r\n"
    "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
)
_WINDOWS = (
    "BEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\n"
    "BEGIN:STANDARD\r\nDTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"
    "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n"
    "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
)


def _calendar(rng: random.Random, number: int, contact: str, style: str) -> str:
    start = _date(rng).replace(minute=0, second=0) + timedelta(days=30)
    stamp = (start - timedelta(days=20)).strftime("%Y%m%dT%H%M%SZ")
    local = start.strftime("%Y%m%dT%H%M%S")
    end = (start + timedelta(minutes=30)).strftime("%Y%m%dT%H%M%S")
    if style == "zoom":
        zone, when = "", f"DTSTART:{local}Z\r\nDTEND:{end}Z\r\n"
    else:
        tzid = "Europe/Berlin" if style == "google" else "W. Europe Standard Time"
        zone = _BERLIN if style == "google" else _WINDOWS
        when = f"DTSTART;TZID={tzid}:{local}\r\nDTEND;TZID={tzid}:{end}\r\n"
    return (
        f"BEGIN:VCALENDAR\r\nPRODID:-//Bench//{style}//EN\r\nVERSION:2.0\r\nCALSCALE:GREGORIAN\r\nMETHOD:REQUEST\r\n"
        f"{zone}BEGIN:VEVENT\r\n{when}DTSTAMP:{stamp}\r\n"
        f"ORGANIZER;CN=Contact {number}:mailto:{contact}\r\nUID:bench-{number}-{rng.randbytes(6).hex()}@{style}.example\r\n"
        f"ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=Contact {number}:mailto:{contact}\r\n"
        f"ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=Owner:mailto:{OWNER}\r\n"
        f"SEQUENCE:0\r\nSTATUS:CONFIRMED\r\nSUMMARY:Coffee chat {number}\r\n"
        f"DESCRIPTION:Looking forward to it.\\nJoin: https://meet.google.com/abc-defg-hij\r\n"
        f"LOCATION:Cafe {number}\r\nTRANSP:OPAQUE\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def invite(rng: random.Random, number: int) -> bytes:
    """An invite with the owner as attendee: straight from the contact, or forwarded by the owner."""
    contact = f"contact{number}@contacts.example"
    style = rng.choices(["google", "outlook", "zoom"], weights=[60, 25, 15])[0]
    ics = _calendar(rng, number, contact, style)
    moment = _date(rng)
    text = f"You have been invited to Coffee chat {number}.\r\n\r\n" + _paragraphs(rng, 600)
    body = (
        'Content-Type: multipart/mixed; boundary="m"\r\n\r\n--m\r\n'
        'Content-Type: multipart/alternative; boundary="a"\r\n\r\n'
        f"--a\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{text}"
        f"--a\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n<html><body><p>{text}</p></body></html>\r\n"
        f'--a\r\nContent-Type: text/calendar; charset="UTF-8"; method=REQUEST\r\n\r\n{ics}--a--\r\n'
        '--m\r\nContent-Type: application/ics; name="invite.ics"\r\n'
        'Content-Disposition: attachment; filename="invite.ics"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + base64.encodebytes(ics.encode()).decode().replace("\n", "\r\n")
        + "--m--\r\n"
    )
    if rng.random() < 0.5:
        head = _transport_headers(rng, "contacts.example", moment) + (
            f"From: Contact {number} <{contact}>\r\nTo: {OWNER}, {MAILBOX}\r\n"
            f"Subject: Invitation: Coffee chat {number}\r\n"
        )
    else:
        head = (
            f"Authentication-Results: {AUTHSERV}; dkim=pass header.d=bench.example;\r\n"
            f"\tspf=pass smtp.mailfrom={OWNER}; dmarc=pass header.from=bench.example\r\n"
            f"From: Owner <{OWNER}>\r\nTo: {MAILBOX}\r\nSubject: Fwd: Invitation: Coffee chat {number}\r\n"
        )
    head += (
        f"Date: {_rfc2822(moment)}\r\nMessage-ID: <inv-{number}-{rng.randbytes(6).hex()}@bench.example>\r\n"
    )
    return (head + "MIME-Version: 1.0\r\n" + body).encode()


def generate(count: int, *, seed: int = 7, start: int = 0, invite_share: float = 0.05) -> Iterator[Generated]:
    """``count`` messages, numbered from ``start``; about ``invite_share`` of them invites."""
    rng = random.Random(seed * 1_000_003 + start)
    for number in range(start, start + count):
        if rng.random() < invite_share:
            yield Generated(invite(rng, number), True)
        else:
            yield Generated(ordinary(rng, number), False)
