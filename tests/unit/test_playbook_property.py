"""Hypothesis: for any sequence of events, the planner keeps its promises.

- no (meeting, step, occurrence) is planned twice (``apply_actions`` refuses
  to add a key that has a row) and nothing goes out twice;
- planning is idempotent (the simulator re-plans after applying and expects nothing);
- nothing goes out for a cancelled meeting, nothing reaches a do-not-contact
  contact, and no contact step goes out before the owner trusts the meeting;
- after planning, a cancelled meeting and a do-not-contact contact have nothing pending.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mailflow.model import STEP_AUDIENCE
from mailflow.playbook import MeetingFacts, OtherMeeting
from tests.unit.test_playbook_scenarios import INVITE_AT, Sim, make_config

HOURS = st.integers(min_value=1, max_value=24 * 40)
Event = tuple[str, int]

EVENTS = st.one_of(
    st.tuples(st.sampled_from(["advance", "down"]), HOURS),
    st.tuples(st.just("reschedule"), st.integers(min_value=-24 * 5, max_value=24 * 30)),
    st.tuples(st.just("later_meeting"), st.integers(min_value=-24 * 30, max_value=24 * 90)),
    st.tuples(
        st.sampled_from(
            [
                "cancel",
                "reinstate",
                "notes",
                "reply",
                "resume_sent",
                "dnc",
                "confirm",
                "pause",
                "unpause",
                "off",
            ]
        ),
        st.just(0),
    ),
)


@st.composite
def beginnings(draw: Any) -> MeetingFacts:
    start = INVITE_AT + timedelta(hours=draw(st.integers(min_value=-24 * 70, max_value=24 * 20)))
    state = draw(st.sampled_from(["scheduled", "scheduled", "requested", "pending", "done"]))
    return MeetingFacts(
        id=1,
        state=state,
        start=None if state == "requested" else start,
        end=None if state == "requested" else start + timedelta(minutes=45),
        scheduled_at=INVITE_AT if state in ("scheduled", "done") else None,
        trusted=draw(st.booleans()),
        has_counterpart=draw(st.booleans()),
        contact_timezone=draw(st.sampled_from([None, "Asia/Tokyo", "Europe/Berlin", "Mars/Olympus"])),
    )


def _event(s: Sim, kind: str, n: int) -> None:
    f = s.facts
    if kind == "advance":
        s.run(s.now + timedelta(hours=n))
        return
    if kind == "down":
        s.now += timedelta(hours=n)  # mailflow was not running
    elif kind == "reschedule" and f.start is not None:
        start = s.now + timedelta(hours=n)
        s.update(start=start, end=start + timedelta(hours=1), rescheduled_at=s.now)
    elif kind == "later_meeting":
        s.others = (OtherMeeting(id=2, start=s.now + timedelta(hours=n)),)
    elif kind == "cancel":
        s.update(state="cancelled")
    elif kind == "reinstate" and f.state in ("cancelled", "pending", "requested"):
        s.update(state="scheduled", scheduled_at=f.scheduled_at or s.now)
    elif kind in ("notes", "reply", "resume_sent"):
        field = {"notes": "notes_at", "reply": "last_contact_reply_at", "resume_sent": "materials_at"}[kind]
        s.update(**{field: s.now})
    elif kind == "dnc":
        s.update(contact_do_not_contact=True)
    elif kind == "confirm":
        s.update(confirmed_at=f.confirmed_at or s.now)
    elif kind in ("pause", "unpause"):
        s.paused = kind == "pause"
    elif kind == "off":
        s.cfg = make_config(drafts=False, thank_you={"mode": "off"}, follow_up={"mode": "send"})
    s.tick()


def _check(s: Sim) -> None:
    keys = [(x.step, x.occurrence) for x in s.sent]
    assert len(keys) == len(set(keys)), "a step went out twice"
    for sent in s.sent:
        facts = sent.facts
        assert facts is not None
        assert facts.state != "cancelled", f"{sent.step} went out for a cancelled meeting"
        if STEP_AUDIENCE[sent.step] == "contact":
            assert not facts.contact_do_not_contact, f"{sent.step} went to a do-not-contact contact"
            assert facts.has_counterpart and (facts.trusted or facts.confirmed_at)
    pending = [r for r in s.rows if r.state == "pending"]
    if s.facts.state == "cancelled":
        assert pending == []
    if s.facts.contact_do_not_contact:
        assert [r for r in pending if STEP_AUDIENCE[r.step] == "contact"] == []


@settings(max_examples=150, deadline=None)
@given(beginnings(), st.lists(EVENTS, max_size=14))
def test_any_sequence_of_events_keeps_the_promises(facts: MeetingFacts, events: list[Event]) -> None:
    s = Sim(make_config(), facts, INVITE_AT)
    s.tick()
    _check(s)
    for kind, n in events:
        _event(s, kind, n)
        _check(s)
    s.run(s.now + timedelta(days=120))
    _check(s)


@settings(max_examples=50, deadline=None)
@given(
    st.integers(min_value=0, max_value=6), st.lists(st.integers(min_value=1, max_value=24 * 5), max_size=8)
)
def test_a_recurring_series_never_plans_an_occurrence_twice(cancelled: int, hops: list[int]) -> None:
    first = INVITE_AT + timedelta(days=1)

    def next_occurrence(now: Any) -> MeetingFacts:
        index = next(i for i in range(400) if i != cancelled and first + timedelta(weeks=i) > now)
        start = first + timedelta(weeks=index)
        gone = frozenset({cancelled}) if cancelled < index else frozenset()
        base = MeetingFacts(id=1, state="scheduled", scheduled_at=INVITE_AT, trusted=True, recurring=True)
        return replace(
            base, occurrence=index, start=start, end=start + timedelta(hours=1), cancelled_occurrences=gone
        )

    s = Sim(make_config(), next_occurrence(INVITE_AT), INVITE_AT, facts_at=next_occurrence)
    for hop in hops:
        s.run(s.now + timedelta(hours=hop))
    _check(s)
    assert all(x.occurrence != cancelled or x.at < first + timedelta(weeks=cancelled) for x in s.sent)
    assert {x.step for x in s.sent} <= {
        "prep_request",
        "homework_brief",
        "summary_prompt",
        "thank_you",
        "take_action",
    }
