"""The planner's inputs and outputs: frozen dataclasses, no behaviour.

A step is keyed ``(meeting, step, occurrence)``.  ``occurrence`` is the
meeting's occurrence (0 for a single meeting, the caller's number for the
next occurrence of a recurring series) except for ``stay_in_touch``, whose
check-ins are numbered 1, 2, 3, ...
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Literal

from mailflow.model import MeetingState, StepName, StepState
from mailflow.steps import DEFAULT_STEPS, Audience

MeetingId = int | str
DeliveryMode = Literal["send", "draft", "notify"]
ActionKind = Literal["add", "retime", "restore", "cancel", "skip"]
Verdict = Literal["wait", "due", "skip"]

STEP_ORDER: tuple[StepName, ...] = DEFAULT_STEPS.names  # the default routine's order


def _require_aware(obj: object) -> None:
    """Refuse naive datetimes and store aware ones in UTC.

    Python adds and compares two datetimes that share a ZoneInfo on the wall
    clock, which is wrong across a DST change; in UTC it is always right.
    """
    for item in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, item.name)
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"{type(obj).__name__}.{item.name} must be an aware datetime, got {value}")
            object.__setattr__(obj, item.name, value.astimezone(UTC))


@dataclass(frozen=True)
class MeetingFacts:
    """What the planner needs to know about one meeting (all datetimes aware).

    ``start``/``end``: the meeting, or for a recurring series its next
    occurrence (numbered ``occurrence``); None for a plain request.
    ``scheduled_at``: when mailflow first recorded it as scheduled (the
    ``scheduled`` anchor; a reschedule does not change it).
    ``rescheduled_at``: when its times last changed.
    ``trusted``: the owner's own forward or invite; ``confirmed_at``: when the
    owner confirmed an untrusted one (or a plain request) with ``mailflow confirm``.
    ``notes_at``: when the owner's notes arrived; ``materials_at``: when the
    contact sent a résumé or work samples; ``last_contact_reply_at``: the
    contact's latest reply (restarts the stay-in-touch clock).
    ``cancelled_occurrences``: occurrences of a series that were cancelled, or that this row no longer
    stands for because later mail moved them (they have a meeting row of their own).
    """

    id: MeetingId
    state: MeetingState
    start: datetime | None = None
    end: datetime | None = None
    scheduled_at: datetime | None = None
    rescheduled_at: datetime | None = None
    trusted: bool = False
    confirmed_at: datetime | None = None
    has_counterpart: bool = True
    contact_do_not_contact: bool = False
    contact_timezone: str | None = None
    notes_at: datetime | None = None
    materials_at: datetime | None = None
    last_contact_reply_at: datetime | None = None
    recurring: bool = False
    occurrence: int = 0
    cancelled_occurrences: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        _require_aware(self)
        if self.state in ("scheduled", "done") and self.scheduled_at is None:
            raise ValueError(f"MeetingFacts.scheduled_at is required for a {self.state} meeting")
        if (self.start is None) != (self.end is None):
            raise ValueError("MeetingFacts.start and .end come together (both or neither)")


@dataclass(frozen=True)
class OtherMeeting:
    """Another live (not cancelled) meeting with the same contact."""

    id: MeetingId
    start: datetime

    def __post_init__(self) -> None:
        _require_aware(self)


@dataclass(frozen=True)
class ExistingStep:
    """A step row of this meeting as the store holds it."""

    step: StepName
    occurrence: int
    state: StepState
    due_at: datetime
    mode: DeliveryMode

    def __post_init__(self) -> None:
        _require_aware(self)

    @property
    def key(self) -> tuple[StepName, int]:
        return (self.step, self.occurrence)


@dataclass(frozen=True)
class PlannedStep:
    """A step as the planner wants it: when, how and to whom; ``reason`` says why then."""

    meeting_id: MeetingId
    step: StepName
    occurrence: int
    due_at: datetime
    mode: DeliveryMode
    audience: Audience
    reason: str = ""

    @property
    def key(self) -> tuple[StepName, int]:
        return (self.step, self.occurrence)


@dataclass(frozen=True)
class Action:
    """One change to the meeting's step rows.

    - ``add``: insert ``step`` as pending (``new`` is always True).
    - ``retime``: a pending row gets ``step.due_at`` and ``step.mode``.
    - ``restore``: a cancelled row becomes pending again with ``step.due_at`` and ``step.mode``.
    - ``cancel``: a pending row becomes cancelled, for ``reason``.
    - ``skip``: a pending row becomes skipped, for ``reason``; with ``new`` the
      key has no row yet and is inserted as skipped (its moment passed before it
      could be planned), so it is recorded, never silently dropped.

    ``reason``: for add, retime and restore why the step is due then (also
    ``step.reason``); for cancel and skip why it will not go out.

    Apply each change only while the row is still in the state named above
    (``UPDATE ... WHERE state = 'pending'``), so a dispatch that won the race wins.
    """

    kind: ActionKind
    step: PlannedStep
    reason: str = ""
    new: bool = False


@dataclass(frozen=True)
class Dispatch:
    """Whether a pending step should go out now.

    ``wait``: not yet (``next_check``: when to look again, None when only a
    change can help, e.g. a pause); ``due``: send, draft or notify now;
    ``skip``: mark it skipped with ``reason``.
    """

    verdict: Verdict
    reason: str = ""
    next_check: datetime | None = None
