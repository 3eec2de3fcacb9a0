"""Which steps a meeting should have, and the actions that get its rows there.

:func:`plan` is pure and idempotent: planning again with the actions applied
returns nothing.  It only adds steps, re-times, restores, cancels or skips
*pending* (or, to restore, *cancelled*) rows; a row that is sending, sent,
uncertain, failed or skipped is never touched, and a key that has a row is
never added again.  A step whose moment falls outside the calendar (a meeting
dated 9999-12-31: "end + 60d") is treated like a step turned off: none is
added, a pending one is cancelled with the reason, and a real date restores it.

Each step is timed by the rule the step table names (:mod:`mailflow.playbook.step_rules`);
what holds for every step (turned off, the contact's block, a later meeting or
a recurring series taking it over) is decided here from the table's facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from mailflow.config import Settings
from mailflow.playbook.intent import Context, Intent, Key, Want, when
from mailflow.playbook.rules import PlaybookConfig
from mailflow.playbook.step_rules import expired, new_skip_reason, outside, rule_for
from mailflow.playbook.timing import OutOfRange
from mailflow.playbook.types import (
    Action,
    ActionKind,
    DeliveryMode,
    ExistingStep,
    MeetingFacts,
    OtherMeeting,
)
from mailflow.steps import StepSpec

__all__ = ["as_config", "plan", "when"]


def as_config(config: PlaybookConfig | Settings) -> PlaybookConfig:
    return config if isinstance(config, PlaybookConfig) else PlaybookConfig.from_settings(config)


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
    ctx = Context(facts, cfg, now, rows, scheduled or now)
    intent = _intent(ctx, scheduled, other_meetings)
    actions = [a for row in rows.values() if (a := _for_row(ctx, intent, row)) is not None]
    for key, want in intent.wants.items():
        if key not in rows and not intent.cancel_reason(key):
            actions.append(_for_new(ctx, key, want))
    return sorted(actions, key=lambda a: (cfg.steps.index(a.step.step), a.step.occurrence))


def _scheduled_anchor(facts: MeetingFacts) -> datetime | None:
    if facts.state in ("scheduled", "done"):
        return facts.scheduled_at
    if facts.state in ("requested", "pending"):
        return facts.confirmed_at  # a plain request, or a stranger's invite, that the owner confirmed
    return None


def _intent(ctx: Context, scheduled: datetime | None, others: Sequence[OtherMeeting]) -> Intent:
    steps = ctx.cfg.steps
    facts, intent = ctx.facts, Intent(frozenset(spec.name for spec in steps if spec.per == "occurrence"))
    if facts.state == "cancelled":
        intent.blanket = "the meeting was cancelled"
    elif scheduled is None:
        intent.blanket = _unscheduled_reason(facts)
    if intent.blanket:
        return intent
    intent.by_occurrence = {o: "that occurrence was cancelled or moved" for o in facts.cancelled_occurrences}
    blocked = _contact_block(facts)
    superseded = _later_meeting(facts, others)
    for spec in steps:
        step, mode = spec.name, ctx.cfg.delivery_mode(spec.name)
        if mode is None:
            intent.by_step[step] = f'turned off ([playbook.{step}] mode = "off")'
        elif blocked and spec.audience == "contact":
            intent.by_step[step] = blocked
        elif superseded and spec.later_meeting_takes_over:
            intent.by_step[step] = superseded
        elif not (facts.recurring and spec.series_takes_over):
            _plan_step(ctx, intent, spec, mode)
    return intent


def _plan_step(ctx: Context, intent: Intent, spec: StepSpec, mode: DeliveryMode) -> None:
    """One step's wants; a moment outside the calendar (a meeting in year 9999) is a reason, not a crash.

    Like a step turned off, it cancels a pending row (restored if the meeting gets a real date) and adds none.
    """
    try:
        rule_for(spec).plan(ctx, intent, spec, mode)
    except OutOfRange as exc:
        intent.by_key[ctx.key(spec)] = outside(exc)


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


# -- from wants to actions ---------------------------------------------------


def _for_new(ctx: Context, key: Key, want: Want) -> Action:
    step = ctx.planned(*key, want.due, want.mode, want.reason)
    skip = new_skip_reason(ctx, key[0], want)
    return Action("skip", step, skip, new=True) if skip else Action("add", step, want.reason, new=True)


def _for_row(ctx: Context, intent: Intent, row: ExistingStep) -> Action | None:
    want = intent.wants.get(row.key)
    if row.state == "cancelled":
        if want is None or intent.cancel_reason(row.key) or new_skip_reason(ctx, row.step, want):
            return None
        return _change(ctx, "restore", row, want)
    if row.state != "pending":
        return None
    reason = intent.cancel_reason(row.key)
    if reason:
        return _change(ctx, "cancel", row, None, reason)
    if want is None:
        current = Want(row.due_at, row.mode, "")
        late = ctx.too_late(row.step, current)
        return (
            _change(ctx, "skip", row, None, f"more than max_lateness late ({when(row.due_at)})")
            if late
            else None
        )
    return _pending_with_want(ctx, row, want)


def _pending_with_want(ctx: Context, row: ExistingStep, want: Want) -> Action | None:
    if expired(ctx, want):
        return _change(ctx, "skip", row, None, "the meeting started before it went out")
    if ctx.too_late(row.step, want):
        return _change(ctx, "skip", row, None, f"more than max_lateness late ({when(want.due)})")
    if (row.due_at, row.mode) != (want.due, want.mode):
        return _change(ctx, "retime", row, want)
    return None


def _change(ctx: Context, kind: ActionKind, row: ExistingStep, want: Want | None, reason: str = "") -> Action:
    if want is None:
        return Action(kind, ctx.planned(row.step, row.occurrence, row.due_at, row.mode, ""), reason)
    return Action(kind, ctx.planned(row.step, row.occurrence, want.due, want.mode, want.reason), want.reason)
