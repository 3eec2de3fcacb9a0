"""The rules a step must pass before it goes out, and the small facts the dispatcher keeps.

- :func:`blocked`: never a stranger, never a do-not-contact contact, never a
  cancelled meeting (checked before rendering and again in the claim);
- :func:`check_recipients`: the rendered mail goes to the step's audience only;
- :func:`playbook_gate`: the send window and ``max_lateness`` (the playbook's ``is_due``);
- :func:`sending_budget`: ``[sending] per_hour`` and ``per_day``, counted from sent steps;
- :func:`backoff`: the wait after a 4xx or a network error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import getaddresses
from typing import cast

from mailflow.config import Settings
from mailflow.errors import PermanentError
from mailflow.model import StepState
from mailflow.playbook import Dispatch, ExistingStep, PlaybookConfig, is_due
from mailflow.playbook.types import DeliveryMode
from mailflow.steps import Audience
from mailflow.store import ContactRow, MeetingRow, MessageData, StepRow, StoreTx, normalise_address
from mailflow.text import one_line

#: may a pending, due step go now?  The default asks the playbook (send window, max_lateness)
Gate = Callable[[StepRow, MeetingRow, "ContactRow | None", datetime], Dispatch]

BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed try: 1 min, 2, 4... at most an hour."""
    wait: timedelta = BACKOFF_FIRST * 2 ** min(max(0, attempts - 1), 20)
    return min(wait, BACKOFF_CAP)


def playbook_gate(settings: Settings) -> Gate:
    """The playbook's verdict: the send window in the reader's zone, and ``max_lateness``."""
    config = PlaybookConfig.from_settings(settings)

    def gate(step: StepRow, meeting: MeetingRow, contact: ContactRow | None, now: datetime) -> Dispatch:
        existing = ExistingStep(
            step.step,
            step.occurrence,
            cast(StepState, step.state),
            step.due_at,
            cast(DeliveryMode, step.mode),
        )
        zone = meeting.contact_timezone or (contact.timezone if contact else "")
        return is_due(existing, now, config, contact_timezone=zone or None, paused=meeting.paused)

    return gate


def blocked(meeting: MeetingRow | None, contact: ContactRow | None, audience: Audience | None) -> str:
    """Why a step to ``audience`` must not go out at all ("" when it may): never a stranger, never
    do-not-contact."""
    if meeting is None:
        return "its meeting no longer exists"
    if meeting.state == "cancelled":
        return "the meeting was cancelled"
    if audience != "contact":
        return ""
    if contact is None:
        return "the meeting has no counterpart to write to (`mailflow meeting counterpart` sets one)"
    if contact.do_not_contact:
        return f"{contact.address} asked not to be contacted"
    if not (meeting.trusted or meeting.confirmed):
        return "the meeting is not confirmed as yours (`mailflow confirm MEETING` allows mail to the contact)"
    return ""


def check_recipients(
    step: StepRow, contact: ContactRow | None, message: EmailMessage, settings: Settings
) -> None:
    """PermanentError unless the mail goes to the step's audience only: the counterpart, or the owner."""
    if settings.steps.audience(step.step) == "contact":
        allowed = {contact.address} if contact else set()
    else:
        allowed = {normalise_address(a) for a in settings.owner.addresses}
    recipients = recipients_of(message)
    strangers = sorted(set(recipients) - allowed)
    if strangers or not recipients:
        raise PermanentError(
            f"the {step.step} mail would go to {', '.join(strangers) or 'nobody'}, "
            f"not to {', '.join(sorted(allowed)) or 'a known address'}",
            backend="dispatch",
            hint="this is a bug in the template or the records; the step was not sent",
        )


def recipients_of(message: EmailMessage) -> list[str]:
    """To, Cc and Bcc, normalised."""
    fields = [str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])]
    return [normalise_address(address) for _name, address in getaddresses(fields) if address]


@dataclass
class Budget:
    """How many more mails may go out in this dispatch."""

    left: int
    reason: str

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


def sending_budget(
    tx: StoreTx, now: datetime, settings: Settings, sends_mail: Callable[[StepRow], bool]
) -> Budget:
    """``[sending] per_hour`` and ``per_day`` minus the steps sent as mail in the last hour and day."""
    day_ago, hour_ago = now - timedelta(days=1), now - timedelta(hours=1)
    recent = [
        s.sent_at
        for s in tx.steps_in_state("sent")
        if s.sent_at is not None and s.sent_at > day_ago and sends_mail(s)
    ]
    sending = settings.sending
    last_hour = sum(1 for at in recent if at > hour_ago)
    return Budget(
        min(sending.per_hour - last_hour, sending.per_day - len(recent)),
        f"over the sending limit ({sending.per_hour} per hour, {sending.per_day} per day); it waits",
    )


def log_entry(
    tx: StoreTx, step: StepRow, message_id: str, at: datetime, message: EmailMessage | None
) -> MessageData:
    """The message log's row for a sent step (direction "out"), linked to its meeting, contact and step."""
    meeting = tx.get_meeting(step.meeting_id)
    sender = subject = in_reply_to = ""
    if message is not None:
        found = getaddresses([str(v) for v in message.get_all("From", [])])
        sender = found[0][1] if found else ""
        subject = one_line(str(message.get("Subject", "")), 300)
        in_reply_to = str(message.get("In-Reply-To", "")).strip()
    return MessageData(
        ref=None,
        direction="out",
        message_id=message_id,
        kind=step.step,
        meeting_id=step.meeting_id,
        contact_id=meeting.counterpart_id if meeting else None,
        step_id=step.id,
        sender=sender,
        subject=subject,
        in_reply_to=in_reply_to,
        sent_at=at,
    )
