"""One step's mail, whole: rendered, addressed, threaded, with its calendar file.

The engine and ``mailflow preview`` both call :func:`compose_step`, so what
preview prints is exactly what would go out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage

from mailflow import clock
from mailflow.compose.context import ComposeContext, ProposalInfo, display_name
from mailflow.compose.environment import Rendered, render
from mailflow.compose.ics import Proposal, Reminder, build_proposal, build_reminders, propose_slot
from mailflow.compose.message import (
    Attachment,
    CalendarPart,
    build_message,
    message_id_domain,
    sending_address,
)
from mailflow.config import ProposalStepSettings, Settings, parse_duration
from mailflow.errors import ConfigError
from mailflow.model import Person

#: how far after the follow-up is due the proposed coffee lies: time to read, reply and plan
PROPOSAL_LEAD = timedelta(days=7)
#: the take-action deadline: "within three days" of the meeting
ACTION_DAYS = 3
ACTION_TIME = time(9, 0)


@dataclass(frozen=True)
class Outgoing:
    """A composed mail and what went into it."""

    step: str
    message: EmailMessage
    rendered: Rendered
    to_owner: bool
    calendar: CalendarPart | None = None
    proposal: ProposalInfo | None = None


def compose_step(
    step: str,
    ctx: ComposeContext,
    settings: Settings,
    *,
    message_id: str,
    key: str,
    in_reply_to: str = "",
    references: Sequence[str] = (),
    attachments: Sequence[Attachment] = (),
    now: datetime | None = None,
) -> Outgoing:
    """Compose ``step`` for ``ctx``.

    ``key`` is stable per (meeting, step, occurrence), e.g. ``"42/follow_up/0"``:
    it makes the calendar UIDs, so a re-composed proposal updates the same event.
    """
    now = now or clock.now()
    to_owner = settings.steps.audience(step) == "owner"
    ctx = _for_reader(ctx, settings, to_owner)
    ctx = _with_moments(step, ctx, settings, now)
    rendered = render(step, ctx.role, ctx, settings)
    calendar = _calendar(step, ctx, settings, key, now)
    from_, to, reply_to = addresses(ctx, settings, to_owner)
    message = build_message(
        rendered,
        message_id=message_id,
        from_=from_,
        to=to,
        reply_to=reply_to,
        in_reply_to=in_reply_to,
        references=references,
        to_owner=to_owner,
        attachments=attachments,
        calendar=calendar,
        date=now.astimezone(settings.owner_zone()),  # as the owner's own mail client would write it
    )
    return Outgoing(step, message, rendered, to_owner, calendar, ctx.proposal)


def addresses(
    ctx: ComposeContext, settings: Settings, to_owner: bool
) -> tuple[Person, Person, Person | None]:
    """(From, To, Reply-To) of a mail to the owner or to the contact.

    Mail to the owner comes from mailflow's sending address; a reply to it
    (the owner's notes) goes back to that address, or to the watched mailbox
    when its username is an address.  Mail to the contact is the owner's:
    their name, the sending address, and Reply-To the owner when those differ.
    """
    owner = Person(ctx.owner.address, ctx.owner.name)
    sender = sending_address(settings) or ctx.owner.address
    if not sender:
        raise ConfigError("owner.addresses is empty: add the address you write from")
    if to_owner:
        mailbox = settings.mailbox.address or settings.mailbox.username
        reply_to = Person(mailbox, "mailflow") if "@" in mailbox and mailbox != sender else None
        return Person(sender, "mailflow"), owner, reply_to
    contact = Person(ctx.contact.address, display_name(ctx.contact.name))
    return Person(sender, ctx.owner.name), contact, owner


def _for_reader(ctx: ComposeContext, settings: Settings, to_owner: bool) -> ComposeContext:
    if ctx.reader_timezone:
        return ctx
    zone = settings.owner.timezone if to_owner else (ctx.contact.timezone or settings.owner.timezone)
    return dataclasses.replace(ctx, reader_timezone=zone)


def _with_moments(step: str, ctx: ComposeContext, settings: Settings, now: datetime) -> ComposeContext:
    """Fill the take-action deadline and, for the step that proposes the next coffee, the proposed slot."""
    if ctx.action_by is None and ctx.meeting.end is not None:
        ctx = dataclasses.replace(ctx, action_by=action_deadline(ctx.meeting.end, settings))
    table = proposal_table(step, settings)
    if table is not None and ctx.proposal is None and table.propose != "none":
        ctx = dataclasses.replace(ctx, proposal=next_coffee(ctx, settings, now, step))
    return ctx


def proposal_table(step: str, settings: Settings) -> ProposalStepSettings | None:
    """The ``[playbook.<step>]`` table of a step that attaches a proposal; None for other steps."""
    spec = settings.steps.get(step)
    if spec is None or spec.attaches != "proposal":
        return None
    table = settings.playbook.table(step)
    return table if isinstance(table, ProposalStepSettings) else None


def action_deadline(end: datetime, settings: Settings) -> datetime:
    """Three days after the meeting, at 09:00 the owner's time."""
    zone = settings.owner_zone()
    local = end.astimezone(zone).date()
    day = local + timedelta(days=ACTION_DAYS) if local < date.max - timedelta(days=ACTION_DAYS) else date.max
    return datetime.combine(day, ACTION_TIME).replace(tzinfo=zone)  # clamped at the calendar's end


def next_coffee(ctx: ComposeContext, settings: Settings, now: datetime, step: str) -> ProposalInfo:
    """A slot inside the owner's availability, a week after the follow-up (``step``) is due."""
    table = proposal_table(step, settings)
    assert table is not None
    zone = settings.owner_zone()
    length = parse_duration(table.proposal_length)
    base = max(now, ctx.follow_up_at or now)
    start = ctx.meeting.start
    preferred = start.astimezone(zone).time() if start is not None and not ctx.meeting.all_day else None
    slot = propose_slot(
        base + PROPOSAL_LEAD,
        settings.owner.availability,
        zone,
        length,
        preferred,
        length_key=f"playbook.{step}.proposal_length",
    )
    method = table.propose
    return ProposalInfo(start=slot, end=slot + length, method="publish" if method == "publish" else "request")


def _calendar(
    step: str, ctx: ComposeContext, settings: Settings, key: str, now: datetime
) -> CalendarPart | None:
    domain = message_id_domain(settings)
    spec = settings.steps.get(step)
    attaches = spec.attaches if spec is not None else None
    if attaches == "proposal" and ctx.proposal is not None:
        proposal = proposal_for(ctx, key)
        data = build_proposal(proposal, zone=settings.owner.timezone, domain=domain, now=now)
        return CalendarPart("REQUEST" if proposal.method == "request" else "PUBLISH", data)
    if attaches == "reminders":
        proposing = settings.steps.attaching("proposal")
        reminders = owner_reminders(ctx, key, proposing[0].name if proposing else "")
        if reminders:
            data = build_reminders(reminders, zone=settings.owner.timezone, domain=domain, now=now)
            return CalendarPart("PUBLISH", data, filename="reminders.ics")
    return None


def proposal_for(ctx: ComposeContext, key: str) -> Proposal:
    """The calendar event of ``ctx.proposal``."""
    assert ctx.proposal is not None
    owner, contact = display_name(ctx.owner.name), display_name(ctx.contact.name) or ctx.contact.address
    summary = ctx.meeting.summary or f"Coffee: {owner} and {contact}"
    return Proposal(
        key=key,
        start=ctx.proposal.start,
        end=ctx.proposal.end,
        summary=summary,
        description=f"{owner} proposes another coffee. Accept if the time suits you, or reply with another.",
        organizer=Person(ctx.owner.address, ctx.owner.name),
        attendee=Person(ctx.contact.address, ctx.contact.name),
        method=ctx.proposal.method,
    )


def owner_reminders(ctx: ComposeContext, key: str, follow_up: str = "") -> list[Reminder]:
    """The take-action deadline and the follow-up moment, for the owner's calendar.

    ``follow_up``: the name of the step that proposes the next coffee (its reminder's key).
    """
    who = display_name(ctx.contact.name) or ctx.contact.address
    reminders = []
    if ctx.action_by is not None:
        if ctx.role == "adviser":
            summary, description = (
                f"Follow through on what you offered {who}",
                "An introduction, an article, a name?",
            )
        else:
            summary = f"Act on one thing from your meeting with {who}"
            description = "Pick one piece of advice from your notes and act on it today."
        reminders.append(
            Reminder(key=f"{key}/action", summary=summary, description=description, start=ctx.action_by)
        )
    if ctx.follow_up_at is not None and follow_up:
        reminders.append(
            Reminder(
                key=f"{key}/{follow_up}",
                summary=f"Follow up with {who}",
                description=f"Ask {who} what resonated and how things are going; propose the next coffee.",
                start=ctx.follow_up_at,
                alarm_minutes_before=0,
            )
        )
    return reminders
