"""``[playbook.<step>]`` and ``[sending]`` turned into the planner's rules.

Built once from :class:`~mailflow.config.Settings`; every problem becomes one
:class:`~mailflow.errors.ConfigError` line naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta
from zoneinfo import ZoneInfo

from mailflow.config import (
    Mode,
    PlaybookSettings,
    Settings,
    StepSettings,
    parse_at,
    parse_clock_time,
    parse_duration,
    parse_window,
)
from mailflow.errors import ConfigError
from mailflow.model import StepName
from mailflow.playbook.types import STEP_ORDER, DeliveryMode

#: preparation steps: they go out before the meeting or not at all
BEFORE_MEETING: frozenset[str] = frozenset({"prep_request", "homework_brief"})


@dataclass(frozen=True)
class StepRule:
    """One ``[playbook.<step>]`` table, parsed."""

    step: StepName
    mode: Mode
    at: str
    anchor: str
    offset: timedelta
    time_of_day: time | None


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
    """Everything the planner reads from the configuration."""

    rules: tuple[StepRule, ...]
    owner_zone: ZoneInfo
    window: SendWindow
    max_lateness: timedelta
    stay_every: timedelta
    has_drafts_account: bool

    @classmethod
    def from_settings(cls, settings: Settings, *, has_drafts_account: bool | None = None) -> PlaybookConfig:
        """Parse and cross-check; ``has_drafts_account`` defaults to "a [drafts] table exists"."""
        problems: list[str] = []
        rules = tuple(_rule(step, settings.playbook, problems) for step in STEP_ORDER)
        every = parse_duration(settings.playbook.stay_in_touch.every)
        if every < timedelta(days=1):
            got = settings.playbook.stay_in_touch.every
            problems.append(f'playbook.stay_in_touch.every: must be at least "1d", got "{got}"')
        if problems:
            raise ConfigError(problems)
        drafts = settings.drafts is not None if has_drafts_account is None else has_drafts_account
        return cls(
            rules=rules,
            owner_zone=ZoneInfo(settings.owner.timezone),
            window=SendWindow.parse(settings.sending.window),
            max_lateness=parse_duration(settings.sending.max_lateness),
            stay_every=every,
            has_drafts_account=drafts,
        )

    def rule(self, step: str) -> StepRule:
        return self.rules[STEP_ORDER.index(step)]

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


def _rule(step: StepName, playbook: PlaybookSettings, problems: list[str]) -> StepRule:
    table: StepSettings = getattr(playbook, step)
    key = f"playbook.{step}"
    at = table.at or getattr(PlaybookSettings(), step).at
    anchor, offset = "scheduled", timedelta(0)
    try:
        anchor, offset = parse_at(at)
    except ValueError as exc:
        problems.append(f"{key}.at: {exc}")
    problems.extend(f"{key}.at: {p}" for p in _anchor_problems(step, anchor, offset, at))
    tod = None
    try:
        tod = parse_clock_time(table.time_of_day) if table.time_of_day else None
    except ValueError as exc:
        problems.append(f"{key}.time_of_day: {exc}")
    return StepRule(step, table.mode, at, anchor, offset, tod)


def _anchor_problems(step: str, anchor: str, offset: timedelta, at: str) -> list[str]:
    if step == "follow_up" and anchor == "follow_up":
        return [f'follow_up cannot be anchored on itself, got "{at}" (try "end + 60d")']
    if step in BEFORE_MEETING and not (
        anchor == "scheduled" or (anchor == "start" and offset <= timedelta(0))
    ):
        return [f'{step} prepares the meeting: use "scheduled" or "start - <duration>", got "{at}"']
    return []
