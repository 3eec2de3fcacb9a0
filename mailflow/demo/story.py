"""The demo's story: who writes what, and when, over seventy days.

Static mail arrives at fixed moments; two replies are written only once
mailflow has actually sent the mail they answer (Carla's résumé answers the
prep request, the owner's notes answer the summary prompt), so they carry
that mail's real Message-ID, exactly as a person's mail client would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from mailflow.demo import samples
from mailflow.steps import DEFAULT_STEPS
from mailflow.store.rows import MessageRow
from mailflow.store.store import StoreTx

BERLIN = ZoneInfo("Europe/Berlin")
#: a Monday morning in the owner's zone; far enough ahead to stay in the future of real clocks for a while
START = datetime(2027, 3, 1, 8, 0, tzinfo=BERLIN)
DAYS = 70


def _step_by_rule(rule: str) -> str:
    """The step of the default table that ``rule`` times: what the story's people answer."""
    return next(spec.name for spec in DEFAULT_STEPS if spec.rule == rule)


#: Carla answers the request for materials; Ana answers the prompt for her notes
ASKS_FOR_MATERIALS = _step_by_rule("ask_for_materials")
PROMPTS_FOR_NOTES = _step_by_rule("prompt_for_notes")


@dataclass(frozen=True)
class Arrival:
    at: datetime
    name: str
    raw: bytes


@dataclass(frozen=True)
class Reply:
    """Mail written once mailflow has sent ``step`` to ``address``'s meeting, ``delay`` later."""

    name: str
    step: str
    address: str
    delay: timedelta
    build: Callable[[datetime, str, str], bytes]


def day(n: int, hour: int, minute: int = 0) -> datetime:
    return (START + timedelta(days=n)).replace(hour=hour, minute=minute)


def arrivals() -> list[Arrival]:
    ben_start, carla_start, dana_start = day(3, 15), day(8, 11), day(9, 12, 30)
    dana_uid = "dana-coffee-7h2k@google.com"
    return [
        Arrival(
            day(0, 9),
            "Google Calendar invite: coffee with Ben (sent by Ana)",
            samples.google_invite(ben_start, day(0, 9), uid="ben-coffee-4f9x@google.com", guest=samples.BEN),
        ),
        Arrival(
            day(0, 11),
            "Outlook/Teams invite from Carla, forwarded by Ana with #adviser",
            samples.forwarded_outlook_invite(carla_start, day(0, 11)),
        ),
        Arrival(
            day(1, 10),
            "Dana's plain coffee request, forwarded by Ana",
            samples.forwarded_coffee_request(day(1, 10)),
        ),
        Arrival(
            day(2, 9),
            "Google Calendar invite to Dana, answering her request",
            samples.google_invite(dana_start, day(2, 9), uid=dana_uid, guest=samples.DANA),
        ),
        Arrival(
            day(4, 10),
            "Cancellation of the coffee with Dana",
            samples.google_invite(
                dana_start, day(4, 10), uid=dana_uid, guest=samples.DANA, sequence=1, method="CANCEL"
            ),
        ),
    ]


def replies() -> list[Reply]:
    return [
        Reply(
            "Carla's reply to the prep request, with her résumé",
            ASKS_FOR_MATERIALS,
            samples.CARLA[1],
            timedelta(hours=5),
            samples.contact_reply_with_resume,
        ),
        Reply(
            "Ana's notes, in reply to the summary prompt",
            PROMPTS_FOR_NOTES,
            samples.BEN[1],
            timedelta(minutes=40),
            samples.owner_notes_reply,
        ),
    ]


def sent_step_mail(tx: StoreTx, step: str, address: str) -> tuple[datetime, MessageRow] | None:
    """When mailflow sent ``step`` for the meeting with ``address``, and the mail it sent."""
    contact = tx.find_contact(address)
    if contact is None:
        return None
    for meeting in tx.list_meetings(contact_id=contact.id):
        for row in tx.list_steps(meeting.id):
            if row.step != step or row.state != "sent" or row.sent_at is None or not row.message_id:
                continue
            for message in tx.list_messages(meeting_id=meeting.id):
                if message.direction == "out" and message.message_id == row.message_id:
                    return row.sent_at, message
    return None
