"""The planning rules, by the names the step table gives them.

Most steps are ``"at"``: the moment of their ``at`` (an anchor plus an
offset, on their time of day).  A step that *prepares* the meeting is also
due at once when its moment had passed when the meeting was scheduled, and
expires when the meeting starts.  The others add one fact of their own:

- ``"ask_for_materials"``: not needed once the contact sent a résumé or work
  samples; a recurring series asks once;
- ``"prompt_for_notes"``: not needed once the owner's notes of this occurrence came;
- ``"sooner_with_notes"``: due as soon as the owner's notes come, if that is sooner;
- ``"check_ins"``: repeats ``every``, numbered 1, 2, 3, ...; a reply from the
  contact restarts the clock, and check-ins missed while mailflow was away are
  recorded as skipped on the way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from mailflow.playbook.intent import Context, Intent, Want, in_window, latest, want, when
from mailflow.playbook.timing import OutOfRange, shift
from mailflow.playbook.types import DeliveryMode, ExistingStep, MeetingFacts
from mailflow.steps import StepRegistry, StepSpec

_STAY_CATCH_UP = 60  # missed check-ins recorded in one plan (a year-old forward needs 3)

Plan = Callable[[Context, Intent, StepSpec, DeliveryMode], None]


@dataclass(frozen=True)
class PlanningRule:
    """How a step is timed; ``once_per_series``: one for a whole recurring series, not per meeting row."""

    plan: Plan
    once_per_series: bool = False


def outside(exc: OutOfRange) -> str:
    return f"its moment cannot be planned: {exc}"


def _at(
    ctx: Context,
    intent: Intent,
    spec: StepSpec,
    mode: DeliveryMode,
    sooner: tuple[datetime, str] | None = None,
) -> None:
    """The anchor plus the offset; a preparation step is raised to "at once" and expires at the start."""
    facts = ctx.facts
    if not spec.prepares:
        intent.put(ctx.key(spec), want(ctx, spec.name, mode, sooner=sooner))
        return
    confirmed = facts.confirmed_at if spec.audience == "contact" else None  # no mail to them before it
    floor = latest(ctx.scheduled, facts.rescheduled_at, confirmed)
    wanted = want(ctx, spec.name, mode, floor=floor, sooner=sooner)
    intent.put(ctx.key(spec), None if wanted is None else Want(wanted.due, mode, wanted.reason, facts.start))


def _ask_for_materials(ctx: Context, intent: Intent, spec: StepSpec, mode: DeliveryMode) -> None:
    if ctx.facts.materials_at is not None:
        intent.by_key[ctx.key(spec)] = "the contact already sent a résumé or work samples"
        return
    _at(ctx, intent, spec, mode)


def notes_for_this(facts: MeetingFacts) -> datetime | None:
    """The notes' arrival, when they can be about this meeting (not before it started)."""
    if facts.notes_at is None or (facts.start is not None and facts.notes_at < facts.start):
        return None
    return facts.notes_at


def _prompt_for_notes(ctx: Context, intent: Intent, spec: StepSpec, mode: DeliveryMode) -> None:
    if notes_for_this(ctx.facts) is not None:
        intent.by_key[ctx.key(spec)] = "the owner's notes already arrived"
        return
    _at(ctx, intent, spec, mode)


def _sooner_with_notes(ctx: Context, intent: Intent, spec: StepSpec, mode: DeliveryMode) -> None:
    facts, notes = ctx.facts, notes_for_this(ctx.facts)
    sooner = None
    if notes is not None and ctx.cfg.rule(spec.name).anchor != "notes":
        sooner = (latest(notes, facts.end) or notes, "the owner's notes arrived")
    _at(ctx, intent, spec, mode, sooner)


def _check_ins(ctx: Context, intent: Intent, spec: StepSpec, mode: DeliveryMode) -> None:
    """The next check-in only; missed ones are recorded as skipped on the way."""
    name = spec.name
    done = {
        row.occurrence: row
        for row in ctx.rows.values()
        if row.step == name and (row.state not in ("pending", "cancelled") or _lost(ctx, row))
    }
    number = max(done, default=0) + 1
    previous = done[number - 1].due_at if number > 1 else None
    for _ in range(_STAY_CATCH_UP):
        try:
            wanted = _check_in(ctx, name, mode, previous)
        except OutOfRange as exc:
            intent.by_key[(name, number)] = outside(exc)
            return
        if wanted is None:
            return
        intent.wants[(name, number)] = wanted
        if (name, number) in ctx.rows or not new_skip_reason(ctx, name, wanted):
            return
        previous, number = wanted.due, number + 1


def _lost(ctx: Context, row: ExistingStep) -> bool:
    """A check-in too late to restore or send (this plan skips it): the clock moves past it."""
    return ctx.too_late(row.step, Want(row.due_at, row.mode, ""))


def _check_in(ctx: Context, name: str, mode: DeliveryMode, previous: datetime | None) -> Want | None:
    zone, every = ctx.zone(name), ctx.cfg.rule(name).every
    assert every is not None  # rule_problems: a check-in step has an `every`
    if previous is None:
        base = want(ctx, name, mode)
        if base is None:
            return None
        due, reason = base.due, base.reason
    else:
        due, reason = shift(previous, every, zone), "the previous check-in + every"
    reply = ctx.facts.last_contact_reply_at
    if reply is not None and shift(reply, every, zone) > due:
        due, reason = shift(reply, every, zone), f"the contact wrote on {when(reply)}; + every"
    return in_window(ctx, name, mode, Want(due, mode, reason))


def expired(ctx: Context, wanted: Want) -> bool:
    return wanted.expires is not None and (ctx.now >= wanted.expires or wanted.due >= wanted.expires)


def new_skip_reason(ctx: Context, step: str, wanted: Want) -> str:
    """Why a step that has no row yet is recorded as skipped instead of planned ("" if it is not)."""
    if expired(ctx, wanted):
        return "the meeting started before it could go out"
    if wanted.due < ctx.scheduled:
        return f"its moment ({when(wanted.due)}) had passed when mailflow learned of the meeting"
    if ctx.too_late(step, wanted):
        return f"its moment ({when(wanted.due)}) is more than max_lateness ago"
    return ""


RULES: dict[str, PlanningRule] = {
    "at": PlanningRule(_at),
    "ask_for_materials": PlanningRule(_ask_for_materials, once_per_series=True),
    "prompt_for_notes": PlanningRule(_prompt_for_notes),
    "sooner_with_notes": PlanningRule(_sooner_with_notes),
    "check_ins": PlanningRule(_check_ins),
}


def rule_for(spec: StepSpec) -> PlanningRule:
    return RULES[spec.rule]


def once_per_series(steps: StepRegistry) -> frozenset[str]:
    """The steps a recurring series has once, whichever of its meetings' mail came first."""
    return frozenset(spec.name for spec in steps if RULES[spec.rule].once_per_series)


def rule_problems(steps: StepRegistry) -> list[str]:
    """Step-table rows that name no rule, or a rule they cannot use."""
    problems = []
    for spec in steps:
        if spec.rule not in RULES:
            problems.append(
                f"step {spec.name}: no planning rule is called {spec.rule!r} (the rules: {', '.join(RULES)})"
            )
        elif (spec.rule == "check_ins") != bool(spec.every):
            problems.append(f'step {spec.name}: the rule "check_ins" and `every` go together')
    return problems
