"""What the planning rules write into: one meeting's context, and the intent they build for it.

A rule (:mod:`mailflow.playbook.step_rules`) reads the :class:`Context` and
adds to the :class:`Intent`: the moments it wants each step key to have
(:class:`Want`), or why a key must not go out.  The planner turns the intent
into actions on the meeting's rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from mailflow.model import StepName
from mailflow.playbook.rules import PlaybookConfig, SendWindow, StepRule
from mailflow.playbook.timing import held_by_window, lateness, next_in_window, on_day_at, reader_zone, shift
from mailflow.playbook.types import DeliveryMode, ExistingStep, MeetingFacts, PlannedStep
from mailflow.steps import StepSpec

Key = tuple[StepName, int]


def when(instant: datetime) -> str:
    return f"{instant.year:04d}{instant:-%m-%d %H:%M} UTC"  # %Y drops the zeros of year 1


@dataclass(frozen=True)
class Want:
    due: datetime
    mode: DeliveryMode
    reason: str
    expires: datetime | None = None  # preparation steps: the meeting's start


@dataclass
class Intent:
    """What the rules want: rows to cancel (by meeting, occurrence, step or key) and rows to have.

    ``per_occurrence``: the steps a cancelled occurrence takes with it.
    """

    per_occurrence: frozenset[str]
    blanket: str = ""
    by_occurrence: dict[int, str] = field(default_factory=dict)
    by_step: dict[str, str] = field(default_factory=dict)
    by_key: dict[Key, str] = field(default_factory=dict)
    wants: dict[Key, Want] = field(default_factory=dict)

    def cancel_reason(self, key: Key) -> str:
        step, occurrence = key
        return (
            self.blanket
            or (self.by_occurrence.get(occurrence, "") if step in self.per_occurrence else "")
            or self.by_step.get(step, "")
            or self.by_key.get(key, "")
        )

    def put(self, key: Key, want: Want | None) -> None:
        if want is not None:
            self.wants[key] = want


@dataclass(frozen=True)
class Context:
    facts: MeetingFacts
    cfg: PlaybookConfig
    now: datetime
    rows: dict[Key, ExistingStep]
    scheduled: datetime  # the "scheduled" anchor

    def key(self, spec: StepSpec) -> Key:
        """The step's key in this plan: the meeting's occurrence, or 0 for a once-per-meeting step."""
        return (spec.name, self.facts.occurrence if spec.per == "occurrence" else 0)

    def zone(self, step: str) -> ZoneInfo:
        return reader_zone(self.cfg.steps[step].audience, self.facts.contact_timezone, self.cfg.owner_zone)

    def window(self, step: str, mode: str) -> tuple[SendWindow, ZoneInfo] | None:
        if not held_by_window(self.cfg.steps[step].audience, mode):
            return None
        return self.cfg.window, self.zone(step)

    def too_late(self, step: str, want: Want) -> bool:
        return lateness(want.due, self.now, self.window(step, want.mode)) > self.cfg.max_lateness

    def planned(
        self, step: StepName, occurrence: int, due: datetime, mode: DeliveryMode, reason: str
    ) -> PlannedStep:
        audience = self.cfg.steps[step].audience
        return PlannedStep(self.facts.id, step, occurrence, due, mode, audience, reason)


def moment(ctx: Context, rule: StepRule) -> datetime | None:
    """The rule's moment: its anchor, shifted, on its time of day; None while the anchor is unknown.

    An anchor that names a step is that step's own moment (the config refuses circles).
    """
    facts, zone = ctx.facts, ctx.zone(rule.step)
    anchors: dict[str, Callable[[], datetime | None]] = {
        "scheduled": lambda: ctx.scheduled,
        "start": lambda: facts.start,
        "end": lambda: facts.end,
        "notes": lambda: facts.notes_at,
    }
    found = anchors.get(rule.anchor)
    anchor = found() if found is not None else moment(ctx, ctx.cfg.rule(rule.anchor))
    if anchor is None:
        return None
    shifted = shift(anchor, rule.offset, zone)
    return on_day_at(shifted, rule.time_of_day, zone) if rule.time_of_day else shifted


def want(
    ctx: Context,
    step: StepName,
    mode: DeliveryMode,
    *,
    floor: datetime | None = None,
    sooner: tuple[datetime, str] | None = None,
) -> Want | None:
    """The step's due time: its moment, raised to ``floor`` (at once), lowered to ``sooner``, in the window."""
    rule = ctx.cfg.rule(step)
    found = moment(ctx, rule)
    if found is None:
        return None
    due, reason = found, rule.at + (f" at {rule.time_of_day:%H:%M}" if rule.time_of_day else "")
    if floor is not None and due < floor:
        due, reason = floor, f"at once: its moment ({reason}) had passed when the meeting was scheduled"
    if sooner is not None and sooner[0] < due:
        due, reason = sooner
    return in_window(ctx, step, mode, Want(due, mode, reason))


def in_window(ctx: Context, step: str, mode: DeliveryMode, wanted: Want) -> Want:
    window = ctx.window(step, mode)
    if window is None:
        return wanted
    held = next_in_window(wanted.due, *window)
    if held == wanted.due:
        return wanted
    why = f"{wanted.reason}; held for the send window ({window[0].text}, {window[1].key})"
    return Want(held, mode, why, wanted.expires)


def latest(*instants: datetime | None) -> datetime | None:
    present = [i for i in instants if i is not None]
    return max(present) if present else None
