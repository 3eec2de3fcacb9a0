"""``[playbook.<step>]`` and ``[sending]`` turned into the planner's rules.

Built once from :class:`~mailflow.config.Settings`; every problem becomes one
:class:`~mailflow.errors.ConfigError` line naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta
from zoneinfo import ZoneInfo

from mailflow.config import (
    Settings,
    StepSettings,
    parse_at,
    parse_clock_time,
    parse_duration,
    parse_window,
)
from mailflow.errors import ConfigError
from mailflow.model import StepName
from mailflow.playbook.types import DeliveryMode
from mailflow.steps import Mode, StepRegistry, StepSpec


@dataclass(frozen=True)
class StepRule:
    """One ``[playbook.<step>]`` table, parsed; ``every``: how often a repeating step repeats."""

    step: StepName
    mode: Mode
    at: str
    anchor: str
    offset: timedelta
    time_of_day: time | None
    every: timedelta | None = None


@dataclass(frozen=True)
class SendWindow:
    """``[sending] window``: weekdays (0 = Monday) and opening hours, read in the reader's zone."""

    days: frozenset[int]
    opens: time
    closes: time
    text: str

    @classmethod
    def parse(cls, text: str) -> SendWindow:
        days, opens, closes = parse_window(text)
        return cls(frozenset(days), opens, closes, text.strip())


@dataclass(frozen=True)
class PlaybookConfig:
    """Everything the planner reads from the configuration, and the step table it plans."""

    rules: tuple[StepRule, ...]
    owner_zone: ZoneInfo
    window: SendWindow
    max_lateness: timedelta
    has_drafts_account: bool
    steps: StepRegistry

    @classmethod
    def from_settings(cls, settings: Settings, *, has_drafts_account: bool | None = None) -> PlaybookConfig:
        """Parse and cross-check; ``has_drafts_account`` defaults to "a [drafts] table exists"."""
        from mailflow.playbook.step_rules import rule_problems  # the rules plan with this class

        steps, problems = settings.steps, rule_problems(settings.steps)
        rules = tuple(_rule(spec, settings.playbook.table(spec.name), steps, problems) for spec in steps)
        problems += _circles(rules, steps)
        if problems:
            raise ConfigError(problems)
        drafts = settings.drafts is not None if has_drafts_account is None else has_drafts_account
        return cls(
            rules=rules,
            owner_zone=ZoneInfo(settings.owner.timezone),
            window=SendWindow.parse(settings.sending.window),
            max_lateness=parse_duration(settings.sending.max_lateness),
            has_drafts_account=drafts,
            steps=steps,
        )

    def rule(self, step: str) -> StepRule:
        return self.rules[self.steps.index(step)]

    @property
    def stay_every(self) -> timedelta:
        """How often the check-ins repeat: the first repeating step's ``every`` (0 when none repeats)."""
        return next((rule.every for rule in self.rules if rule.every is not None), timedelta(0))

    def delivery_mode(self, step: str) -> DeliveryMode | None:
        """The mode a step goes out in; None when it is turned off.

        A draft needs a ``[drafts]`` account; without one it goes to the owner as notify.
        """
        mode = self.rule(step).mode
        if mode == "off":
            return None
        if mode == "draft" and not self.has_drafts_account:
            return "notify"
        return mode


def _rule(spec: StepSpec, table: StepSettings, steps: StepRegistry, problems: list[str]) -> StepRule:
    key = f"playbook.{spec.name}"
    at = table.at or spec.at
    anchor, offset = "scheduled", timedelta(0)
    try:
        anchor, offset = parse_at(at, steps.anchors)
    except ValueError as exc:
        problems.append(f"{key}.at: {exc}")
    problems.extend(f"{key}.at: {p}" for p in _anchor_problems(spec, anchor, offset, at))
    tod = None
    try:
        tod = parse_clock_time(table.time_of_day) if table.time_of_day else None
    except ValueError as exc:
        problems.append(f"{key}.time_of_day: {exc}")
    return StepRule(spec.name, table.mode, at, anchor, offset, tod, _every(spec, table, problems))


def _every(spec: StepSpec, table: StepSettings, problems: list[str]) -> timedelta | None:
    text = getattr(table, "every", None)
    if not spec.every or not isinstance(text, str):
        return None
    every = parse_duration(text)
    if every < timedelta(days=1):
        problems.append(f'playbook.{spec.name}.every: must be at least "1d", got "{text}"')
    return every


def _anchor_problems(spec: StepSpec, anchor: str, offset: timedelta, at: str) -> list[str]:
    if anchor == spec.name:
        return [f'{spec.name} cannot be anchored on itself, got "{at}" (try "{spec.at}")']
    if spec.prepares and not (anchor == "scheduled" or (anchor == "start" and offset <= timedelta(0))):
        return [f'{spec.name} prepares the meeting: use "scheduled" or "start - <duration>", got "{at}"']
    return []


def _circles(rules: tuple[StepRule, ...], steps: StepRegistry) -> list[str]:
    """Steps timed from each other in a circle (a from b, b from a): none of them has a moment."""
    anchored = {rule.step: rule.anchor for rule in rules if rule.anchor in steps and rule.anchor != rule.step}
    problems = []
    for step in anchored:
        seen, current = [step], anchored[step]
        while current in anchored and current not in seen:
            seen.append(current)
            current = anchored[current]
        if current == step:
            chain = " -> ".join([*seen, step])
            problems.append(f"playbook.{step}.at: the steps are timed from each other in a circle ({chain})")
    return problems
