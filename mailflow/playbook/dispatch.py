"""At dispatch time: is a pending step due now, still waiting, or too late?

A pause (global or of the meeting) holds dispatch only; planning goes on, so
cancellations and reschedules are recorded while paused, and after a resume
the usual rule applies: a step more than ``max_lateness`` late is skipped with
the reason (``mailflow retry STEP`` sends it anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from mailflow.config import Settings
from mailflow.model import StepState
from mailflow.playbook.planner import as_config, when
from mailflow.playbook.rules import PlaybookConfig, SendWindow
from mailflow.playbook.timing import held_by_window, lateness, next_in_window, reader_zone
from mailflow.playbook.types import Action, Dispatch, ExistingStep


def window_for(
    step: ExistingStep, config: PlaybookConfig, contact_timezone: str | None = None
) -> tuple[SendWindow, ZoneInfo] | None:
    """The send window that holds this step, in its reader's zone; None when it is not held."""
    audience = config.steps[step.step].audience
    if not held_by_window(audience, step.mode):
        return None
    return config.window, reader_zone(audience, contact_timezone, config.owner_zone)


def is_due(
    step: ExistingStep,
    now: datetime,
    config: PlaybookConfig | Settings,
    *,
    contact_timezone: str | None = None,
    paused: bool = False,
) -> Dispatch:
    """``due`` (go now), ``wait`` (with when to look again) or ``skip`` (with the reason).

    Plan first, then dispatch: the planner is what retires preparation steps
    once their meeting has started.
    """
    cfg, now = as_config(config), now.astimezone(UTC)
    if step.state != "pending":
        return Dispatch("wait", f"the step is {step.state}, not pending")
    if paused:
        return Dispatch("wait", "paused")
    if now < step.due_at:
        return Dispatch("wait", f"due at {when(step.due_at)}", step.due_at)
    window = window_for(step, cfg, contact_timezone)
    late = lateness(step.due_at, now, window)
    if late > cfg.max_lateness:
        return Dispatch("skip", f"{_human(late)} late, more than max_lateness ({_human(cfg.max_lateness)})")
    if window is not None:
        opens = next_in_window(now, *window)
        if opens > now:
            return Dispatch("wait", f"outside the send window ({window[0].text}, {window[1].key})", opens)
    return Dispatch("due")


def _human(span: object) -> str:
    text = str(span)
    return text[:-3] if text.endswith(":00") else text


def apply_actions(existing: Sequence[ExistingStep], actions: Sequence[Action]) -> list[ExistingStep]:
    """The rows after ``actions``: the in-memory twin of what the store does with them.

    Raises ValueError for an action the rows do not allow (adding a key that
    exists, changing a row that is not in the state the action needs).
    """
    rows = {row.key: row for row in existing}
    for action in actions:
        planned, row = action.step, rows.get(action.step.key)
        if action.new:
            if row is not None:
                raise ValueError(f"{action.kind} of {planned.key}: that step is already planned")
            state: StepState = "skipped" if action.kind == "skip" else "pending"
            rows[planned.key] = ExistingStep(
                planned.step, planned.occurrence, state, planned.due_at, planned.mode
            )
            continue
        needed = "cancelled" if action.kind == "restore" else "pending"
        if row is None or row.state != needed:
            raise ValueError(f"{action.kind} of {planned.key}: the step is not {needed}")
        rows[planned.key] = _changed(row, action)
    return list(rows.values())


def _changed(row: ExistingStep, action: Action) -> ExistingStep:
    if action.kind == "cancel":
        return replace(row, state="cancelled")
    if action.kind == "skip":
        return replace(row, state="skipped")
    return replace(row, state="pending", due_at=action.step.due_at, mode=action.step.mode)
