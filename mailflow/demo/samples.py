"""The demo's sample mail, written by the project itself, modelled on real clients' output.

Each builder returns the raw bytes of one message.  Times are computed from
the demo's start so the story always lies ahead of the demo clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

OWNER = ("Ana Lima", "ana@example.org")
MAILFLOW = ("mailflow", "mailflow@example.org")
BEN = ("Ben Okafor", "ben.okafor@example.net")
CARLA = ("Carla Mendes", "carla.mendes@contoso.com")
DANA = ("Dana Whitfield", "dana@whitfield.example")


def _address(person: tuple[str, str]) -> str:
    return f"{person[0]} <{person[1]}>"


def _ics_time(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _local(instant: datetime, zone_name: str) -> str:
    from zoneinfo import ZoneInfo

    return instant.astimezone(ZoneInfo(zone_name)).strftime("%Y%m%dT%H%M%S")


BERLIN_VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Europe/Berlin
X-LIC-LOCATION:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE"""

GMT_STANDARD_VTIMEZONE = """BEGIN:VTIMEZONE
TZID:GMT Standard Time
BEGIN:STANDARD
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0000
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T010000
TZOFFSETFROM:+0000
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE"""


def _message(
    sender: tuple[str, str], to: list[tuple[str, str]], subject: str, sent: datetime, msgid: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = _address(sender)
    message["To"] = ", ".join(_address(p) for p in to)
    message["Subject"] = subject
    message["Date"] = format_datetime(sent.astimezone(UTC))
    message["Message-ID"] = msgid
    message["MIME-Version"] = "1.0"
    return message


def _attach_calendar(message: EmailMessage, text: str, ics: str, method: str) -> None:
    message.set_content(text)
    message.add_alternative(ics.replace("\n", "\r\n"), subtype="calendar", params={"method": method})
    message.add_attachment(
        ics.replace("\n", "\r\n").encode(), maintype="application", subtype="ics", filename="invite.ics"
    )


def google_invite(
    start: datetime,
    sent: datetime,
    *,
    uid: str,
    guest: tuple[str, str],
    sequence: int = 0,
    method: str = "REQUEST",
    summary: str = "",
) -> bytes:
    """A Google Calendar invite the owner organises (the guest and mailflow invited)."""
    end = start + timedelta(minutes=45)
    summary = summary or f"Coffee: {OWNER[0].split()[0]} / {guest[0].split()[0]}"
    status = "CANCELLED" if method == "CANCEL" else "CONFIRMED"
    ics = f"""BEGIN:VCALENDAR
PRODID:-//Google Inc//Google Calendar 70.9054//EN
VERSION:2.0
CALSCALE:GREGORIAN
METHOD:{method}
{BERLIN_VTIMEZONE}
BEGIN:VEVENT
DTSTART;TZID=Europe/Berlin:{_local(start, "Europe/Berlin")}
DTEND;TZID=Europe/Berlin:{_local(end, "Europe/Berlin")}
DTSTAMP:{_ics_time(sent)}
ORGANIZER;CN={OWNER[0]}:mailto:{OWNER[1]}
UID:{uid}
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE;CN={OWNER[0]};X-NUM-GUESTS=0:mailto:{OWNER[1]}
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN={guest[0]};X-NUM-GUESTS=0:mailto:{guest[1]}
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=OPT-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN={MAILFLOW[1]};X-NUM-GUESTS=0:mailto:{MAILFLOW[1]}
X-GOOGLE-CONFERENCE:https://meet.google.com/abc-defg-hij
DESCRIPTION:#seeker Thanks for making time\\, {guest[0].split()[0]}! I would love to hear how you moved into product.\\n\\nJoin with Google Meet: https://meet.google.com/abc-defg-hij
LOCATION:Café Einstein\\, Unter den Linden 42\\, Berlin
SEQUENCE:{sequence}
STATUS:{status}
SUMMARY:{summary}
TRANSP:OPAQUE
END:VEVENT
END:VCALENDAR
"""
    verb = "Cancelled event" if method == "CANCEL" else ("Updated invitation" if sequence else "Invitation")
    message = _message(
        OWNER,
        [guest, MAILFLOW],
        f"{verb}: {summary}",
        sent,
        f"<{uid.split('@')[0]}-{sequence}{method[0]}@google.com>",
    )
    message["Sender"] = "Google Calendar <calendar-notification@google.com>"
    message["Reply-To"] = _address(OWNER)
    _attach_calendar(
        message,
        f"{verb}: {summary}\nJoin with Google Meet: https://meet.google.com/abc-defg-hij\n",
        ics,
        method,
    )
    return message.as_bytes(policy=SMTP)


def forwarded_outlook_invite(start: datetime, sent: datetime) -> bytes:
    """Carla's Outlook invite to the owner, forwarded by the owner with "#adviser" in her note."""
    end = start + timedelta(minutes=30)
    original_sent = sent - timedelta(hours=2)
    uid = "040000008200E00074C5B7101A82E00800000000D0C4A1B2C3D4DA01000000000000000010000000A1B2C3D4E5F60718293A4B5C6D7E8F90"
    ics = f"""BEGIN:VCALENDAR
METHOD:REQUEST
PRODID:Microsoft Exchange Server 2010
VERSION:2.0
{GMT_STANDARD_VTIMEZONE}
BEGIN:VEVENT
ORGANIZER;CN={CARLA[0]}:mailto:{CARLA[1]}
ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN={OWNER[0]}:mailto:{OWNER[1]}
DESCRIPTION;LANGUAGE=en-US:Hi Ana\\, thank you so much for agreeing to talk! I'm weighing an offer from a fintech in Lisbon and would value your view.\\n\\n________________________________________________________________________________\\nMicrosoft Teams meeting\\nJoin on your computer\\, mobile app or room device\\nhttps://teams.microsoft.com/l/meetup-join/19%3ameeting_NjQ1ZDc4%40thread.v2/0?context=%7b%22Tid%22%3a%22c0ffee%22%7d\\n
UID:{uid}
SUMMARY;LANGUAGE=en-US:Career chat - Carla / Ana
DTSTART;TZID=GMT Standard Time:{_local(start, "Europe/London")}
DTEND;TZID=GMT Standard Time:{_local(end, "Europe/London")}
CLASS:PUBLIC
PRIORITY:5
DTSTAMP:{_ics_time(original_sent)}
TRANSP:OPAQUE
STATUS:CONFIRMED
SEQUENCE:0
LOCATION;LANGUAGE=en-US:Microsoft Teams Meeting
X-MICROSOFT-CDO-APPT-SEQUENCE:0
X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE
X-MICROSOFT-CDO-INTENDEDSTATUS:BUSY
X-MICROSOFT-CDO-ALLDAYEVENT:FALSE
X-MICROSOFT-CDO-IMPORTANCE:1
X-MICROSOFT-CDO-INSTTYPE:0
X-MICROSOFT-SKYPETEAMSMEETINGURL:https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjQ1ZDc4%40thread.v2/0?context=%7b%22Tid%22%3a%22c0ffee%22%7d
X-MICROSOFT-DONOTFORWARDMEETING:FALSE
X-MICROSOFT-DISALLOW-COUNTER:FALSE
END:VEVENT
END:VCALENDAR
"""
    original = _message(
        CARLA,
        [OWNER],
        "Career chat - Carla / Ana",
        original_sent,
        "<DB9PR04MB8412C0FFEE@DB9PR04MB8412.eurprd04.prod.outlook.com>",
    )
    original["Thread-Topic"] = "Career chat - Carla / Ana"
    _attach_calendar(
        original,
        "Hi Ana, thank you so much for agreeing to talk!\n\nMicrosoft Teams meeting\n",
        ics,
        "REQUEST",
    )
    forward = _message(
        OWNER, [MAILFLOW], "Fwd: Career chat - Carla / Ana", sent, "<fwd-carla-1@mail.example.org>"
    )
    forward.set_content("#adviser Carla asked for advice on an offer; she's a former colleague of Ben's.\n")
    forward.add_attachment(original, filename="Career chat - Carla / Ana.eml")
    return forward.as_bytes(policy=SMTP)


def forwarded_coffee_request(sent: datetime) -> bytes:
    """Dana's plain request, forwarded by the owner (Gmail's inline forward)."""
    original_sent = sent - timedelta(hours=20)
    body = f"""Happy to meet Dana, I'll send an invite.

---------- Forwarded message ---------
From: {DANA[0]} <{DANA[1]}>
Date: {format_datetime(original_sent)}
Subject: Coffee next week?
To: {OWNER[0]} <{OWNER[1]}>


Hi Ana,

Ben Okafor suggested I reach out. I'm a consultant thinking about moving into
product management, and I'd love to pick your brain about how you made that
switch. Would you have 30 minutes for a coffee next week? Wednesday or Thursday
afternoon would work well for me.

Thanks so much,
Dana
"""
    message = _message(OWNER, [MAILFLOW], "Fwd: Coffee next week?", sent, "<CAF-fwd-dana-1@mail.gmail.com>")
    message.set_content(body)
    return message.as_bytes(policy=SMTP)


def contact_reply_with_resume(sent: datetime, in_reply_to: str, subject: str) -> bytes:
    """Carla answers the prep request with her résumé."""
    message = _message(
        CARLA,
        [MAILFLOW],
        "Re: " + subject,
        sent,
        "<DB9PR04MB8412BEEF@DB9PR04MB8412.eurprd04.prod.outlook.com>",
    )
    message["In-Reply-To"] = in_reply_to
    message["References"] = in_reply_to
    message.set_content(
        "Hi Ana,\n\nHere is my résumé. What I hope to get out of our chat: whether to take the Lisbon\n"
        "offer, and what to ask them before I decide.\n\nBest,\nCarla\n\n"
        f"On {format_datetime(sent - timedelta(hours=3))}, Ana Lima wrote:\n> Could you send me your résumé?\n"
    )
    resume = b"%PDF-1.4\n% Carla Mendes - resume (demo)\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    message.add_attachment(resume, maintype="application", subtype="pdf", filename="Carla Mendes - CV.pdf")
    return message.as_bytes(policy=SMTP)


def owner_notes_reply(sent: datetime, in_reply_to: str, subject: str) -> bytes:
    """The owner answers the summary prompt with what she learned."""
    message = _message(OWNER, [MAILFLOW], "Re: " + subject, sent, "<CAF-notes-ben-1@mail.gmail.com>")
    message["In-Reply-To"] = in_reply_to
    message["References"] = in_reply_to
    message.set_content(
        "- Ben moved to product by owning one customer problem end to end, not by asking for a title.\n"
        "- Read 'Inspired' (Marty Cagan) before talking to hiring managers.\n"
        "- He offered to introduce me to Priya, who runs the PM guild at his company.\n"
        "\n-- \nAna Lima\n\n"
        f"On {format_datetime(sent - timedelta(hours=1))}, mailflow wrote:\n"
        "> What were the most valuable insights from your coffee with Ben?\n"
    )
    return message.as_bytes(policy=SMTP)
