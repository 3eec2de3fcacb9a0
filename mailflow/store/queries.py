"""The base of :class:`~mailflow.store.store.StoreTx`: shared helpers and the step queries.

Split from ``store.py`` only to keep both modules short; together they are the
one place with queries.  A step moves

    pending -> sending -> sent | failed | uncertain | pending (deferred, transient error)
    pending -> skipped | cancelled;  uncertain | failed -> pending (retry)

and every move is one UPDATE guarded by the states it may leave, so two
processes racing for one step cannot both win (:meth:`StepQueries.claim_step`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql import Select

from mailflow import clock
from mailflow.store.rows import StepRow
from mailflow.store.schema import contacts, meetings, steps

T = TypeVar("T")


def one(value: T | None) -> T:
    """``value``, which a just-written row guarantees is there."""
    if value is None:
        raise LookupError("the row just written is missing")
    return value


def normalise_address(address: str) -> str:
    """``" <Ana@Example.ORG> "`` -> ``"ana@example.org"``."""
    address = address.strip().strip("<>").strip()
    if address.lower().startswith("mailto:"):
        address = address[7:]
    return address.lower()


class StepQueries:
    """Queries bound to ``connection``, inside a transaction opened by the Store."""

    def __init__(self, connection: Connection, owner_id: int = 1) -> None:
        self.connection = connection
        #: every query is about this owner's records (the store is the one place that scopes by owner)
        self.owner_id = owner_id

    def _mine(self, table: Table) -> Any:
        """The condition that a row of ``table`` (contacts, meetings, messages, owner_mail) is this owner's."""
        return table.c.owner_id == self.owner_id

    def _my_meeting_ids(self) -> Any:
        return select(meetings.c.id).where(meetings.c.owner_id == self.owner_id)

    def _my_contact_ids(self) -> Any:
        return select(contacts.c.id).where(contacts.c.owner_id == self.owner_id)

    # -- planning --------------------------------------------------------
    def plan_step(
        self, meeting_id: int, step: str, occurrence: int, due_at: datetime, mode: str
    ) -> tuple[StepRow, bool]:
        """Plan (meeting, step, occurrence) once; (row, True) when new, (the existing row, False) otherwise."""
        now = clock.now()
        values = {
            "meeting_id": meeting_id, "step": step, "occurrence": occurrence, "due_at": due_at, "mode": mode,
            "state": "pending", "created_at": now, "updated_at": now,
        }  # fmt: skip
        self._require_meeting(meeting_id)
        inserted = self._insert_ignore(steps, values, ["meeting_id", "step", "occurrence"])
        c = steps.c
        query = select(steps).where(c.meeting_id == meeting_id, c.step == step, c.occurrence == occurrence)
        return one(self._step(self._first(query))), inserted

    def retime_step(self, step_id: int, due_at: datetime, *, mode: str | None = None) -> bool:
        """Move a pending step (and change its mode); False when it is no longer pending."""
        values: dict[str, Any] = {"due_at": due_at, "next_attempt_at": None}
        if mode is not None:
            values["mode"] = mode
        return self._move(step_id, ("pending",), **values)

    def cancel_step(self, step_id: int, reason: str) -> bool:
        return self._move(step_id, ("pending",), state="cancelled", reason=reason)

    def restore_step(self, step_id: int, due_at: datetime, mode: str) -> bool:
        """A cancelled step is wanted again (a meeting un-cancelled): pending, at ``due_at``."""
        return self._move(step_id, ("cancelled",), state="pending", due_at=due_at, mode=mode, reason="")

    def cancel_pending_steps(
        self, meeting_id: int, reason: str, *, names: Iterable[str] | None = None
    ) -> int:
        """Cancel the meeting's pending steps (only ``names`` when given); how many were cancelled."""
        where = and_(
            steps.c.meeting_id == meeting_id,
            steps.c.state == "pending",
            steps.c.meeting_id.in_(self._my_meeting_ids()),
        )
        if names is not None:
            where = and_(where, steps.c.step.in_(list(names)))
        stmt = update(steps).where(where).values(state="cancelled", reason=reason, updated_at=clock.now())
        return self.connection.execute(stmt).rowcount

    def skip_step(self, step_id: int, reason: str) -> bool:
        """Skip a step that has not gone out (pending, failed or uncertain)."""
        return self._move(step_id, ("pending", "failed", "uncertain"), state="skipped", reason=reason)

    # -- delivery --------------------------------------------------------
    def claim_step(self, step_id: int, message_id: str) -> bool:
        """pending -> sending with ``message_id`` stored, before the first byte goes out.

        True for exactly one caller; False when the step is no longer pending.
        """
        values = {"state": "sending", "message_id": message_id, "attempts": steps.c.attempts + 1}
        return self._move(step_id, ("pending",), **values)

    def mark_sent(self, step_id: int, *, at: datetime, receipt: str = "") -> bool:
        """sending (or uncertain, when a copy was found) -> sent."""
        return self._move(
            step_id, ("sending", "uncertain"), state="sent", sent_at=at, receipt=receipt, last_error=""
        )

    def mark_failed(self, step_id: int, error: str) -> bool:
        return self._move(step_id, ("sending",), state="failed", last_error=error)

    def mark_uncertain(self, step_id: int, reason: str) -> bool:
        """A step found in ``sending`` after a crash with no copy anywhere."""
        return self._move(step_id, ("sending",), state="uncertain", reason=reason)

    def defer_step(self, step_id: int, error: str, next_attempt_at: datetime) -> bool:
        """sending -> pending after a transient error, not before ``next_attempt_at``."""
        return self._move(
            step_id, ("sending",), state="pending", last_error=error, next_attempt_at=next_attempt_at
        )

    def mark_skipped(self, step_id: int, reason: str) -> bool:
        """pending -> skipped by the planner or dispatcher (e.g. later than ``max_lateness``)."""
        return self._move(step_id, ("pending",), state="skipped", reason=reason)

    def retry_step(self, step_id: int, now: datetime) -> bool:
        """uncertain | failed -> pending, due at ``now`` (``mailflow retry``)."""
        return self._move(
            step_id,
            ("uncertain", "failed"),
            state="pending",
            due_at=now,
            next_attempt_at=None,
            reason="",
            attempts=0,  # a fresh start: the backoff begins again at its first step
        )

    # -- reading ---------------------------------------------------------
    def get_step(self, step_id: int) -> StepRow | None:
        return self._step(self._first(self._my_steps().where(steps.c.id == step_id)))

    def list_steps(self, meeting_id: int) -> list[StepRow]:
        c = steps.c
        return self._steps(self._my_steps().where(c.meeting_id == meeting_id).order_by(c.due_at, c.id))

    def steps_in_state(self, *states: str) -> list[StepRow]:
        return self._steps(
            self._my_steps().where(steps.c.state.in_(states)).order_by(steps.c.due_at, steps.c.id)
        )

    def _my_steps(self) -> Select[Any]:
        return select(steps).where(steps.c.meeting_id.in_(self._my_meeting_ids()))

    def _require_meeting(self, meeting_id: int) -> None:
        """Refuse to write under another owner's meeting (a bug in the caller, never a user's error)."""
        mine = self._first(select(meetings.c.id).where(meetings.c.id == meeting_id, self._mine(meetings)))
        if mine is None:
            raise LookupError(f"meeting {meeting_id} is not owner {self.owner_id}'s")

    def _require_contact(self, contact_id: int) -> None:
        mine = self._first(select(contacts.c.id).where(contacts.c.id == contact_id, self._mine(contacts)))
        if mine is None:
            raise LookupError(f"contact {contact_id} is not owner {self.owner_id}'s")

    def due_steps(self, now: datetime, *, limit: int | None = None) -> list[StepRow]:
        """Pending steps due by ``now`` (and past any backoff) of meetings not paused, earliest first.

        The global pause (``daemon_state``) is the caller's to check.
        """
        c = steps.c
        query = (
            select(steps)
            .join(meetings, meetings.c.id == c.meeting_id)
            .where(c.state == "pending", c.due_at <= now, meetings.c.paused.is_(False), self._mine(meetings))
            .where(or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now))
            .order_by(c.due_at, c.id)
            .limit(limit)
        )
        return self._steps(query)

    def next_pending_step(self) -> StepRow | None:
        """The earliest pending step of a meeting not paused (for ``mailflow status``)."""
        query = (
            select(steps)
            .join(meetings, meetings.c.id == steps.c.meeting_id)
            .where(steps.c.state == "pending", meetings.c.paused.is_(False), self._mine(meetings))
            .order_by(steps.c.due_at, steps.c.id)
        )
        return self._step(self._first(query))

    def count_steps_by_state(self) -> dict[str, int]:
        query = (
            select(steps.c.state, func.count())
            .where(steps.c.meeting_id.in_(self._my_meeting_ids()))
            .group_by(steps.c.state)
        )
        return {state: int(count) for state, count in self.connection.execute(query).all()}

    def find_step_by_message_id(self, message_id: str) -> StepRow | None:
        return self._step(
            self._first(self._my_steps().where(steps.c.message_id == message_id).order_by(steps.c.id))
        )

    # -- helpers ---------------------------------------------------------
    def _move(self, step_id: int, from_states: tuple[str, ...], **values: Any) -> bool:
        where = and_(
            steps.c.id == step_id,
            steps.c.state.in_(from_states),
            steps.c.meeting_id.in_(self._my_meeting_ids()),
        )
        stmt = update(steps).where(where).values(updated_at=clock.now(), **values)
        return self.connection.execute(stmt).rowcount == 1

    def _set(self, table: Table, row_id: int, *, stamp: bool = True, **values: Any) -> bool:
        if stamp:
            values["updated_at"] = clock.now()
        where = table.c.id == row_id
        if "owner_id" in table.c:
            where = and_(where, self._mine(table))
        stmt = update(table).where(where).values(**values)
        return self.connection.execute(stmt).rowcount == 1

    def _insert_ignore(self, table: Table, values: dict[str, Any], keys: list[str]) -> bool:
        """INSERT unless a row with the same ``keys`` exists (ON CONFLICT DO NOTHING); True if inserted."""
        return self._insert_returning(table, values, keys) is not None

    def _insert_returning(self, table: Table, values: dict[str, Any], keys: list[str]) -> Any:
        """Like :meth:`_insert_ignore`, returning the new row (None when the key existed): one statement."""
        stmt = _insert_or_nothing(self.connection.dialect.name, table, tuple(keys))
        # the values as parameters, not in the statement: it is built and compiled once (a first
        # sync writes thousands of rows); RETURNING, not rowcount: psycopg reports no rowcount
        # for an INSERT that returns rows
        return self.connection.execute(stmt, values).first()

    def _by_id(self, table: Table, row_id: Any) -> Any:
        return one(self._first(select(table).where(table.c.id == row_id)))  # a row just written by this owner

    def _first(self, query: Select[Any]) -> Any:
        return self.connection.execute(query.limit(1)).first()

    def _step(self, row: Any) -> StepRow | None:
        return None if row is None else StepRow(**row._mapping)

    def _steps(self, query: Select[Any]) -> list[StepRow]:
        return [StepRow(**r._mapping) for r in self.connection.execute(query)]


@cache
def _insert_or_nothing(dialect: str, table: Table, keys: tuple[str, ...]) -> Any:
    """``INSERT ... ON CONFLICT (keys) DO NOTHING RETURNING *`` for ``table``, built once per dialect."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing(index_elements=list(keys)).returning(*table.c)
