"""Delivery: due steps go out through their sinks, under the outbox rule.

The outbox rule (README, "Guarantees: the outbox rule"):

- each step moves ``pending -> sending -> sent | failed``, and its Message-ID
  is stored with the move to ``sending`` (``claim_step``, committed) before
  the first byte goes out;
- a step found in ``sending`` (a crash) is never sent again blindly: when a
  copy with its Message-ID is found (the Sent folder of the ``sent_copy``
  account, Drafts, a notice to the owner, the outbox folder) it becomes
  ``sent``, otherwise ``uncertain``, which only ``mailflow retry`` sends again;
- 4xx replies and network errors send the step back to ``pending`` (same
  Message-ID) with a capped exponential backoff; 5xx marks it ``failed`` with
  the server's words; a connection lost after the whole message went out
  marks it ``uncertain``.

Mail to contacts waits while the mailbox is stale: when the last successful
sync is more than ``[intake] stale_after`` ago, a cancellation or a "please
stop" may be waiting unread, so a due step to a contact stays ``pending`` and
is reported ``held`` with the reason; mail to the owner goes on.  One step that
raises something unexpected is marked ``failed`` with the reason and the
others go on; only a :class:`~mailflow.errors.StoreError` or a
:class:`~mailflow.errors.ConfigError` stops the dispatch.

Each cycle the engine calls :meth:`Dispatcher.dispatch` (which runs
:meth:`Dispatcher.recover` first).  The dispatcher knows the sinks only
through :class:`~mailflow.sinks.base.MailSink`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import EmailMessage
from typing import Literal

from mailflow import clock
from mailflow.config import Settings, parse_duration
from mailflow.engine.delivery_rules import (
    Budget,
    Gate,
    backoff,
    blocked,
    check_recipients,
    log_entry,
    playbook_gate,
    recipients_of,
    sending_budget,
)
from mailflow.engine.health import PAUSED, held_reason, stale_since
from mailflow.engine.outgoing import StepRenderer, new_message_id
from mailflow.errors import (
    AuthError,
    ConfigError,
    MailflowError,
    PermanentError,
    StoreError,
    TransientError,
)
from mailflow.model import Receipt
from mailflow.sinks.base import MailSink
from mailflow.sinks.factory import Sinks
from mailflow.sinks.notify import STEP_HEADER
from mailflow.sinks.uncertain import DeliveryUncertain
from mailflow.store import ContactRow, MeetingRow, StepRow, Store, StoreTx
from mailflow.text import one_line

log = logging.getLogger("mailflow.dispatch")

#: (step, Message-ID) -> the mail; the default is :class:`~mailflow.engine.outgoing.StepRenderer`
Render = Callable[[StepRow, str], EmailMessage]
Result = Literal[
    "sent", "deferred", "failed", "uncertain", "skipped", "cancelled", "held", "dry_run", "unresolved"
]

_WHERE_FOUND = {
    "smtp": "the Sent folder",
    "drafts": "the Drafts folder",
    "notify": "a notice mailed to the owner",
    "outbox": "the outbox folder",
}


@dataclass(frozen=True)
class Outcome:
    """What became of one step in this dispatch."""

    step_id: int
    step: str
    meeting_id: int
    result: Result
    message_id: str = ""
    detail: str = ""


@dataclass
class DispatchReport:
    outcomes: list[Outcome] = field(default_factory=list)

    def of(self, result: Result) -> list[Outcome]:
        return [o for o in self.outcomes if o.result == result]

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for outcome in self.outcomes:
            counted[outcome.result] = counted.get(outcome.result, 0) + 1
        return counted


class Dispatcher:
    """Sends, drafts or notifies due steps; resolves steps a crash left in ``sending``.

    ``dry_run``: render every due step, but send, draft and mark nothing.
    Assumes it is the only dispatcher on its database (the daemon's lock).
    """

    def __init__(
        self,
        store: Store,
        sinks: Sinks,
        settings: Settings,
        *,
        render: Render | None = None,
        gate: Gate | None = None,
        dry_run: bool = False,
    ) -> None:
        self.store = store
        self.sinks = sinks
        self.settings = settings
        self.render = render or StepRenderer(store, settings)
        self.gate = gate or playbook_gate(settings)
        self.dry_run = dry_run
        self.stale_after = parse_duration(settings.intake.stale_after)

    # -- the cycle -------------------------------------------------------
    def dispatch(
        self, now: datetime | None = None, *, should_stop: Callable[[], bool] | None = None
    ) -> DispatchReport:
        """Recover, then deliver every due step (earliest first); connections closed at the end.

        ``should_stop`` is asked between steps (SIGTERM finishes the current one).
        The global pause is the caller's to check; paused meetings are never due.
        """
        now = now or clock.now()
        report = DispatchReport()
        try:
            if not self.dry_run:
                report.outcomes += self._recover()
            with self.store.read() as tx:
                due = tx.due_steps(now)
                budget = sending_budget(tx, now, self.settings, self._sends_mail)
            cycle = _Cycle(now, budget, self._mailbox_held(now))
            for step in due:
                if should_stop is not None and should_stop():
                    break
                outcome = self._guarded(step, cycle)
                if outcome is not None:
                    report.outcomes.append(outcome)
        finally:
            self.sinks.close()
        return report

    def _mailbox_held(self, now: datetime) -> str:
        """Why mail to contacts is held this cycle (the mailbox is stale), "" when it may go."""
        since = stale_since(self.store, self.stale_after, now)
        if since is None:
            return ""
        zone = self.settings.owner_zone()
        return held_reason(since.astimezone(zone), now, self.settings.intake.stale_after)

    def recover(self) -> list[Outcome]:
        """Resolve every step left in ``sending``: sent when a copy is found, else uncertain."""
        try:
            return self._recover()
        finally:
            self.sinks.close()

    # -- one step ----------------------------------------------------------
    def _guarded(self, step: StepRow, cycle: _Cycle) -> Outcome | None:
        """One step; whatever unexpected it raises fails that step only (with the reason)."""
        try:
            return self._one(step, cycle)
        except (ConfigError, StoreError):
            raise
        except Exception as exc:  # one step's meeting, row or template must not stop the others
            log.exception("step %d (%s) raised; the other steps go on", step.id, step.step)
            with self.store.read() as tx:
                current = tx.get_step(step.id)
            if current is not None and current.state == "sending":  # handed over: recovery looks for it
                why = f"dispatch raised {type(exc).__name__}: {one_line(str(exc), 160)}"
                return _outcome(step, "unresolved", current.message_id or "", f"{why}; looked for next cycle")
            return self._fail_unsent(step, step.message_id or new_message_id(self.settings), exc)

    def _one(self, step: StepRow, cycle: _Cycle) -> Outcome | None:
        with self.store.read() as tx:
            meeting, contact = _parties(tx, step)
        audience = self.settings.steps.audience(step.step)
        reason = blocked(meeting, contact, audience)
        if reason:
            return self._cancel(step, reason)
        assert meeting is not None
        verdict = self.gate(step, meeting, contact, cycle.now)
        if verdict.verdict == "skip":
            return self._skip(step, verdict.reason)
        if verdict.verdict == "wait":
            return None
        if cycle.held and audience != "owner":  # it stays pending
            return _outcome(step, "held", detail=cycle.held)
        sink = self.sinks.for_audience(audience, step.mode)
        if id(sink) in cycle.down:
            return None
        if sink.kind != "drafts" and not cycle.budget.take():
            return _outcome(step, "held", detail=cycle.budget.reason)
        return self._deliver(step, sink, contact, cycle.down)

    def _deliver(self, step: StepRow, sink: MailSink, contact: ContactRow | None, down: set[int]) -> Outcome:
        message_id = step.message_id or new_message_id(self.settings)
        try:
            message = self.render(step, message_id)
            check_recipients(step, contact, message, self.settings)
        except (ConfigError, StoreError):
            raise
        except Exception as exc:  # a template or an address: this step fails, the others go on
            if not isinstance(exc, MailflowError):
                log.exception("rendering step %d raised", step.id)
            return self._fail_unsent(step, message_id, exc)
        if self.dry_run:
            return _outcome(step, "dry_run", message_id, f"{sink.kind}: {_summary(message)}")
        if sink.kind == "notify":
            message[STEP_HEADER] = step.step
        refused = self._claim(step, message_id)
        if refused is not None:
            return refused
        return self._send(step, sink, message, down)

    def _claim(self, step: StepRow, message_id: str) -> Outcome | None:
        """pending -> sending with the Message-ID, in one transaction that checks the guards again.

        None when the step is ours to deliver; else what happened instead.
        """
        with self.store.transaction() as tx:
            current = tx.get_step(step.id)
            if current is None or current.state != "pending":
                return _outcome(step, "skipped", message_id, "no longer pending")
            meeting, contact = _parties(tx, current)
            if (meeting is not None and meeting.paused) or tx.kv_get(PAUSED) == "1":
                return _outcome(step, "held", detail="paused while this cycle ran")
            reason = blocked(meeting, contact, self.settings.steps.audience(current.step))
            if reason:
                tx.cancel_step(step.id, reason)
                return _outcome(step, "cancelled", detail=reason)
            if not tx.claim_step(step.id, message_id):
                return _outcome(step, "skipped", message_id, "claimed elsewhere")
        return None

    def _send(self, step: StepRow, sink: MailSink, message: EmailMessage, down: set[int]) -> Outcome:
        message_id = str(message["Message-ID"]).strip()
        try:
            receipt = sink.deliver(message)
        except DeliveryUncertain as exc:
            return self._uncertain(step, message_id, str(exc))
        except (AuthError, TransientError, ConfigError) as exc:
            # the server is down or refuses us, or a password_command failed: nothing went out;
            # do not hammer that server this cycle
            down.add(id(sink))
            return self._defer(step, message_id, exc)
        except PermanentError as exc:
            return self._failed(step, message_id, str(exc))
        except Exception as exc:  # a bug in a sink: whether it went out is unknown, so look
            log.exception("delivering step %d raised", step.id)
            why = f"delivery raised {type(exc).__name__}: {one_line(str(exc), 160)}"
            # the row was read before the claim: give the lookup the Message-ID it now carries
            return self._resolve(replace(step, message_id=message_id), why, found="found in")
        return self._sent(step, receipt, message)

    # -- moving steps --------------------------------------------------------
    def _sent(self, step: StepRow, receipt: Receipt, message: EmailMessage | None) -> Outcome:
        where = "; ".join(filter(None, [receipt.where, receipt.detail]))
        with self.store.transaction() as tx:
            at = clock.now()
            tx.mark_sent(step.id, at=at, receipt=where)
            tx.record_message(log_entry(tx, step, receipt.message_id, at, message))
        log.info("step %d (%s) sent as %s: %s", step.id, step.step, receipt.message_id, where)
        return _outcome(step, "sent", receipt.message_id, where)

    def _defer(self, step: StepRow, message_id: str, exc: MailflowError) -> Outcome:
        attempts = step.attempts + 1
        until = clock.now() + backoff(attempts)
        with self.store.transaction() as tx:
            tx.defer_step(step.id, str(exc), until)
        log.warning("step %d deferred until %s (attempt %d): %s", step.id, until, attempts, exc)
        return _outcome(step, "deferred", message_id, f"{exc}; next try after {until:%Y-%m-%d %H:%M} UTC")

    def _failed(self, step: StepRow, message_id: str, error: str) -> Outcome:
        with self.store.transaction() as tx:
            tx.mark_failed(step.id, error)
        log.error("step %d failed: %s", step.id, error)
        return _outcome(step, "failed", message_id, error)

    def _uncertain(self, step: StepRow, message_id: str, reason: str) -> Outcome:
        with self.store.transaction() as tx:
            tx.mark_uncertain(step.id, reason)
        log.error("step %d is uncertain: %s", step.id, reason)
        return _outcome(step, "uncertain", message_id, reason)

    def _fail_unsent(self, step: StepRow, message_id: str, exc: Exception) -> Outcome:
        """Nothing went out: claim (so the step leaves the queue) and mark it failed with the reason."""
        error = str(exc) if isinstance(exc, MailflowError) else f"{type(exc).__name__}: {exc}"
        if self.dry_run:
            return _outcome(step, "failed", message_id, f"dry run: {error}")
        with self.store.transaction() as tx:
            if not tx.claim_step(step.id, message_id):
                return _outcome(step, "skipped", message_id, "no longer pending")
            tx.mark_failed(step.id, one_line(error, 500))
        return _outcome(step, "failed", message_id, error)

    def _cancel(self, step: StepRow, reason: str) -> Outcome:
        if not self.dry_run:
            with self.store.transaction() as tx:
                tx.cancel_step(step.id, reason)
        return _outcome(step, "cancelled", detail=reason)

    def _skip(self, step: StepRow, reason: str) -> Outcome:
        if not self.dry_run:
            with self.store.transaction() as tx:
                tx.mark_skipped(step.id, reason)
        return _outcome(step, "skipped", detail=reason)

    # -- recovery -------------------------------------------------------------
    def _recover(self) -> list[Outcome]:
        with self.store.read() as tx:
            stuck = tx.steps_in_state("sending")
        return [self._resolve(step, "mailflow stopped while this step was being delivered") for step in stuck]

    def _resolve(self, step: StepRow, why: str, *, found: str = "found after a restart in") -> Outcome:
        """A step in ``sending`` whose fate is open: a copy somewhere makes it sent, else uncertain."""
        message_id = step.message_id or ""
        where, unknown = self._look_for(message_id)
        if where:
            receipt = Receipt(message_id, f"{found} {where}")
            return self._sent(step, receipt, None)
        if unknown:  # a server that could tell is unreachable: stay in sending, look again next cycle
            return _outcome(step, "unresolved", message_id, f"{why}; cannot look for it now: {unknown}")
        places = ", ".join(_WHERE_FOUND.get(s.kind, s.kind) for s in self.sinks.distinct())
        reason = (
            f"{why}, and no copy with its Message-ID {message_id} was found ({places}); "
            f"check whether it arrived, then `mailflow retry {step.id}` or `mailflow skip {step.id}`"
        )
        return self._uncertain(step, message_id, reason)

    def _look_for(self, message_id: str) -> tuple[str, str]:
        return look_for_copy(self.sinks, message_id)

    # -- checks ----------------------------------------------------------------
    def _sends_mail(self, step: StepRow) -> bool:
        return self.sinks.for_audience(self.settings.steps.audience(step.step), step.mode).kind != "drafts"


def look_for_copy(sinks: Sinks, message_id: str) -> tuple[str, str]:
    """(where a copy with ``message_id`` was found, why a sink could not look); both "" when nowhere.

    Shared by the steps' and the owner mail's recovery: never guess "sent" or "uncertain" when a sink
    that could tell cannot look now.
    """
    unknown = ""
    if not message_id:
        return "", ""
    for sink in sinks.distinct():
        try:
            if sink.find(message_id):
                return _WHERE_FOUND.get(sink.kind, sink.kind), ""
        except (TransientError, ConfigError) as exc:  # may work next cycle: look again then
            unknown = str(exc)
        except MailflowError as exc:  # cannot look there (a login refused): that place cannot tell
            log.warning("cannot look for %s in the %s sink: %s", message_id, sink.kind, exc)
        except Exception as exc:  # a bug in a sink: it cannot tell now; never guess "sent" or "uncertain"
            log.exception("looking for %s in the %s sink raised", message_id, sink.kind)
            unknown = f"the {sink.kind} sink raised {type(exc).__name__}: {one_line(str(exc), 160)}"
    return "", unknown


@dataclass
class _Cycle:
    """What one dispatch shares between its steps."""

    now: datetime
    budget: Budget
    held: str  # why mail to contacts is held (a stale mailbox), "" when it may go
    down: set[int] = field(default_factory=set)  # sinks that failed this cycle: their other steps wait


def _parties(tx: StoreTx, step: StepRow) -> tuple[MeetingRow | None, ContactRow | None]:
    meeting = tx.get_meeting(step.meeting_id)
    if meeting is None or meeting.counterpart_id is None:
        return meeting, None
    return meeting, tx.get_contact(meeting.counterpart_id)


def _summary(message: EmailMessage) -> str:
    return f'to {", ".join(recipients_of(message))}: "{one_line(str(message.get("Subject", "")), 120)}"'


def _outcome(step: StepRow, result: Result, message_id: str = "", detail: str = "") -> Outcome:
    return Outcome(step.id, step.step, step.meeting_id, result, message_id, detail)
