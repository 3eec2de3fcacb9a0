"""Planning in the store: each meeting's facts to the playbook, its actions back to the steps table.

The playbook is pure; this module gathers what it needs from the store
(meeting, contact, notes, materials, the contact's other meetings), calls
:func:`mailflow.playbook.plan`, and applies each action only while the row is
still in the state the action expects, so a dispatch that won a race wins.
One short transaction per meeting keeps the write lock brief.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from mailflow.errors import StoreError
from mailflow.playbook import (
    Action,
    ExistingStep,
    MeetingFacts,
    OtherMeeting,
    PlannedStep,
    PlaybookConfig,
    once_per_series,
    plan,
)
from mailflow.steps import DEFAULT_STEPS, StepRegistry
from mailflow.store import Store
from mailflow.store.rows import ContactRow, MeetingRow, NoteRow, StepRow
from mailflow.store.store import StoreTx
from mailflow.text import one_line

log = logging.getLogger("mailflow.engine")

LIVE_STATES = ("requested", "pending", "scheduled", "done")
_LAST_NOON = datetime.max.replace(tzinfo=UTC) - timedelta(hours=12)  # later, +12 h would overflow


@dataclass
class PlanSummary:
    """What one :func:`plan_all` changed; ``failed``: meetings that raised (``errors``: one line each)."""

    meetings: int = 0
    added: int = 0
    retimed: int = 0
    cancelled: int = 0
    skipped: int = 0
    restored: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def plan_all(store: Store, config: PlaybookConfig, now: datetime) -> PlanSummary:
    """Re-plan every meeting; only pending (or cancelled, to restore) rows change.

    A meeting whose planning raises is logged and counted (``failed``), its
    transaction rolled back, and the other meetings are planned all the same;
    a :class:`~mailflow.errors.StoreError` (the database itself) stops the run.
    """
    summary = PlanSummary()
    with store.read() as tx:
        meeting_ids = [m.id for m in tx.list_meetings()]
    for meeting_id in meeting_ids:
        summary.meetings += 1
        try:
            _plan_one(store, meeting_id, config, now, summary)
        except StoreError:
            raise
        except Exception as exc:  # one meeting's dates or rows must not stop the others
            log.exception("meeting %d could not be planned; the other meetings go on", meeting_id)
            summary.failed += 1
            summary.errors.append(f"meeting {meeting_id}: {type(exc).__name__}: {one_line(str(exc), 200)}")
    return summary


def _plan_one(
    store: Store, meeting_id: int, config: PlaybookConfig, now: datetime, summary: PlanSummary
) -> None:
    with store.read() as tx:  # most meetings need nothing: no write lock for them
        meeting = tx.get_meeting(meeting_id)
        if meeting is None or not plan_meeting(tx, meeting, config, now):
            return
    changes = PlanSummary()  # counted only once the transaction commits
    with store.transaction() as tx:  # plan again under the lock, then apply
        meeting = tx.get_meeting(meeting_id)
        if meeting is None:  # forgotten meanwhile
            return
        rows = {(r.step, r.occurrence): r for r in tx.list_steps(meeting.id)}
        for action in plan_meeting(tx, meeting, config, now):
            _apply(tx, meeting.id, action, rows, changes)
    for name in ("added", "retimed", "cancelled", "skipped", "restored"):
        setattr(summary, name, getattr(summary, name) + getattr(changes, name))


def plan_meeting(tx: StoreTx, meeting: MeetingRow, config: PlaybookConfig, now: datetime) -> list[Action]:
    """The playbook's actions for one meeting, from what the store knows."""
    contact = tx.get_contact(meeting.counterpart_id) if meeting.counterpart_id is not None else None
    facts = meeting_facts(tx, meeting, contact)
    existing = [existing_step(row) for row in tx.list_steps(meeting.id)]
    others = _other_meetings(tx, meeting)
    actions = plan(facts, existing, config, now, other_meetings=others)
    once = once_per_series(config.steps)
    asked, final = _prep_asked_elsewhere(tx, meeting, once)
    if asked:
        actions = [a for a in (_skipped_prep(a, asked, final, once) for a in actions) if a is not None]
    return actions + _moved_occurrences(facts, existing, actions, now, config.steps)


def _prep_asked_elsewhere(
    tx: StoreTx, meeting: MeetingRow, once: frozenset[str] = once_per_series(DEFAULT_STEPS)
) -> tuple[str, bool]:
    """Why this row of a series must not ask for materials ("" when it may), and whether for good.

    One request per series (``once``: the steps whose rule asks for materials): one occurrence's own
    row leaves it to the series' row; the series' row leaves it to an occurrence's row that asked
    already (its mail came first), and waits while that one is only planned (if it is cancelled, the
    series' row asks after all)."""
    if not meeting.ical_uid or not meeting.recurring:
        return "", False
    if meeting.recurrence_id:
        if tx.find_meeting(meeting.ical_uid) is not None:
            return "one occurrence of a series: the series' own meeting asks for materials", True
        return "", False
    waiting = ""
    for other in tx.list_meetings_of_uid(meeting.ical_uid):
        states = (
            {s.state for s in tx.list_steps(other.id) if s.step in once} if other.id != meeting.id else set()
        )
        if states & {"sending", "sent", "uncertain"}:
            return f"meeting {other.id}, one occurrence of this series, asked for materials already", True
        if "pending" in states:
            waiting = f"meeting {other.id}, one occurrence of this series, is about to ask for materials"
    return waiting, False


def _skipped_prep(action: Action, reason: str, final: bool, once: frozenset[str]) -> Action | None:
    """A request for materials turned into a recorded skip (for good), or held back (while another waits)."""
    if action.step.step not in once or action.kind not in ("add", "retime", "restore"):
        return action
    if not final:
        return None
    return Action("skip", action.step, reason, new=action.kind == "add")


def _moved_occurrences(
    facts: MeetingFacts,
    existing: list[ExistingStep],
    actions: list[Action],
    now: datetime,
    steps: StepRegistry,
) -> list[Action]:
    """A series that moved: the old occurrence's pending steps are cancelled if it had not happened yet.

    Occurrences are numbered by date (see :func:`occurrence_of`), so a pending
    row of another, not yet past, occurrence belongs to a date the series left.
    """
    touched = {(a.step.step, a.step.occurrence) for a in actions}
    pending = [row for row in existing if row.state == "pending" and row.key not in touched]
    if not facts.recurring:  # a series that became a single meeting: its occurrences' rows are not its
        dated = [row for row in pending if row.occurrence != 0 and _per_occurrence(steps, row.step)]
        return [_cancel(facts, row, "the series became a single meeting", steps) for row in dated]
    today = day_number(now.astimezone(UTC))
    left = [row for row in pending if row.occurrence not in (0, facts.occurrence) and row.occurrence >= today]
    return [
        _cancel(facts, row, "the series moved: this occurrence no longer takes place", steps) for row in left
    ]


def _per_occurrence(steps: StepRegistry, name: str) -> bool:
    """Whether a row's occurrence is a date (a check-in's is its number: 1, 2, 3...)."""
    spec = steps.get(name)
    return spec is not None and spec.per == "occurrence"


def _cancel(facts: MeetingFacts, row: ExistingStep, reason: str, steps: StepRegistry) -> Action:
    planned = PlannedStep(facts.id, row.step, row.occurrence, row.due_at, row.mode, steps[row.step].audience)
    return Action("cancel", planned, reason)


def meeting_facts(tx: StoreTx, meeting: MeetingRow, contact: ContactRow | None) -> MeetingFacts:
    notes = occurrence_notes(tx, meeting)
    materials = [a for a in tx.list_attachments(meeting_id=meeting.id) if a.message_id]
    replies = [t for t in (meeting.last_contact_reply_at, contact.last_reply_at if contact else None) if t]
    has_times = meeting.start_at is not None and meeting.end_at is not None
    state = meeting.state
    if state in ("scheduled", "done") and meeting.scheduled_at is None:
        state = "pending"  # defensive: a scheduled meeting always has its anchor
    return MeetingFacts(
        id=meeting.id,
        state=state,  # type: ignore[arg-type]
        start=meeting.start_at if has_times else None,
        end=meeting.end_at if has_times else None,
        scheduled_at=meeting.scheduled_at,
        rescheduled_at=meeting.rescheduled_at,
        trusted=meeting.trusted,
        confirmed_at=meeting.confirmed_at if meeting.confirmed else None,
        has_counterpart=contact is not None and not meeting.needs_counterpart,
        contact_do_not_contact=bool(contact and contact.do_not_contact),
        contact_timezone=meeting.contact_timezone or (contact.timezone if contact else "") or None,
        notes_at=min((n.created_at for n in notes), default=None),
        materials_at=min((a.created_at for a in materials), default=None),
        last_contact_reply_at=max(replies, default=None),
        recurring=meeting.recurring,
        occurrence=occurrence_of(meeting),
        cancelled_occurrences=_cancelled_occurrences(tx, meeting),
    )


def occurrence_notes(tx: StoreTx, meeting: MeetingRow) -> list[NoteRow]:
    """The owner's notes of the occurrence the row stands for: all of a single meeting's, a series'
    since its current occurrence began (earlier ones were about earlier meetings)."""
    notes = tx.list_notes(meeting.id)
    if meeting.recurring and meeting.start_at is not None:
        notes = [n for n in notes if n.created_at >= meeting.start_at]
    return notes


def occurrence_of(meeting: MeetingRow) -> int:
    """0 for a single meeting; for a series, the occurrence's UTC date as YYYYMMDD."""
    if not meeting.recurring or meeting.start_at is None:
        return 0
    return day_number(meeting.start_at)


def day_number(instant: datetime) -> int:
    """The date as YYYYMMDD (``strftime("%Y")`` drops the zeros of a year before 1000)."""
    return instant.year * 10000 + instant.month * 100 + instant.day


def _cancelled_occurrences(tx: StoreTx, meeting: MeetingRow) -> frozenset[int]:
    """Occurrences whose steps this row must not have: cancelled ones, and for the series' own row
    its current occurrence when later mail gave that one a meeting row of its own (moved it)."""
    if not meeting.recurring or not meeting.ical_uid:
        return frozenset()
    cancelled = set()
    for other in tx.list_meetings(states=("cancelled",)):
        if other.ical_uid == meeting.ical_uid and other.recurrence_id and other.start_at is not None:
            cancelled.add(day_number(other.start_at))
    if not meeting.recurrence_id and slot_keys(tx, meeting) & tx.overridden_occurrences(meeting.ical_uid):
        cancelled.add(occurrence_of(meeting))
    return frozenset(cancelled)


def slot_keys(tx: StoreTx, meeting: MeetingRow) -> set[str]:
    """The RECURRENCE-ID key (``zones.to_utc``) of the series row's current occurrence: the one kept
    with the series, else what its start says (an override in the invite may have moved it)."""
    kept = tx.series_occurrence(meeting.id)
    if kept:
        return {kept}
    if meeting.start_at is None:
        return set()
    start = meeting.start_at.astimezone(UTC)
    keys = {start.isoformat()}
    if meeting.all_day:  # an all-day slot is its day: midnight in any zone, +12 h, falls on it
        noon = start + timedelta(hours=12) if start < _LAST_NOON else start
        keys.add(noon.date().isoformat())
    return keys


def _other_meetings(tx: StoreTx, meeting: MeetingRow) -> list[OtherMeeting]:
    if meeting.counterpart_id is None:
        return []
    return [
        OtherMeeting(other.id, other.start_at)
        for other in tx.list_meetings(contact_id=meeting.counterpart_id, states=LIVE_STATES)
        if other.id != meeting.id and other.start_at is not None and other.state != "requested"
    ]


def existing_step(row: StepRow) -> ExistingStep:
    return ExistingStep(
        step=row.step,
        occurrence=row.occurrence,
        state=row.state,  # type: ignore[arg-type]
        due_at=row.due_at,
        mode="send" if row.mode == "off" else row.mode,  # type: ignore[arg-type]
    )


def _apply(
    tx: StoreTx, meeting_id: int, action: Action, rows: dict[tuple[str, int], StepRow], summary: PlanSummary
) -> None:
    planned = action.step
    row = rows.get((planned.step, planned.occurrence))
    if action.kind == "add" or (action.kind == "skip" and action.new):
        new_row, inserted = tx.plan_step(
            meeting_id, planned.step, planned.occurrence, planned.due_at, planned.mode
        )
        if action.kind == "skip" and inserted:
            tx.mark_skipped(new_row.id, action.reason)
            summary.skipped += 1
        elif inserted:
            summary.added += 1
        return
    if row is None:
        return
    if action.kind == "retime" and tx.retime_step(row.id, planned.due_at, mode=planned.mode):
        summary.retimed += 1
    elif action.kind == "restore" and tx.restore_step(row.id, planned.due_at, planned.mode):
        summary.restored += 1
    elif action.kind == "cancel" and tx.cancel_step(row.id, action.reason):
        summary.cancelled += 1
    elif action.kind == "skip" and tx.skip_step(row.id, action.reason):
        summary.skipped += 1
    log.debug(
        "meeting %s: %s %s#%s (%s)", meeting_id, action.kind, planned.step, planned.occurrence, action.reason
    )
