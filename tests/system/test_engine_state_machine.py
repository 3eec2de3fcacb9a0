"""A state machine over (mail arrives, clock moves, cycle, crash, restart) on a real SQLite store.

Invariants: no Message-ID and no (meeting, step, occurrence) is ever delivered
twice; nothing goes to a contact after their meeting's cancellation was read;
after a cycle, no step is left in ``sending`` and nothing the playbook calls
due is left undone.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mailflow import clock
from mailflow.config import load_settings
from mailflow.demo import samples
from mailflow.engine.cycle import Engine
from mailflow.model import STEP_AUDIENCE
from mailflow.playbook import ExistingStep, PlaybookConfig, is_due
from mailflow.sinks.factory import Sinks
from mailflow.sinks.memory import MemorySink
from mailflow.sources.memory import MemorySource
from mailflow.store import Store

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2030, 1, 7, 8, 0, tzinfo=BERLIN)  # a Monday
GUESTS = [("Ben Okafor", "ben@example.net"), ("Carla Mendes", "carla@example.com")]


class Crash(BaseException):
    """The process dies (not an Exception: nothing in mailflow may catch it)."""


class CrashingSink(MemorySink):
    """Delivers to memory; can die just before or just after a delivery."""

    def __init__(self, log: list[EmailMessage]) -> None:
        super().__init__()
        self.delivered = log
        self.crash: str = ""  # "", "before" or "after"

    def deliver(self, message: EmailMessage):  # type: ignore[no-untyped-def]
        if self.crash == "before":
            self.crash = ""
            raise Crash
        receipt = super().deliver(message)
        if self.crash == "after":
            self.crash = ""
            raise Crash
        return receipt


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="mailflow-sm-"))
        self.settings = load_settings(
            None,
            {
                "owner": {"name": "Ana", "addresses": [samples.OWNER[1]], "timezone": "Europe/Berlin"},
                "mailbox": {"username": samples.MAILFLOW[1]},
                "data": {"folder": str(self.folder)},
                "sending": {"window": "Mon-Sun 00:00-23:59"},
            },
        )
        self.store = Store.open(self.settings.database_url())
        self.source = MemorySource()
        self.log: list[EmailMessage] = []
        self.sink = CrashingSink(self.log)
        self.now = T0
        clock.set_now(self.now)
        self.engine = self._new_engine()
        self.invites: dict[str, tuple[datetime, int, tuple[str, str]]] = {}  # uid -> (start, sequence, guest)
        self.cancelled_at: dict[str, int] = {}  # uid -> len(log) when the cancellation was read
        self.crashes = 0

    def _new_engine(self) -> Engine:
        sinks = Sinks(send=self.sink, draft=self.sink, notify=self.sink)
        return Engine(self.settings, self.store, source=self.source, sinks=sinks)

    # -- the world ---------------------------------------------------------
    @rule(guest=st.sampled_from(GUESTS), days=st.integers(0, 6), hour=st.integers(8, 18))
    def invite_arrives(self, guest: tuple[str, str], days: int, hour: int) -> None:
        uid = f"sm-{len(self.invites)}@example.org"
        start = (self.now + timedelta(days=days)).replace(hour=hour, minute=0)
        if start <= self.now:
            start = self.now + timedelta(hours=2)
        self.invites[uid] = (start, 0, guest)
        self.source.add(samples.google_invite(start, self.now, uid=uid, guest=guest))

    @precondition(lambda self: any(uid not in self.cancelled_at for uid in self.invites))
    @rule(data=st.data(), cancel=st.booleans(), shift_hours=st.integers(1, 48))
    def update_arrives(self, data: st.DataObject, cancel: bool, shift_hours: int) -> None:
        uid = data.draw(st.sampled_from(sorted(u for u in self.invites if u not in self.cancelled_at)))
        start, sequence, guest = self.invites[uid]
        start = start if cancel else start + timedelta(hours=shift_hours)
        self.invites[uid] = (start, sequence + 1, guest)
        method = "CANCEL" if cancel else "REQUEST"
        self.source.add(
            samples.google_invite(start, self.now, uid=uid, guest=guest, sequence=sequence + 1, method=method)
        )
        if cancel:
            self.cancelled_at[uid] = -1  # known once a cycle has read it

    @rule(hours=st.sampled_from([1, 3, 8, 24, 24 * 7, 24 * 30]))
    def clock_moves(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        clock.set_now(self.now)

    @rule()
    def cycle(self) -> None:
        try:
            self.engine.run_cycle()
        except Crash:
            self.crashes += 1
            self.engine = self._new_engine()  # the restarted process
            self.engine.run_cycle()
        self._note_cancellations()

    @precondition(lambda self: not self.sink.crash)
    @rule(when=st.sampled_from(["before", "after"]))
    def crash_at_the_next_delivery(self, when: str) -> None:
        self.sink.crash = when

    def _note_cancellations(self) -> None:
        with self.store.read() as tx:
            for uid, seen in list(self.cancelled_at.items()):
                meeting = tx.find_meeting(uid)
                if seen == -1 and meeting is not None and meeting.state == "cancelled":
                    self.cancelled_at[uid] = len(self.log)

    # -- what must always hold -----------------------------------------------
    @invariant()
    def nothing_delivered_twice(self) -> None:
        ids = [str(m["Message-ID"]) for m in self.log]
        assert len(ids) == len(set(ids)), "a Message-ID was delivered twice"
        with self.store.read() as tx:
            keys = []
            for message_id in ids:
                step = tx.find_step_by_message_id(message_id)
                if step is not None:
                    keys.append((step.meeting_id, step.step, step.occurrence))
        assert len(keys) == len(set(keys)), "a step went out twice"

    @invariant()
    def nothing_to_a_cancelled_meeting(self) -> None:
        with self.store.read() as tx:
            for uid, seen in self.cancelled_at.items():
                if seen < 0:
                    continue
                meeting = tx.find_meeting(uid)
                assert meeting is not None
                for message in self.log[seen:]:
                    step = tx.find_step_by_message_id(str(message["Message-ID"]))
                    if step is not None and step.meeting_id == meeting.id:
                        assert STEP_AUDIENCE[step.step] == "owner", f"{step.step} went to a cancelled meeting"

    @invariant()
    def no_due_step_is_left_behind(self) -> None:
        if not self.log and not self.invites:
            return
        config = PlaybookConfig.from_settings(self.settings, has_drafts_account=False)
        with self.store.read() as tx:
            assert tx.steps_in_state("sending") == [], "a step was left in sending"
            for step in tx.steps_in_state("pending"):
                meeting = tx.get_meeting(step.meeting_id)
                assert meeting is not None
                if step.due_at > self.now or step.next_attempt_at is not None:
                    continue
                verdict = is_due(
                    ExistingStep(step.step, step.occurrence, "pending", step.due_at, step.mode),  # type: ignore[arg-type]
                    self.now,
                    config,
                    contact_timezone=meeting.contact_timezone or None,
                    paused=meeting.paused,
                )
                last_cycle_at = tx.kv_get("last_dispatch")
                if last_cycle_at and datetime.fromisoformat(last_cycle_at) >= self.now:
                    assert verdict.verdict == "wait", (
                        f"step {step.step} is {verdict.verdict} but still pending"
                    )

    def teardown(self) -> None:
        self.engine.close()
        self.store.close()
        clock.set_now(None)
        shutil.rmtree(self.folder, ignore_errors=True)


EngineMachine.TestCase.settings = settings(
    max_examples=20,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngineStateMachine = EngineMachine.TestCase
