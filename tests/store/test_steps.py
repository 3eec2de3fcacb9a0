"""Steps: the outbox's state machine, due lists, pause, backoff, retry, reply matching."""

from __future__ import annotations

from datetime import timedelta

from mailflow.store import MeetingData, MessageData, Store, StoreTx
from tests.store.conftest import T0


def _setup(tx: StoreTx, uid: str = "m@x") -> int:
    row, _ = tx.upsert_meeting(MeetingData(ical_uid=uid, start_at=T0))
    return row.id


def test_a_step_goes_pending_sending_sent(store: Store) -> None:
    with store.transaction() as tx:
        step, _ = tx.plan_step(_setup(tx), "prep_request", 0, T0, "send")
        assert tx.claim_step(step.id, "<s1@mailflow>")
        assert not tx.claim_step(step.id, "<s2@mailflow>")  # no longer pending
        assert [s.id for s in tx.steps_in_state("sending")] == [step.id]
        assert tx.mark_sent(step.id, at=T0, receipt="smtp localhost:25")
        assert not tx.retime_step(step.id, T0 + timedelta(days=1))  # sent steps are never touched
        done = tx.get_step(step.id)
    assert done is not None
    assert (done.state, done.message_id, done.attempts, done.sent_at, done.receipt) == (
        "sent", "<s1@mailflow>", 1, T0, "smtp localhost:25",
    )  # fmt: skip


def test_failed_and_uncertain_steps_go_out_again_only_on_retry(store: Store) -> None:
    with store.transaction() as tx:
        meeting_id = _setup(tx)
        a, _ = tx.plan_step(meeting_id, "prep_request", 0, T0, "send")
        b, _ = tx.plan_step(meeting_id, "thank_you", 0, T0, "draft")
        tx.claim_step(a.id, "<a@m>")
        tx.claim_step(b.id, "<b@m>")
        assert tx.mark_failed(a.id, "550 no such user")
        assert tx.mark_uncertain(b.id, "found in sending after a restart; no copy found")
        assert tx.due_steps(T0 + timedelta(days=1)) == []
        assert tx.count_steps_by_state() == {"failed": 1, "uncertain": 1}
        later = T0 + timedelta(hours=5)
        assert tx.retry_step(a.id, later) and tx.retry_step(b.id, later)
        assert not tx.retry_step(b.id, later)
        due = tx.due_steps(later)
    assert [s.id for s in due] == [a.id, b.id]
    assert due[0].last_error == "550 no such user" and due[1].message_id == "<b@m>"


def test_due_steps_respect_time_pause_and_backoff(store: Store) -> None:
    with store.transaction() as tx:
        active, paused = _setup(tx, "a@x"), _setup(tx, "p@x")
        early, _ = tx.plan_step(active, "homework_brief", 0, T0, "send")
        late, _ = tx.plan_step(active, "summary_prompt", 0, T0 + timedelta(hours=2), "send")
        tx.plan_step(paused, "homework_brief", 0, T0 - timedelta(hours=1), "send")
        tx.set_paused(paused, True)
        assert [s.id for s in tx.due_steps(T0)] == [early.id]
        assert tx.next_pending_step() == early
        tx.claim_step(early.id, "<e@m>")
        assert tx.defer_step(early.id, "421 try later", T0 + timedelta(minutes=30))
        assert tx.due_steps(T0 + timedelta(minutes=10)) == []
        assert [s.id for s in tx.due_steps(T0 + timedelta(hours=3))] == [early.id, late.id]


def test_planning_only_retimes_cancels_and_skips_pending_steps(store: Store) -> None:
    with store.transaction() as tx:
        meeting_id = _setup(tx)
        sent, _ = tx.plan_step(meeting_id, "prep_request", 0, T0, "send")
        tx.claim_step(sent.id, "<p@m>")
        tx.mark_sent(sent.id, at=T0)
        brief, _ = tx.plan_step(meeting_id, "homework_brief", 0, T0, "send")
        thanks, _ = tx.plan_step(meeting_id, "thank_you", 0, T0, "draft")
        nudge, _ = tx.plan_step(meeting_id, "follow_up", 0, T0, "draft")
        assert tx.retime_step(brief.id, T0 + timedelta(days=2), mode="notify")
        assert tx.skip_step(nudge.id, "the contact replied")
        assert tx.cancel_pending_steps(meeting_id, "meeting cancelled") == 2
        states = {s.step: (s.state, s.mode, s.reason) for s in tx.list_steps(meeting_id)}
    assert states == {
        "prep_request": ("sent", "send", ""),
        "homework_brief": ("cancelled", "notify", "meeting cancelled"),
        "thank_you": ("cancelled", "draft", "meeting cancelled"),
        "follow_up": ("skipped", "draft", "the contact replied"),
    }
    assert thanks.state == "pending"


def test_a_reply_finds_its_meeting_by_our_message_id(store: Store) -> None:
    with store.transaction() as tx:
        meeting_id = _setup(tx)
        step, _ = tx.plan_step(meeting_id, "follow_up", 0, T0, "send")
        tx.claim_step(step.id, "<ours@m>")
        other = _setup(tx, "o@x")
        tx.record_message(MessageData(None, direction="out", message_id="<logged@m>", meeting_id=other))
        assert tx.find_step_by_message_id("<ours@m>") == tx.get_step(step.id)
        found = tx.meeting_for_message_id("<ours@m>")
        logged = tx.meeting_for_message_id("<logged@m>")
        assert tx.meeting_for_message_id("<unknown@m>") is None
    assert found is not None and found.id == meeting_id
    assert logged is not None and logged.id == other
