"""Which steps a meeting should have, and the actions that get its rows there.

:func:`plan` is pure and idempotent: planning again with the actions applied
returns nothing.  It only adds steps, re-times, restores, cancels or skips
*pending* (or, to restore, *cancelled*) rows; a row that is sending, sent,
uncertain, failed or skipped is never touched, and a key that has a row is
never added again.  A step whose moment falls outside the calendar (a meeting
dated 9999-12-31: "end + 60d") is treated like a step turned off: none is
added, a pending one is cancelled with the reason, and a real date restores it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from mailflow.config import Settings
from mailflow.model import STEP_AUDIENCE, StepName
from mailflow.playbook.rules import PlaybookConfig, SendWindow, StepRule
from mailflow.playbook.timing import (
    OutOfRange,
    held_by_window,
    lateness,
    next_in_window,
    on_day_at,
    reader_zone,
    shift,
)
from mailflow.playbook.types import (
    STEP_ORDER,
    Action,
    ActionKind,
    DeliveryMode,
    ExistingStep,
    MeetingFacts,
    OtherMeeting,
    PlannedStep,
)

Key = tuple[StepName, int]
#: steps keyed by the meeting's occurrence (prep_request is once per meeting, stay_in_touch counts check-ins)
_PER_OCCURRENCE = frozenset({"homework_brief", "summary_prompt", "thank_you", "take_action", "follow_up"})
_STAY_CATCH_UP = 60  # missed check-ins recorded in one plan (a year-old forward needs 3)


def as_config(config: PlaybookConfig | Settings) -> PlaybookConfig:
    return config if isinstance(config, PlaybookConfig) else PlaybookConfig.from_settings(config)


def when(instant: datetime) -> str:
    return f"{instant.year:04d}{instant:-%m-%d %H:%M} UTC"  # %Y drops the zeros of year 1


@dataclass(frozen=True)
class _Want:
    due: datetime
    mode: DeliveryMode
    reason: str
    expires: datetime | None = None  # preparation steps: the meeting's start


@dataclass
class _Intent:
    """What the rules want: rows to cancel (by meeting, occurrence, step or key) and rows to have."""

    blanket: str = ""
    by_occurrence: dict[int, str] = field(default_factory=dict)
    by_step: dict[str, str] = field(default_factory=dict)
    by_key: dict[Key, str] = field(default_factory=dict)
    wants: dict[Key, _Want] = field(default_factory=dict)

    def cancel_reason(self, key: Key) -> str:
        step, occurrence = key
        return (
            self.blanket
            or (self.by_occurrence.get(occurrence, "") if step in _PER_OCCURRENCE else "")
            or self.by_step.get(step, "")
            or self.by_key.get(key, "")
        )


@dataclass(frozen=True)
class _Context:
    facts: MeetingFacts
    cfg: PlaybookConfig
    now: datetime
    rows: dict[Key, ExistingStep]
    scheduled: datetime  # the "scheduled" anchor

    def zone(self, step: str) -> ZoneInfo:
        return reader_zone(STEP_AUDIENCE[step], self.facts.contact_timezone, self.cfg.owner_zone)

    def window(self, step: str, mode: str) -> tuple[SendWindow, ZoneInfo] | None:
        if not held_by_window(STEP_AUDIENCE[step], mode):
            return None
        return self.cfg.window, self.zone(step)

    def too_late(self, step: str, want: _Want) -> bool:
        return lateness(want.due, self.now, self.window(step, want.mode)) > self.cfg.max_lateness

    def planned(
        self, step: StepName, occurrence: int, due: datetime, mode: DeliveryMode, reason: str
    ) -> PlannedStep:
        audience = STEP_AUDIENCE[step]
        return PlannedStep(self.facts.id, step, occurrence, due, mode, audience, reason)


def plan(
    facts: MeetingFacts,
    existing: Sequence[ExistingStep],
    config: PlaybookConfig | Settings,
    now: datetime,
    *,
    other_meetings: Sequence[OtherMeeting] = (),
) -> list[Action]:
    """The actions that bring this meeting's step rows in line with the playbook.

    ``existing``: every step row of this meeting (all occurrences, all states).
    ``other_meetings``: the contact's other live meetings; a later one carries
    the follow-up and the check-ins, so this meeting's are cancelled.
    """
    if now.tzinfo is None:
        raise ValueError(f"now must be an aware datetime, got {now}")
    cfg, now = as_config(config), now.astimezone(UTC)
    rows = {row.key: row for row in existing}
    scheduled = _scheduled_anchor(facts)
    ctx = _Context(facts, cfg, now, rows, scheduled or now)
    intent = _intent(ctx, scheduled, other_meetings)
    actions = [a for row in rows.values() if (a := _for_row(ctx, intent, row)) is not None]
    for key, want in intent.wants.items():
        if key not in rows and not intent.cancel_reason(key):
            actions.append(_for_new(ctx, key, want))
    return sorted(actions, key=lambda a: (STEP_ORDER.index(a.step.step), a.step.occurrence))


def _scheduled_anchor(facts: MeetingFacts) -> datetime | None:
    if facts.state in ("scheduled", "done"):
        return facts.scheduled_at
    if facts.state in ("requested", "pending"):
        return facts.confirmed_at  # a plain request, or a stranger's invite, that the owner confirmed
    return None


def _intent(ctx: _Context, scheduled: datetime | None, others: Sequence[OtherMeeting]) -> _Intent:
    facts, intent = ctx.facts, _Intent()
    if facts.state == "cancelled":
        intent.blanket = "the meeting was cancelled"
    elif scheduled is None:
        intent.blanket = _unscheduled_reason(facts)
    if intent.blanket:
        return intent
    intent.by_occurrence = {o: "that occurrence was cancelled or moved" for o in facts.cancelled_occurrences}
    blocked = _contact_block(facts)
    superseded = _later_meeting(facts, others)
    for step in STEP_ORDER:
        mode = ctx.cfg.delivery_mode(step)
        if mode is None:
            intent.by_step[step] = f'turned off ([playbook.{step}] mode = "off")'
        elif blocked and STEP_AUDIENCE[step] == "contact":
            intent.by_step[step] = blocked
        elif superseded and step in ("follow_up", "stay_in_touch"):
            intent.by_step[step] = superseded
        elif not (facts.recurring and step in ("follow_up", "stay_in_touch")):
            _plan_step(ctx, intent, step, mode)
    return intent


def _plan_step(ctx: _Context, intent: _Intent, step: StepName, mode: DeliveryMode) -> None:
    """One step's wants; a moment outside the calendar (a meeting in year 9999) is a reason, not a crash.

    Like a step turned off, it cancels a pending row (restored if the meeting gets a real date) and adds none.
    """
    try:
        _PLANNERS[step](ctx, intent, mode)
    except OutOfRange as exc:
        occurrence = ctx.facts.occurrence if step in _PER_OCCURRENCE else 0
        intent.by_key[(step, occurrence)] = _outside(exc)


def _outside(exc: OutOfRange) -> str:
    return f"its moment cannot be planned: {exc}"


def _unscheduled_reason(facts: MeetingFacts) -> str:
    if facts.state == "pending":
        return "the invite waits for the owner's confirmation"
    return "the meeting is a request without an invite or the owner's confirmation"


def _contact_block(facts: MeetingFacts) -> str:
    """Why nothing may go to the contact now ("" when it may)."""
    if facts.contact_do_not_contact:
        return "the contact asked not to be contacted"
    if not facts.has_counterpart:
        return "waiting for the owner to choose whom the meeting is with"
    if not (facts.trusted or facts.confirmed_at):
        return "waiting for the owner to confirm this invite"
    return ""


def _later_meeting(facts: MeetingFacts, others: Sequence[OtherMeeting]) -> str:
    """A later meeting with the contact restarts the timeline: it carries the nudges."""
    if facts.start is None:
        return ""
    mine = (facts.start, str(facts.id))
    later = [o for o in others if o.id != facts.id and (o.start, str(o.id)) > mine]
    return f"a later meeting with this contact ({later[0].id}) carries the follow-up" if later else ""


# -- one function per step ---------------------------------------------------


def _moment(ctx: _Context, rule: StepRule) -> datetime | None:
    """The rule's moment: its anchor, shifted, on its time of day; None while the anchor is unknown."""
    facts, zone = ctx.facts, ctx.zone(rule.step)
    anchors: dict[str, Callable[[], datetime | None]] = {
        "scheduled": lambda: ctx.scheduled,
        "start": lambda: facts.start,
        "end": lambda: facts.end,
        "notes": lambda: facts.notes_at,
        "follow_up": lambda: _moment(ctx, ctx.cfg.rule("follow_up")),
    }
    anchor = anchors[rule.anchor]()
    if anchor is None:
        return None
    moment = shift(anchor, rule.offset, zone)
    return on_day_at(moment, rule.time_of_day, zone) if rule.time_of_day else moment


def _want(
    ctx: _Context,
    step: StepName,
    mode: DeliveryMode,
    *,
    floor: datetime | None = None,
    sooner: tuple[datetime, str] | None = None,
) -> _Want | None:
    """The step's due time: its moment, raised to ``floor`` (at once), lowered to ``sooner``, in the window."""
    rule = ctx.cfg.rule(step)
    moment = _moment(ctx, rule)
    if moment is None:
        return None
    due, reason = moment, rule.at + (f" at {rule.time_of_day:%H:%M}" if rule.time_of_day else "")
    if floor is not None and due < floor:
        due, reason = floor, f"at once: its moment ({reason}) had passed when the meeting was scheduled"
    if sooner is not None and sooner[0] < due:
        due, reason = sooner
    return _in_window(ctx, step, mode, _Want(due, mode, reason))


def _in_window(ctx: _Context, step: str, mode: DeliveryMode, want: _Want) -> _Want:
    window = ctx.window(step, mode)
    if window is None:
        return want
    held = next_in_window(want.due, *window)
    if held == want.due:
        return want
    why = f"{want.reason}; held for the send window ({window[0].text}, {window[1].key})"
    return _Want(held, mode, why, want.expires)


def _latest(*instants: datetime | None) -> datetime | None:
    present = [i for i in instants if i is not None]
    return max(present) if present else None


def _put(intent: _Intent, step: StepName, occurrence: int, want: _Want | None) -> None:
    if want is not None:
        intent.wants[(step, occurrence)] = want


def _prep_request(ctx: _Context, intent: _Intent, mode: DeliveryMode) -> None:
    facts = ctx.facts
    if facts.materials_at is not None:
        intent.by_key[("prep_request", 0)] = "the contact already sent a résumé or work samples"
        return
    floor = _latest(ctx.scheduled, facts.rescheduled_at, facts.confirmed_at)
    want = _want(ctx, "prep_request", mode, floor=floor)
    _put(intent, "prep_request", 0, _expiring(want, facts.start))


def _homework_brief(ctx: _Context, intent: _Intent, mode: DeliveryMode) -> None:
    facts = ctx.facts
    want = _want(ctx, "homework_brief", mode, floor=_latest(ctx.scheduled, facts.rescheduled_at))
    _put(intent, "homework_brief", facts.occurrence, _expiring(want, facts.start))


def _expiring(want: _Want | None, start: datetime | None) -> _Want | None:
    return None if want is None else _Want(want.due, want.mode, want.reason, start)


def _notes_for_this(facts: MeetingFacts) -> datetime | None:
    """The notes' arrival, when they can be about this meeting (not before it started)."""
    if facts.notes_at is None or (facts.start is not None and facts.notes_at < facts.start):
        return None
    return facts.notes_at


def _summary_prompt(ctx: _Context, intent: _Intent, mode: DeliveryMode) -> None:
    key: Key = ("summary_prompt", ctx.facts.occurrence)
    if _notes_for_this(ctx.facts) is not None:
        intent.by_key[key] = "the owner's notes already arrived"
        return
    _put(intent, *key, _want(ctx, "summary_prompt", mode))


def _thank_you(ctx: _Context, intent: _Intent, mode: DeliveryMode) -> None:
    facts, notes = ctx.facts, _notes_for_this(ctx.facts)
    sooner = None
    if notes is not None and ctx.cfg.rule("thank_you").anchor != "notes":
        sooner = (_latest(notes, facts.end) or notes, "the owner's notes arrived")
    _put(intent, "thank_you", facts.occurrence, _want(ctx, "thank_you", mode, sooner=sooner))


def _take_action(ctx: _Context, intent: _Intent, mode: DeliveryMode) -> None:
    _put(intent, "take_action", ctx.facts.occurrence, _want(ctx, "take_action", mode))


def _follow_up(ctx: _Context, intent: _Intent, mode: DeliveryMode) -> None:
    _put(intent, "follow_up", ctx.facts.occurrence, _want(ctx, "follow_up", mode))


def _stay_in_touch(ctx: _Context, intent: _Intent, mode: DeliveryMode) -> None:
    """The next check-in only; missed ones are recorded as skipped on the way."""
    done = {
        row.occurrence: row
        for row in ctx.rows.values()
        if row.step == "stay_in_touch" and (row.state not in ("pending", "cancelled") or _lost(ctx, row))
    }
    number = max(done, default=0) + 1
    previous = done[number - 1].due_at if number > 1 else None
    for _ in range(_STAY_CATCH_UP):
        try:
            want = _check_in(ctx, mode, previous)
        except OutOfRange as exc:
            intent.by_key[("stay_in_touch", number)] = _outside(exc)
            return
        if want is None:
            return
        intent.wants[("stay_in_touch", number)] = want
        if ("stay_in_touch", number) in ctx.rows or not _new_skip_reason(ctx, "stay_in_touch", want):
            return
        previous, number = want.due, number + 1


def _lost(ctx: _Context, row: ExistingStep) -> bool:
    """A check-in too late to restore or send (this plan skips it): the clock moves past it."""
    return ctx.too_late(row.step, _Want(row.due_at, row.mode, ""))


def _check_in(ctx: _Context, mode: DeliveryMode, previous: datetime | None) -> _Want | None:
    zone, every = ctx.zone("stay_in_touch"), ctx.cfg.stay_every
    if previous is None:
        base = _want(ctx, "stay_in_touch", mode)
        if base is None:
            return None
        due, reason = base.due, base.reason
    else:
        due, reason = shift(previous, every, zone), "the previous check-in + every"
    reply = ctx.facts.last_contact_reply_at
    if reply is not None and shift(reply, every, zone) > due:
        due, reason = shift(reply, every, zone), f"the contact wrote on {when(reply)}; + every"
    return _in_window(ctx, "stay_in_touch", mode, _Want(due, mode, reason))


_PLANNERS: dict[str, Callable[[_Context, _Intent, DeliveryMode], None]] = {
    "prep_request": _prep_request,
    "homework_brief": _homework_brief,
    "summary_prompt": _summary_prompt,
    "thank_you": _thank_you,
    "take_action": _take_action,
    "follow_up": _follow_up,
    "stay_in_touch": _stay_in_touch,
}


# -- from wants to actions ---------------------------------------------------


def _expired(ctx: _Context, want: _Want) -> bool:
    return want.expires is not None and (ctx.now >= want.expires or want.due >= want.expires)


def _new_skip_reason(ctx: _Context, step: str, want: _Want) -> str:
    """Why a step that has no row yet is recorded as skipped instead of planned ("" if it is not)."""
    if _expired(ctx, want):
        return "the meeting started before it could go out"
    if want.due < ctx.scheduled:
        return f"its moment ({when(want.due)}) had passed when mailflow learned of the meeting"
    if ctx.too_late(step, want):
        return f"its moment ({when(want.due)}) is more than max_lateness ago"
    return ""


def _for_new(ctx: _Context, key: Key, want: _Want) -> Action:
    step = ctx.planned(*key, want.due, want.mode, want.reason)
    skip = _new_skip_reason(ctx, key[0], want)
    return Action("skip", step, skip, new=True) if skip else Action("add", step, want.reason, new=True)


def _for_row(ctx: _Context, intent: _Intent, row: ExistingStep) -> Action | None:
    want = intent.wants.get(row.key)
    if row.state == "cancelled":
        if want is None or intent.cancel_reason(row.key) or _new_skip_reason(ctx, row.step, want):
            return None
        return _change(ctx, "restore", row, want)
    if row.state != "pending":
        return None
    reason = intent.cancel_reason(row.key)
    if reason:
        return _change(ctx, "cancel", row, None, reason)
    if want is None:
        current = _Want(row.due_at, row.mode, "")
        late = ctx.too_late(row.step, current)
        return (
            _change(ctx, "skip", row, None, f"more than max_lateness late ({when(row.due_at)})")
            if late
            else None
        )
    return _pending_with_want(ctx, row, want)


def _pending_with_want(ctx: _Context, row: ExistingStep, want: _Want) -> Action | None:
    if _expired(ctx, want):
        return _change(ctx, "skip", row, None, "the meeting started before it went out")
    if ctx.too_late(row.step, want):
        return _change(ctx, "skip", row, None, f"more than max_lateness late ({when(want.due)})")
    if (row.due_at, row.mode) != (want.due, want.mode):
        return _change(ctx, "retime", row, want)
    return None


def _change(
    ctx: _Context, kind: ActionKind, row: ExistingStep, want: _Want | None, reason: str = ""
) -> Action:
    if want is None:
        return Action(kind, ctx.planned(row.step, row.occurrence, row.due_at, row.mode, ""), reason)
    return Action(kind, ctx.planned(row.step, row.occurrence, want.due, want.mode, want.reason), want.reason)
