"""Mail to the owner that is not a step of the playbook (acknowledgements), under the outbox rule.

Intake queues a row in ``owner_mail`` (at most one per key, ever) inside the
transaction that records the forward; each routine delivers the due rows the
way steps go out: ``pending -> sending`` with the Message-ID committed before
the first byte, then ``sent``; a row found in ``sending`` after a crash is
``sent`` when a copy is found where the sinks deliver, else ``uncertain``
(shown by ``mailflow status``), never sent again blindly.  4xx and network
errors put it back to ``pending`` with the step backoff; 5xx fails it with
the server's words.  Mail to the owner is never held by a stale mailbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Literal

from mailflow import clock
from mailflow.compose.acknowledge import RequestFacts, compose_acknowledgement
from mailflow.compose.context import ComposeContext
from mailflow.config import Settings
from mailflow.engine.delivery_rules import backoff
from mailflow.engine.dispatch import look_for_copy
from mailflow.engine.outgoing import contact_info, meeting_info, new_message_id, owner_info
from mailflow.errors import AuthError, ConfigError, MailflowError, PermanentError, StoreError, TransientError
from mailflow.owners import settings_for
from mailflow.sinks.base import MailSink
from mailflow.sinks.factory import Sinks
from mailflow.sinks.uncertain import DeliveryUncertain
from mailflow.store import MessageData, Store, StoreTx
from mailflow.store.rows import OwnerMailRow
from mailflow.text import one_line

log = logging.getLogger("mailflow.owner_mail")

Result = Literal["sent", "deferred", "failed", "uncertain", "cancelled", "skipped", "dry_run", "unresolved"]
#: (row, Message-ID) -> the mail; None when there is nothing left to say (its meeting is gone)
Render = Callable[[OwnerMailRow, str], EmailMessage | None]


@dataclass(frozen=True)
class OwnerMailOutcome:
    mail_id: int
    kind: str
    result: Result
    message_id: str = ""
    detail: str = ""


class OwnerMailer:
    """Delivers due owner mail; resolves rows a crash left in ``sending``."""

    def __init__(
        self,
        store: Store,
        sinks: Sinks,
        settings: Settings,
        *,
        render: Render | None = None,
        dry_run: bool = False,
    ) -> None:
        self.store, self.sinks, self.settings = store, sinks, settings
        self.render = render or AcknowledgementRenderer(store, settings)
        self.dry_run = dry_run

    @property
    def sink(self) -> MailSink:
        return self.sinks.for_audience("owner", "send")

    def deliver(
        self, now: datetime | None = None, *, should_stop: Callable[[], bool] | None = None
    ) -> list[OwnerMailOutcome]:
        """Recover, then deliver every due row (oldest first)."""
        now = now or clock.now()
        outcomes = [] if self.dry_run else self._recover()
        with self.store.read() as tx:
            due = tx.due_owner_mail(now)
        down = False
        for row in due:
            if down or (should_stop is not None and should_stop()):
                break
            outcome = self._guarded(row)
            outcomes.append(outcome)
            down = outcome.result == "deferred"  # the server refuses or is gone: try the rest later
        return outcomes

    # -- one mail ------------------------------------------------------------
    def _guarded(self, row: OwnerMailRow) -> OwnerMailOutcome:
        try:
            return self._one(row)
        except (ConfigError, StoreError):
            raise
        except Exception as exc:  # one row's meeting or template must not stop the others
            log.exception("owner mail %d (%s) raised; the others go on", row.id, row.kind)
            with self.store.read() as tx:
                current = tx.get_owner_mail(row.id)
            if current is not None and current.state == "sending":  # handed over: the next cycle looks for it
                return _outcome(row, "unresolved", current.message_id or "", f"{type(exc).__name__}: {exc}")
            return self._fail_unsent(row, row.message_id or new_message_id(self.settings), exc)

    def _one(self, row: OwnerMailRow) -> OwnerMailOutcome:
        message_id = row.message_id or new_message_id(self.settings)
        try:
            message = self.render(row, message_id)
        except (ConfigError, StoreError):
            raise
        except Exception as exc:  # a template or an address: this mail fails, the others go on
            if not isinstance(exc, MailflowError):
                log.exception("rendering owner mail %d raised", row.id)
            return self._fail_unsent(row, message_id, exc)
        if message is None:
            return self._cancel(row, "its meeting no longer exists")
        if self.dry_run:
            return _outcome(row, "dry_run", message_id, f"to {message['To']}: {message['Subject']}")
        with self.store.transaction() as tx:
            if not tx.claim_owner_mail(row.id, message_id):
                return _outcome(row, "skipped", message_id, "no longer pending")
        return self._send(row, message, message_id)

    def _send(self, row: OwnerMailRow, message: EmailMessage, message_id: str) -> OwnerMailOutcome:
        sink = self.sink
        try:
            receipt = sink.deliver(message)
        except DeliveryUncertain as exc:
            return self._uncertain(row, message_id, str(exc))
        except (AuthError, TransientError, ConfigError) as exc:
            until = clock.now() + backoff(row.attempts + 1)
            with self.store.transaction() as tx:
                tx.defer_owner_mail(row.id, one_line(str(exc), 500), until)
            log.warning("owner mail %d deferred until %s: %s", row.id, until, exc)
            return _outcome(row, "deferred", message_id, f"{exc}; next try after {until:%Y-%m-%d %H:%M} UTC")
        except PermanentError as exc:
            with self.store.transaction() as tx:
                tx.mark_owner_mail_failed(row.id, one_line(str(exc), 500))
            return _outcome(row, "failed", message_id, str(exc))
        except Exception as exc:  # a bug in a sink: whether it went out is unknown, so look
            log.exception("delivering owner mail %d raised", row.id)
            return self._resolve(row, message_id, f"delivery raised {type(exc).__name__}")
        where = "; ".join(filter(None, [receipt.where, receipt.detail]))
        return self._sent(row, message_id, where, message)

    # -- moving rows -----------------------------------------------------------
    def _sent(
        self, row: OwnerMailRow, message_id: str, where: str, message: EmailMessage | None
    ) -> OwnerMailOutcome:
        with self.store.transaction() as tx:
            at = clock.now()
            tx.mark_owner_mail_sent(row.id, at=at, receipt=where)
            tx.record_message(_log_entry(row, message_id, at, message))
        log.info("owner mail %d (%s) sent as %s: %s", row.id, row.kind, message_id, where)
        return _outcome(row, "sent", message_id, where)

    def _uncertain(self, row: OwnerMailRow, message_id: str, reason: str) -> OwnerMailOutcome:
        with self.store.transaction() as tx:
            tx.mark_owner_mail_uncertain(row.id, one_line(reason, 500))
        log.error("owner mail %d is uncertain: %s", row.id, reason)
        return _outcome(row, "uncertain", message_id, reason)

    def _fail_unsent(self, row: OwnerMailRow, message_id: str, exc: Exception) -> OwnerMailOutcome:
        error = str(exc) if isinstance(exc, MailflowError) else f"{type(exc).__name__}: {exc}"
        if self.dry_run:
            return _outcome(row, "failed", message_id, f"dry run: {error}")
        with self.store.transaction() as tx:
            tx.mark_owner_mail_failed(row.id, one_line(error, 500))
        log.error("owner mail %d failed: %s", row.id, error)
        return _outcome(row, "failed", message_id, error)

    def _cancel(self, row: OwnerMailRow, reason: str) -> OwnerMailOutcome:
        if not self.dry_run:
            with self.store.transaction() as tx:
                tx.cancel_owner_mail(row.id, reason)
        return _outcome(row, "cancelled", detail=reason)

    # -- recovery ---------------------------------------------------------------
    def _recover(self) -> list[OwnerMailOutcome]:
        with self.store.read() as tx:
            stuck = tx.owner_mail_in_state("sending")
        why = "mailflow stopped while this mail was being delivered"
        return [self._resolve(row, row.message_id or "", why) for row in stuck]

    def _resolve(self, row: OwnerMailRow, message_id: str, why: str) -> OwnerMailOutcome:
        """A row in ``sending`` whose fate is open: a copy makes it sent, else it is uncertain."""
        where, unknown = look_for_copy(self.sinks, message_id)
        if where:
            return self._sent(row, message_id, f"found after a restart in {where}", None)
        if unknown:
            return _outcome(row, "unresolved", message_id, f"{why}; cannot look for it now: {unknown}")
        return self._uncertain(
            row,
            message_id,
            f"{why}, and no copy with its Message-ID {message_id} was found; check your inbox",
        )


class AcknowledgementRenderer:
    """``render(row, message_id)`` for acknowledgements: the meeting as it stands now."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store, self.settings = store, settings

    def __call__(self, row: OwnerMailRow, message_id: str) -> EmailMessage | None:
        if row.kind != "acknowledge":
            raise ValueError(f"owner mail {row.id}: no renderer for the kind {row.kind!r}")
        with self.store.read() as tx:
            found = _acknowledged(tx, row, self.settings)
            owner = tx.get_owner(row.owner_id)
        if found is None:
            return None
        ctx, facts = found
        return compose_acknowledgement(
            ctx,
            facts,
            settings_for(self.settings, owner)
            if owner is not None
            else self.settings,  # the owner's From, zone
            message_id=message_id,
            in_reply_to=row.in_reply_to,
            references=row.reference_ids,
        )


def _acknowledged(
    tx: StoreTx, row: OwnerMailRow, settings: Settings
) -> tuple[ComposeContext, RequestFacts] | None:
    meeting = tx.get_meeting(row.meeting_id) if row.meeting_id is not None else None
    if meeting is None:
        return None
    contact = tx.get_contact(meeting.counterpart_id) if meeting.counterpart_id is not None else None
    ctx = ComposeContext(
        owner=owner_info(settings, tx.get_owner(meeting.owner_id)),
        contact=contact_info(contact, meeting),
        meeting=meeting_info(tx, meeting, with_notes=False),
        role="seeker" if meeting.role == "seeker" else "adviser",
    )
    facts = RequestFacts(meeting.id, meeting.state, contact is not None, meeting.confirmed_at is not None)
    return ctx, facts


def _log_entry(row: OwnerMailRow, message_id: str, at: datetime, message: EmailMessage | None) -> MessageData:
    sender = subject = ""
    if message is not None:
        found = getaddresses([str(v) for v in message.get_all("From", [])])
        sender = found[0][1] if found else ""
        subject = one_line(str(message.get("Subject", "")), 300)
    return MessageData(
        ref=None,
        direction="out",
        message_id=message_id,
        kind=row.kind,
        meeting_id=row.meeting_id,
        contact_id=row.contact_id,
        sender=sender,
        subject=subject,
        in_reply_to=row.in_reply_to,
        sent_at=at,
    )


def _outcome(row: OwnerMailRow, result: Result, message_id: str = "", detail: str = "") -> OwnerMailOutcome:
    return OwnerMailOutcome(row.id, row.kind, result, message_id, detail)
