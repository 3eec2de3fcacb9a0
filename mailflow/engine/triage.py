"""Which new messages can matter, decided from the cheap first look alone.

Parsing is the expensive part of a sync (about 1.4k messages/s for Python's
``email``, against 10k+/s for the first look), so only these are fetched and
understood:

- calendar data: a ``text/calendar`` part or an ``.ics`` file;
- a ``message/rfc822`` part (an invite or a request forwarded as attachment);
- mail from an owner address (forwards, requests, notes);
- mail from a known contact (answers, résumés, "please stop");
- a reply to one of mailflow's own Message-IDs (In-Reply-To or References).

Everything else (newsletters, strangers' mail without calendar data) is
counted and passed over, untouched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from mailflow.sources import Incoming
from mailflow.store import StoreTx

_STEP_STATES = ("pending", "sending", "sent", "uncertain", "failed", "skipped", "cancelled")
_OWNER_MAIL_STATES = ("pending", "sending", "sent", "uncertain", "failed")


def bare_id(message_id: str) -> str:
    """A Message-ID without its angle brackets and spaces: ``<a@b>`` and ``a@b`` compare equal."""
    return message_id.strip().strip("<>").strip()


@dataclass
class Known:
    """What the triage compares against: owners, contacts and our own Message-IDs."""

    owners: frozenset[str] = frozenset()
    contacts: set[str] = field(default_factory=set)
    our_ids: set[str] = field(default_factory=set)
    #: (iCal UID, RECURRENCE-ID) of every meeting, so a new invite costs no lookup
    meetings: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def load(cls, tx: StoreTx, owners: Iterable[str]) -> Known:
        contacts = {c.address for c in tx.list_contacts()}
        ours = {bare_id(s.message_id) for s in tx.steps_in_state(*_STEP_STATES) if s.message_id}
        ours |= {bare_id(m.message_id) for m in tx.owner_mail_in_state(*_OWNER_MAIL_STATES) if m.message_id}
        meetings = {(m.ical_uid, m.recurrence_id) for m in tx.list_meetings() if m.ical_uid}
        return cls(frozenset(a.lower() for a in owners), contacts, ours, meetings)

    def is_ours(self, message_id: str) -> bool:
        return bare_id(message_id) in self.our_ids

    def why(self, item: Incoming) -> str:
        """The reason ``item`` can matter, or "" when it cannot."""
        if item.calendar:
            return "calendar data"
        if item.attached_message:
            return "an attached message"
        if item.sender and item.sender in self.owners:
            return "from the owner"
        if item.sender and item.sender in self.contacts:
            return "from a known contact"
        if any(self.is_ours(i) for i in (*item.in_reply_to, *item.references)):
            return "a reply to mailflow's mail"
        return ""
