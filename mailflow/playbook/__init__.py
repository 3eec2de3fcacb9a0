"""The playbook planner: which step goes out when, to whom, in which mode.

Pure code: no I/O, no store, no clock (``now`` is an argument).  The engine
builds :class:`MeetingFacts` and the meeting's :class:`ExistingStep` rows,
calls :func:`plan`, applies the :class:`Action` list in the store, then asks
:func:`is_due` for each pending step.

    plan(facts, existing, config, now, other_meetings=()) -> [Action]
    is_due(step, now, config, contact_timezone=None, paused=False) -> Dispatch
    apply_actions(existing, actions) -> [ExistingStep]      (the in-memory twin)
    PlaybookConfig.from_settings(settings) -> PlaybookConfig (ConfigError naming the key)

The steps are the step table's (:mod:`mailflow.steps`, carried by the settings
as ``settings.steps``); each names its planning rule, resolved in :data:`RULES`.
"""

from __future__ import annotations

from mailflow.playbook.dispatch import apply_actions, is_due, window_for
from mailflow.playbook.planner import plan
from mailflow.playbook.rules import PlaybookConfig, SendWindow, StepRule
from mailflow.playbook.step_rules import RULES, PlanningRule, once_per_series
from mailflow.playbook.timing import lateness, next_in_window, reader_zone, shift
from mailflow.playbook.types import (
    STEP_ORDER,
    Action,
    ActionKind,
    DeliveryMode,
    Dispatch,
    ExistingStep,
    MeetingFacts,
    MeetingId,
    OtherMeeting,
    PlannedStep,
    Verdict,
)

__all__ = [
    "RULES",
    "STEP_ORDER",
    "Action",
    "ActionKind",
    "DeliveryMode",
    "Dispatch",
    "ExistingStep",
    "MeetingFacts",
    "MeetingId",
    "OtherMeeting",
    "PlannedStep",
    "PlanningRule",
    "PlaybookConfig",
    "SendWindow",
    "StepRule",
    "Verdict",
    "apply_actions",
    "is_due",
    "lateness",
    "next_in_window",
    "once_per_series",
    "plan",
    "reader_zone",
    "shift",
    "window_for",
]
