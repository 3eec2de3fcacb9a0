"""What mailflow writes: templates rendered, messages built, calendar files made.

Pure code over plain dataclasses; it never touches the store.  The caller
fills a :class:`ComposeContext`; :func:`compose_step` gives the finished
:class:`~email.message.EmailMessage` (the engine and ``mailflow preview``
share it), and the pieces are public for other uses:

- :func:`render` -> :class:`Rendered` (subject, text, html)
- :func:`build_message`, :func:`make_message_id`
- :func:`check_templates` (for ``mailflow check``)
- :func:`build_reminders`, :func:`build_proposal`, :func:`propose_slot`, :func:`build_feed`
"""

from __future__ import annotations

from mailflow.compose.check import check_templates, sample_context
from mailflow.compose.context import (
    ComposeContext,
    ContactInfo,
    Links,
    MeetingInfo,
    OwnerInfo,
    ProposalInfo,
    default_links,
)
from mailflow.compose.environment import Rendered, render
from mailflow.compose.feed import FeedMeeting, FeedStep, build_feed
from mailflow.compose.htmltext import html_to_text
from mailflow.compose.ics import Proposal, Reminder, build_proposal, build_reminders, propose_slot, stable_uid
from mailflow.compose.message import (
    Attachment,
    CalendarPart,
    build_message,
    make_message_id,
    message_id_domain,
    sending_address,
)
from mailflow.compose.outgoing import Outgoing, compose_step

__all__ = [
    "Attachment",
    "CalendarPart",
    "ComposeContext",
    "ContactInfo",
    "FeedMeeting",
    "FeedStep",
    "Links",
    "MeetingInfo",
    "Outgoing",
    "OwnerInfo",
    "Proposal",
    "ProposalInfo",
    "Reminder",
    "Rendered",
    "build_feed",
    "build_message",
    "build_proposal",
    "build_reminders",
    "check_templates",
    "compose_step",
    "default_links",
    "html_to_text",
    "make_message_id",
    "message_id_domain",
    "propose_slot",
    "render",
    "sample_context",
    "sending_address",
    "stable_uid",
]
