"""The acknowledgement: one short mail to the owner saying what their forward became.

"Dan's mail: a coffee request (meeting 12), waiting for a time; forward or send
the invite when you have one."  It is written from the meeting as it stands
when it goes out (an invite that arrived meanwhile is reported), threaded onto
the owner's forward, and rendered from ``acknowledge.txt`` like any template
(a user's folder may replace it).  It goes to the owner only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import ClassVar

from mailflow.compose.context import ComposeContext, format_when, reader_zone
from mailflow.compose.environment import render
from mailflow.compose.message import build_message
from mailflow.compose.outgoing import addresses
from mailflow.config import Settings

TEMPLATE = "acknowledge"


@dataclass(frozen=True)
class RequestView:
    """What the acknowledgement's template sees as ``request``."""

    _label: ClassVar[str] = "request"
    id: int  # the meeting's number, as `mailflow show` and `confirm` take it
    state: str  # requested, pending, scheduled, cancelled or done
    status: str  # "waiting for a time", "on Tue 9 Dec at 10:00"...
    next: str  # what the owner can do now, "" when nothing is needed
    writer: str  # the contact: a name, an address, or "" when nobody is known
    about: str  # what the forward was: "Dan Brooks's mail", "Your request to Carla", "The mail you forwarded"


@dataclass(frozen=True)
class RequestFacts:
    """The meeting as it stands when the acknowledgement goes out."""

    id: int
    state: str
    has_counterpart: bool
    confirmed: bool


def request_view(ctx: ComposeContext, facts: RequestFacts) -> RequestView:
    start = ctx.meeting.start
    if facts.state == "cancelled":
        status, step = "cancelled since", ""  # read as "..., cancelled since"
    elif start is not None and facts.state in ("scheduled", "done"):
        status, step = f"scheduled for {format_when(start, ctx.meeting.end, reader_zone(ctx))}", ""
    elif facts.state == "pending":
        status = "an invite came for it and waits for your confirmation"
        step = f"`mailflow confirm {facts.id}` if it is the right one"
    elif facts.confirmed:
        status, step = "confirmed by you, without a time yet", "forward or send the invite when you have one"
    else:
        status, step = "waiting for a time", "forward or send the invite when you have one"
    if not facts.has_counterpart:
        step = f"`mailflow meeting counterpart {facts.id} ADDRESS` to say whom it is with" + (
            f", then {step}" if step else ""
        )
    writer = ctx.contact.name or ctx.contact.address
    if not writer:
        about = "The mail you forwarded"
    elif ctx.role == "seeker":  # the owner asks: the forwarded mail was most likely the owner's own
        about = f"Your request to {writer}"
    else:
        about = f"{writer}'s mail"
    return RequestView(facts.id, facts.state, status, step, writer, about)


def compose_acknowledgement(
    ctx: ComposeContext,
    facts: RequestFacts,
    settings: Settings,
    *,
    message_id: str,
    in_reply_to: str = "",
    references: Sequence[str] = (),
) -> EmailMessage:
    """The acknowledgement for the meeting ``facts`` describes, to the owner, threaded onto their forward."""
    rendered = render(TEMPLATE, ctx.role, ctx, settings, extra={"request": request_view(ctx, facts)})
    from_, to, reply_to = addresses(ctx, settings, to_owner=True)
    return build_message(
        rendered,
        message_id=message_id,
        from_=from_,
        to=to,
        reply_to=reply_to,
        in_reply_to=in_reply_to,
        references=references,
        to_owner=True,
    )
