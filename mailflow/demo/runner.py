"""Runs the real engine (``run --once``, again and again) while the demo clock steps forward.

Everything lives in one folder: the Maildir the mail arrives in, the SQLite
database, the saved attachments and the file outbox.  No server, no network.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from mailflow import clock
from mailflow.config import Settings, load_settings
from mailflow.demo import samples
from mailflow.demo.story import DAYS, START, Arrival, Reply, arrivals, replies, sent_step_mail
from mailflow.engine.cycle import CycleReport, Engine
from mailflow.store import Store

MIN_STEP = timedelta(minutes=15)
MAX_STEP = timedelta(days=1)


@dataclass(frozen=True)
class Event:
    """One line of the demo's timeline."""

    at: datetime
    kind: str  # "arrived", "understood", "step", "to_owner" (an acknowledgement), "skipped", "cancelled", "error"
    text: str
    detail: str = ""


@dataclass
class DemoResult:
    folder: Path
    outbox: Path
    events: list[Event] = field(default_factory=list)
    cycles: int = 0

    def steps_fired(self) -> list[Event]:
        return [e for e in self.events if e.kind == "step"]

    def mailed(self) -> list[Event]:
        """Every mail that went out: steps and mail to the owner outside the playbook."""
        return [e for e in self.events if e.kind in ("step", "to_owner")]


def demo_settings(folder: Path) -> Settings:
    """The embedded defaults, plus the demo owner and its Maildir, all under ``folder``."""
    return load_settings(
        None,
        {
            "owner": {
                "name": samples.OWNER[0],
                "addresses": [samples.OWNER[1]],
                "timezone": "Europe/Berlin",
                "story": "Ten years in consulting, now a product manager in climate tech.",
            },
            "mailbox": {"kind": "maildir", "path": str(folder / "Maildir"), "username": samples.MAILFLOW[1]},
            "data": {"folder": str(folder / "data")},
            "database": {"url": f"sqlite:///{folder / 'data' / 'mailflow.db'}"},
        },
    )


class Demo:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.settings = demo_settings(folder)
        for sub in ("cur", "new", "tmp"):
            (folder / "Maildir" / sub).mkdir(parents=True, exist_ok=True)
        self.store = Store.open(self.settings.database_url())
        self.result = DemoResult(folder, self.settings.outbox_folder())
        self.pending_arrivals = sorted(arrivals(), key=lambda a: a.at)
        self.pending_replies = replies()
        self.written = 0
        self.seen_messages: set[int] = set()

    def run(self) -> DemoResult:
        now, end = START, START + timedelta(days=DAYS)
        clock.set_now(now)
        engine = Engine(self.settings, self.store)
        try:
            while now <= end:
                clock.set_now(now)
                self._deliver_due(now)
                report = engine.run_cycle()
                self.result.cycles += 1
                self._record(now, report)
                now = self._next_moment(now)
        finally:
            engine.close()
            self.store.close()
            clock.set_now(None)
        return self.result

    # -- mail arriving -------------------------------------------------------
    def _deliver_due(self, now: datetime) -> None:
        while self.pending_arrivals and self.pending_arrivals[0].at <= now:
            self._drop(self.pending_arrivals.pop(0), now)
        for reply in list(self.pending_replies):
            arrival = self._reply_arrival(reply)
            if arrival is not None and arrival.at <= now:
                self.pending_replies.remove(reply)
                self._drop(arrival, now)

    def _reply_arrival(self, reply: Reply) -> Arrival | None:
        with self.store.read() as tx:
            found = sent_step_mail(tx, reply.step, reply.address)
        if found is None:
            return None
        sent_at, message = found
        at = sent_at + reply.delay
        return Arrival(at, reply.name, reply.build(at, message.message_id, message.subject))

    def _drop(self, arrival: Arrival, now: datetime) -> None:
        """Write the message into the Maildir, as a delivery agent would (tmp, then new)."""
        self.written += 1
        name = f"{int(arrival.at.timestamp())}.demo{self.written}.mailflow"
        temporary = self.folder / "Maildir" / "tmp" / name
        temporary.write_bytes(arrival.raw)
        os.replace(temporary, self.folder / "Maildir" / "new" / name)
        self.result.events.append(Event(arrival.at, "arrived", arrival.name))

    # -- what happened -------------------------------------------------------
    def _record(self, now: datetime, report: CycleReport) -> None:
        with self.store.read() as tx:
            for message in tx.list_messages():
                if message.id in self.seen_messages or message.direction != "in":
                    continue
                self.seen_messages.add(message.id)
                where = f" (meeting {message.meeting_id})" if message.meeting_id else ""
                self.result.events.append(Event(now, "understood", f"{message.kind}{where}", message.error))
            for outcome in report.dispatch.outcomes if report.dispatch else []:
                step = tx.get_step(outcome.step_id)
                meeting = tx.get_meeting(outcome.meeting_id)
                contact = (
                    tx.get_contact(meeting.counterpart_id) if meeting and meeting.counterpart_id else None
                )
                audience = self.settings.steps.audience(outcome.step) or "owner"
                to = samples.OWNER[1] if audience == "owner" else (contact.address if contact else "?")
                mode = step.mode if step else ""
                kind = "step" if outcome.result == "sent" else outcome.result
                text = f"{outcome.step} to {to} ({mode})"
                self.result.events.append(Event(now, kind, text, outcome.detail))
        for mailed in report.owner_mail or []:
            mail_kind = "to_owner" if mailed.result == "sent" else mailed.result
            self.result.events.append(
                Event(now, mail_kind, f"{mailed.kind} to {samples.OWNER[1]}", mailed.detail)
            )
        for error in report.errors:
            self.result.events.append(Event(now, "error", error))

    def _next_moment(self, now: datetime) -> datetime:
        candidates = [now + MAX_STEP]
        if self.pending_arrivals:
            candidates.append(self.pending_arrivals[0].at)
        for reply in self.pending_replies:
            arrival = self._reply_arrival(reply)
            if arrival is not None:
                candidates.append(arrival.at)
        with self.store.read() as tx:
            upcoming = [s.due_at for s in tx.steps_in_state("pending")]
        candidates += [due for due in upcoming if due > now]
        if any(due <= now for due in upcoming):  # waiting for the send window
            candidates.append(now + timedelta(hours=1))
        return max(now + MIN_STEP, min(candidates))


def run_demo(folder: Path) -> DemoResult:
    """The whole story in ``folder`` (which should be empty)."""
    return Demo(folder).run()
