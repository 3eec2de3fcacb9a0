"""The playbook over simulated months: events arrive, the planner re-plans, due steps go out.

``Sim`` is a tiny daemon: at each instant that matters (an event, a step's due
time, a send window opening) it plans, applies the actions to in-memory rows
and dispatches what :func:`is_due` says is due.  Nothing reads the real clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from mailflow.config import Settings
from mailflow.playbook import (
    Action,
    ExistingStep,
    MeetingFacts,
    OtherMeeting,
    PlaybookConfig,
    apply_actions,
    is_due,
    plan,
)

CHICAGO = ZoneInfo("America/Chicago")
TOKYO = ZoneInfo("Asia/Tokyo")


def chicago(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)  # type: ignore[misc]


def make_config(drafts: bool = True, **playbook: Any) -> PlaybookConfig:
    settings = Settings(owner={"timezone": "America/Chicago"}, playbook=playbook)
    return PlaybookConfig.from_settings(settings, has_drafts_account=drafts)


@dataclass
class Sent:
    at: datetime
    step: str
    occurrence: int
    mode: str
    facts: MeetingFacts | None = None  # the meeting as it was when the step went out


@dataclass
class Sim:
    cfg: PlaybookConfig
    facts: MeetingFacts
    now: datetime
    rows: list[ExistingStep] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    others: tuple[OtherMeeting, ...] = ()
    paused: bool = False
    facts_at: Callable[[datetime], MeetingFacts] | None = None  # a recurring series moves on by itself

    def update(self, **changes: Any) -> None:
        self.facts = replace(self.facts, **changes)

    def tick(self) -> None:
        """Plan and dispatch; a dispatch can open the next check-in, so plan again (as a daemon would)."""
        if self.facts_at is not None:
            self.facts = self.facts_at(self.now)
        for _ in range(5):
            actions = plan(self.facts, self.rows, self.cfg, self.now, other_meetings=self.others)
            self.rows = apply_actions(self.rows, actions)
            self.actions += actions
            assert plan(self.facts, self.rows, self.cfg, self.now, other_meetings=self.others) == []
            if not self._dispatch():
                return

    def _dispatch(self) -> bool:
        before = list(self.rows)
        for i, row in enumerate(self.rows):
            verdict = is_due(
                row, self.now, self.cfg, contact_timezone=self.facts.contact_timezone, paused=self.paused
            ).verdict
            if verdict == "due":
                self.rows[i] = replace(row, state="sent")
                self.sent.append(Sent(self.now, row.step, row.occurrence, row.mode, self.facts))
            elif verdict == "skip":
                self.rows[i] = replace(row, state="skipped")
        return self.rows != before

    def _next_check(self) -> datetime | None:
        checks = [
            d.next_check
            for row in self.rows
            if (d := is_due(row, self.now, self.cfg, contact_timezone=self.facts.contact_timezone)).next_check
        ]
        return min(checks, default=None)

    def run(self, until: datetime, events: dict[datetime, Callable[[Sim], None]] | None = None) -> None:
        """Tick at every event and every instant a step may become due, up to ``until``."""
        pending_events = sorted((events or {}).items())
        self.tick()
        while True:
            candidates = [t for t, _ in pending_events[:1]]
            if (check := self._next_check()) is not None:
                candidates.append(check)
            if self.facts_at is not None:
                candidates.append(self.now + timedelta(hours=6))
            if not candidates or min(candidates) > until:
                break
            self.now = max(self.now, min(candidates))
            while pending_events and pending_events[0][0] <= self.now:
                pending_events.pop(0)[1](self)
            self.tick()
        self.now = until

    # -- reading the results -------------------------------------------------

    def order(self) -> list[str]:
        return [s.step for s in self.sent]

    def when(self, step: str, occurrence: int = 0) -> datetime:
        [sent] = [s for s in self.sent if (s.step, s.occurrence) == (step, occurrence)]
        return sent.at

    def row(self, step: str, occurrence: int = 0) -> ExistingStep:
        [row] = [r for r in self.rows if (r.step, r.occurrence) == (step, occurrence)]
        return row

    def reasons(self, step: str, occurrence: int = 0) -> list[str]:
        return [a.reason for a in self.actions if (a.step.step, a.step.occurrence) == (step, occurrence)]


INVITE_AT = chicago(2025, 3, 3, 15, 0)  # Monday, before the DST change of March 9
START, END = chicago(2025, 3, 12, 10, 0), chicago(2025, 3, 12, 11, 0)  # Wednesday, after it
DAYS_120 = INVITE_AT + timedelta(days=120)


def meeting(**changes: Any) -> MeetingFacts:
    base = MeetingFacts(id=7, state="scheduled", start=START, end=END, scheduled_at=INVITE_AT, trusted=True)
    return replace(base, **changes)


def sim(
    facts: MeetingFacts | None = None, cfg: PlaybookConfig | None = None, now: datetime = INVITE_AT
) -> Sim:
    return Sim(cfg or make_config(), facts or meeting(), now)


def at(when: datetime, **changes: Any) -> dict[datetime, Callable[[Sim], None]]:
    return {when: lambda s: s.update(**changes)}


def test_an_invite_goes_through_every_step_in_order_over_120_days() -> None:
    s = sim()
    s.run(DAYS_120, at(END + timedelta(minutes=50), notes_at=END + timedelta(minutes=50)))
    assert s.order() == [
        "prep_request",
        "homework_brief",
        "summary_prompt",
        "thank_you",
        "take_action",
        "follow_up",
    ]
    assert s.when("prep_request") == INVITE_AT
    assert s.when("homework_brief") == chicago(2025, 3, 11, 8, 0)
    assert s.when("summary_prompt") == END
    assert s.when("thank_you") == END + timedelta(minutes=50)  # the notes came before end + 3h
    assert s.when("take_action") == chicago(2025, 3, 13, 9, 0)
    assert s.when("follow_up") == chicago(2025, 5, 11, 11, 0)
    stay = s.row("stay_in_touch", 1)
    assert (stay.state, stay.due_at) == ("pending", chicago(2025, 9, 8, 11, 0))  # follow-up + 4 months
    assert {(x.step, x.mode) for x in s.sent} >= {("thank_you", "draft"), ("prep_request", "send")}


def test_stay_in_touch_repeats_and_a_contact_reply_restarts_its_clock() -> None:
    cfg = make_config(follow_up={"at": "end + 10d"}, stay_in_touch={"at": "follow_up + 20d", "every": "20d"})
    s = sim(cfg=cfg)
    reply = chicago(2025, 5, 1, 9, 0)
    s.run(DAYS_120, at(reply, last_contact_reply_at=reply))
    check_ins = [x for x in s.sent if x.step == "stay_in_touch"]
    first = chicago(2025, 4, 11, 11, 0)  # end + 10d + 20d
    # the reply came on the day #2 was due: #2 and the ones after it count from the reply
    restarted = [reply + timedelta(days=20 * n) for n in (1, 2, 3)]
    assert [(x.occurrence, x.at) for x in check_ins] == list(
        zip([1, 2, 3, 4], [first, *restarted], strict=True)
    )
    assert "the contact wrote on" in s.reasons("stay_in_touch", 2)[-1]
    assert s.row("stay_in_touch", 5).due_at == reply + timedelta(days=80)


def test_a_cancellation_before_the_meeting_cancels_every_pending_step() -> None:
    s = sim()
    s.run(DAYS_120, at(chicago(2025, 3, 6, 12, 0), state="cancelled"))
    assert s.order() == ["prep_request"]
    assert {r.state for r in s.rows if r.step != "prep_request"} == {"cancelled"}
    assert s.reasons("follow_up")[-1] == "the meeting was cancelled"


def test_two_reschedules_retime_the_steps_and_send_each_once() -> None:
    first_move = chicago(2025, 3, 5, 9, 0)
    second_move = chicago(2025, 3, 17, 12, 0)
    events = {
        first_move: lambda s: s.update(
            start=START + timedelta(days=7), end=END + timedelta(days=7), rescheduled_at=first_move
        ),
        second_move: lambda s: s.update(
            start=chicago(2025, 3, 18, 9, 0), end=chicago(2025, 3, 18, 10, 0), rescheduled_at=second_move
        ),
    }
    s = sim()
    s.run(DAYS_120, events)
    assert sorted(s.order()) == sorted(set(s.order()))  # nothing twice
    assert s.when("prep_request") == INVITE_AT  # not sent again after a reschedule
    # moved to tomorrow 09:00 after today's 08:00: the homework brief goes at once
    assert s.when("homework_brief") == second_move
    assert s.when("summary_prompt") == chicago(2025, 3, 18, 10, 0)
    assert s.when("take_action") == chicago(2025, 3, 19, 9, 0)
    assert s.when("follow_up") == chicago(2025, 5, 17, 10, 0)
    assert [a.kind for a in s.actions if a.step.step == "summary_prompt"] == ["add", "retime", "retime"]


def test_a_contact_reply_with_a_resume_before_the_prep_request_went_out_cancels_it() -> None:
    friday_evening = chicago(2025, 3, 7, 19, 0)  # outside the window until Monday
    resume = chicago(2025, 3, 8, 10, 0)
    facts = meeting(scheduled_at=friday_evening, start=START + timedelta(days=7), end=END + timedelta(days=7))
    s = sim(facts, now=friday_evening)
    s.run(DAYS_120, at(resume, materials_at=resume, last_contact_reply_at=resume))
    assert "prep_request" not in s.order()
    assert s.row("prep_request").state == "cancelled"
    assert s.reasons("prep_request")[-1] == "the contact already sent a résumé or work samples"
    assert "homework_brief" in s.order() and "follow_up" in s.order()


def test_a_contact_reply_with_a_resume_after_the_prep_request_changes_nothing_sent() -> None:
    resume = chicago(2025, 3, 4, 10, 0)
    s = sim()
    s.run(DAYS_120, at(resume, materials_at=resume, last_contact_reply_at=resume))
    assert s.order()[:2] == ["prep_request", "homework_brief"]
    assert s.row("prep_request").state == "sent"


def test_notes_before_the_thank_you_deadline_bring_the_thank_you_forward() -> None:
    notes = END + timedelta(hours=1)
    s = sim()
    s.run(DAYS_120, at(notes, notes_at=notes))
    assert s.when("thank_you") == notes
    assert "the owner's notes arrived" in s.reasons("thank_you")


def test_notes_during_the_meeting_make_the_summary_prompt_unneeded() -> None:
    notes = END - timedelta(minutes=5)
    s = sim()
    s.run(DAYS_120, at(notes, notes_at=notes))
    assert "summary_prompt" not in s.order()
    assert s.reasons("summary_prompt")[-1] == "the owner's notes already arrived"
    assert s.when("thank_you") == END  # not before the meeting is over


def test_notes_after_the_thank_you_deadline_leave_the_thank_you_draft_alone() -> None:
    notes = END + timedelta(hours=5)
    s = sim()
    s.run(DAYS_120, at(notes, notes_at=notes))
    assert s.when("thank_you") == END + timedelta(hours=3)
    assert [x.step for x in s.sent].count("thank_you") == 1


def test_a_late_forward_skips_the_steps_whose_moment_passed_and_keeps_the_rest() -> None:
    forwarded = END + timedelta(hours=2)
    s = sim(meeting(state="done", scheduled_at=forwarded), now=forwarded)
    s.run(DAYS_120)
    assert s.order() == ["thank_you", "take_action", "follow_up"]
    skipped = {r.step: r.state for r in s.rows if r.state == "skipped"}
    assert skipped == {"prep_request": "skipped", "homework_brief": "skipped", "summary_prompt": "skipped"}
    assert "had passed when mailflow learned of the meeting" in s.reasons("summary_prompt")[0]
    assert s.reasons("homework_brief") == ["the meeting started before it could go out"]


def test_a_forward_a_year_late_records_the_missed_check_ins_and_plans_the_next() -> None:
    forwarded = END + timedelta(days=365)
    s = sim(meeting(state="done", scheduled_at=forwarded), now=forwarded)
    s.tick()
    stays = sorted((r.occurrence, r.state) for r in s.rows if r.step == "stay_in_touch")
    assert stays == [(1, "skipped"), (2, "skipped"), (3, "pending")]
    assert s.row("stay_in_touch", 3).due_at > forwarded
    assert s.row("follow_up").state == "skipped"


def test_a_duplicate_forward_plans_nothing_new() -> None:
    s = sim()
    s.run(INVITE_AT + timedelta(days=1))
    again = plan(meeting(), s.rows, s.cfg, INVITE_AT + timedelta(days=1, hours=3))
    assert again == []
    assert len(s.rows) == 7


def test_a_request_then_its_invite() -> None:
    request_at = chicago(2025, 2, 24, 9, 0)
    request = MeetingFacts(id=7, state="requested", trusted=True)
    s = sim(request, now=request_at)
    s.run(INVITE_AT - timedelta(minutes=1))
    assert s.rows == [] and s.sent == []
    s.facts = meeting()
    s.run(DAYS_120)
    assert s.order()[0] == "prep_request" and s.when("prep_request") == INVITE_AT


def test_a_plain_request_the_owner_confirms_gets_only_the_prep_request() -> None:
    confirmed = chicago(2025, 2, 25, 10, 0)
    s = sim(MeetingFacts(id=7, state="requested", confirmed_at=confirmed), now=confirmed)
    s.run(confirmed + timedelta(days=30))
    assert s.order() == ["prep_request"] and len(s.rows) == 1


def test_an_untrusted_invite_gets_no_contact_step_until_the_owner_confirms() -> None:
    confirmed = chicago(2025, 3, 6, 16, 0)
    s = sim(meeting(trusted=False))
    s.run(DAYS_120, at(confirmed, confirmed_at=confirmed))
    assert s.when("prep_request") == confirmed  # at once once it may go
    assert s.order()[1:4] == ["homework_brief", "summary_prompt", "thank_you"]


def test_an_invite_waiting_for_confirmation_sends_nothing() -> None:
    s = sim(meeting(state="pending", scheduled_at=None))
    s.run(DAYS_120)
    assert s.sent == [] and s.rows == []


def test_without_a_counterpart_only_the_owner_hears() -> None:
    s = sim(meeting(has_counterpart=False))
    s.run(DAYS_120)
    assert s.order() == ["homework_brief", "summary_prompt", "take_action"]


def test_a_weekend_and_a_contact_in_tokyo_with_the_owner_in_chicago() -> None:
    friday = chicago(2025, 3, 7, 17, 0)  # Saturday 08:00 in Tokyo
    start = datetime(2025, 3, 11, 9, 0, tzinfo=TOKYO)  # Tuesday morning in Tokyo, Monday evening in Chicago
    facts = meeting(
        scheduled_at=friday, start=start, end=start + timedelta(hours=1), contact_timezone="Asia/Tokyo"
    )
    cfg = make_config(follow_up={"mode": "send"})
    s = sim(facts, cfg, now=friday)
    s.run(friday + timedelta(days=120))
    # held until Monday 08:00 in Tokyo, which is Sunday evening in Chicago (after its DST change)
    assert s.when("prep_request") == datetime(2025, 3, 10, 8, 0, tzinfo=TOKYO)
    assert s.when("prep_request") == chicago(2025, 3, 9, 18, 0)
    # the owner's brief: 08:00 in Chicago, the day before the meeting's start in Chicago (a Sunday)
    assert s.when("homework_brief") == chicago(2025, 3, 9, 8, 0)
    # end + 60d is Saturday 10 May in Tokyo: a sent follow-up waits for Monday 08:00 there
    assert s.when("follow_up") == datetime(2025, 5, 12, 8, 0, tzinfo=TOKYO)
    assert "held for the send window (Mon-Fri 08:00-18:00, Asia/Tokyo)" in s.reasons("follow_up")[0]


def test_a_thank_you_draft_is_not_held_by_the_window_on_a_sunday() -> None:
    start = chicago(2025, 3, 16, 10, 0)  # Sunday
    s = sim(meeting(start=start, end=start + timedelta(hours=1)))
    s.run(DAYS_120)
    assert s.when("thank_you") == start + timedelta(hours=4)


def test_a_daylight_saving_change_between_planning_and_sending() -> None:
    s = sim()
    s.tick()  # planned on 3 March, in CST (UTC-6)
    take_action = s.row("take_action")
    assert take_action.due_at == datetime(2025, 3, 13, 14, 0, tzinfo=UTC)  # 09:00 CDT (UTC-5)
    before = is_due(take_action, take_action.due_at - timedelta(minutes=1), s.cfg)
    assert (before.verdict, before.next_check) == ("wait", take_action.due_at)
    assert is_due(take_action, take_action.due_at, s.cfg).verdict == "due"
    # and back in the autumn: end + 60d keeps 11:00 on the wall clock across the fall-back
    autumn = meeting(start=chicago(2025, 9, 10, 10, 0), end=chicago(2025, 9, 10, 11, 0))
    follow = next(a for a in plan(autumn, [], s.cfg, INVITE_AT) if a.step.step == "follow_up")
    assert follow.step.due_at == chicago(2025, 11, 9, 11, 0) == datetime(2025, 11, 9, 17, 0, tzinfo=UTC)


def test_a_recurring_series_gets_steps_for_the_next_occurrence_only() -> None:
    first = chicago(2025, 3, 4, 10, 0)  # weekly on Tuesdays
    cancelled = {3}

    def next_occurrence(now: datetime) -> MeetingFacts:
        index = next(i for i in range(100) if i not in cancelled and first + timedelta(weeks=i) > now)
        start = first + timedelta(weeks=index)
        return meeting(
            recurring=True,
            occurrence=index,
            start=start,
            end=start + timedelta(hours=1),
            cancelled_occurrences=frozenset(c for c in cancelled if c < index),
        )

    s = sim(next_occurrence(INVITE_AT))
    s.facts_at = next_occurrence
    s.run(first + timedelta(weeks=5, days=3))
    assert s.order().count("prep_request") == 1
    assert "follow_up" not in s.order() and "stay_in_touch" not in s.order()
    briefs = [x.occurrence for x in s.sent if x.step == "homework_brief"]
    assert briefs == [0, 1, 2, 4, 5]  # occurrence 3 was cancelled
    assert s.when("homework_brief", 0) == INVITE_AT  # sooner than its moment: at once
    assert s.when("homework_brief", 4) == chicago(2025, 3, 31, 8, 0)
    assert {x.occurrence for x in s.sent if x.step == "take_action"} == {0, 1, 2, 4, 5}
    assert all(r.occurrence in (0, 6) or r.state != "pending" for r in s.rows)


def test_do_not_contact_cancels_every_contact_step_but_the_owner_still_hears() -> None:
    stop = END + timedelta(hours=1)
    s = sim()
    s.run(DAYS_120, at(stop, contact_do_not_contact=True))
    assert s.order() == ["prep_request", "homework_brief", "summary_prompt", "take_action"]
    for step in ("thank_you", "follow_up", "stay_in_touch"):
        occurrence = 1 if step == "stay_in_touch" else 0
        assert s.row(step, occurrence).state == "cancelled"
        assert s.reasons(step, occurrence)[-1] == "the contact asked not to be contacted"


def test_a_later_meeting_with_the_same_contact_carries_the_follow_up() -> None:
    later = OtherMeeting(id=8, start=chicago(2025, 4, 20, 10, 0))
    s = sim()
    s.run(DAYS_120, {chicago(2025, 4, 1, 9, 0): lambda x: setattr(x, "others", (later,))})
    assert "follow_up" not in s.order()
    assert s.row("follow_up").state == "cancelled"
    assert "a later meeting with this contact (8)" in s.reasons("follow_up")[-1]
    # an earlier meeting changes nothing
    earlier = OtherMeeting(id=6, start=chicago(2025, 1, 5, 10, 0))
    assert all(a.kind == "add" for a in plan(meeting(), [], s.cfg, INVITE_AT, other_meetings=[earlier]))


def test_a_step_due_while_mailflow_was_down_goes_once_unless_too_late() -> None:
    s = sim()
    s.run(END - timedelta(hours=2))
    s.now = chicago(2025, 3, 13, 16, 0)  # down for a day: end, end + 3h and take_action passed
    s.tick()
    assert [x.step for x in s.sent[-3:]] == ["summary_prompt", "thank_you", "take_action"]
    assert all(x.at == s.now for x in s.sent[-3:])
    t = sim()
    t.run(END - timedelta(hours=2))
    t.now = chicago(2025, 3, 16, 16, 0)  # down for four days: more than max_lateness (2d)
    t.tick()
    assert {t.row(step).state for step in ("summary_prompt", "thank_you", "take_action")} == {"skipped"}
    assert "more than max_lateness" in t.reasons("take_action")[-1]


def test_a_pause_holds_dispatch_and_planning_goes_on() -> None:
    s = sim()
    s.paused = True
    moved = chicago(2025, 3, 5, 9, 0)
    s.run(
        chicago(2025, 3, 11, 12, 0), at(moved, start=START + timedelta(days=7), end=END + timedelta(days=7))
    )
    assert s.sent == []
    assert s.row("summary_prompt").due_at == END + timedelta(days=7)  # re-timed while paused
    s.paused = False
    s.run(DAYS_120)
    # 57 hours of open send window missed: more than max_lateness (2d)
    assert s.row("prep_request").state == "skipped"
    assert s.order()[0] == "homework_brief"


def test_a_step_turned_off_is_cancelled_and_draft_falls_back_to_notify() -> None:
    s = sim(cfg=make_config(drafts=False))
    s.tick()
    assert s.row("thank_you").mode == "notify"
    s.cfg = make_config(drafts=True, take_action={"mode": "off"})
    s.tick()
    assert s.row("thank_you").mode == "draft"
    assert s.row("take_action").state == "cancelled"
    assert s.reasons("take_action")[-1] == 'turned off ([playbook.take_action] mode = "off")'
    s.cfg = make_config(drafts=True)
    s.tick()
    assert s.row("take_action").state == "pending"  # restored when turned back on


def test_planning_never_reads_the_clock() -> None:
    expected = plan(meeting(), [], make_config(), INVITE_AT)
    with time_machine.travel(datetime(1999, 12, 31, 23, 59, tzinfo=UTC), tick=False):
        assert plan(meeting(), [], make_config(), INVITE_AT) == expected


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        meeting(start=datetime(2025, 3, 12, 10, 0))
    with pytest.raises(ValueError, match="aware"):
        plan(meeting(), [], make_config(), datetime(2025, 3, 3, 15, 0))
