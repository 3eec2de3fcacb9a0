"""Queries of the logs: messages seen and sent, cursors, daemon state, notes, attachments.

Part of the query layer (see ``store.py``); a base of
:class:`~mailflow.store.store.StoreTx`, split off only to keep modules short.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, and_, delete, func, or_, select, update

from mailflow import clock
from mailflow.model import MessageRef
from mailflow.store.queries import StepQueries, normalise_address, one
from mailflow.store.rows import AttachmentRow, MessageData, MessageRow, NoteRow
from mailflow.store.schema import attachments, cursors, daemon_state, intake_attempts, messages, notes

#: values per ``IN (...)``: far below every database's limit on bound parameters
_IN_CHUNK = 500


class RecordQueries(StepQueries):
    """Messages, cursors, daemon state, notes and attachments."""

    # -- messages ------------------------------------------------------
    def record_message(self, data: MessageData) -> tuple[MessageRow, bool]:
        """Log a message; (row, True) when new, (the existing row, False) when its ref was seen."""
        if data.meeting_id is not None:
            self._require_meeting(data.meeting_id)
        if data.contact_id is not None:
            self._require_contact(data.contact_id)
        values = {**_message_values(data), "owner_id": self.owner_id}
        if data.ref is None:
            new_id = one(self.connection.execute(messages.insert().values(**values)).inserted_primary_key)[0]
            return one(self._message(self._first(select(messages).where(messages.c.id == new_id)))), True
        inserted = self._insert_returning(messages, values, ["account", "folder", "uidvalidity", "uid"])
        if inserted is not None:
            return MessageRow(**inserted._mapping), True
        return one(self.find_message_by_ref(data.ref)), False

    def find_message_by_ref(self, ref: MessageRef) -> MessageRow | None:
        c = messages.c
        where = and_(
            c.account == ref.account,
            c.folder == ref.folder,
            c.uidvalidity == ref.uidvalidity,
            c.uid == ref.uid,
        )
        return self._message(self._first(select(messages).where(where, self._mine(messages))))

    def get_message(self, message_row_id: int) -> MessageRow | None:
        return self._message(
            self._first(select(messages).where(messages.c.id == message_row_id, self._mine(messages)))
        )

    def find_messages_by_message_id(self, message_id: str) -> list[MessageRow]:
        query = (
            select(messages)
            .where(messages.c.message_id == message_id, self._mine(messages))
            .order_by(messages.c.id)
        )
        return [MessageRow(**r._mapping) for r in self.connection.execute(query)]

    def recorded_message_ids(self, message_ids: Iterable[str]) -> set[str]:
        """Those of ``message_ids`` already recorded as incoming without an error: one query per 500."""
        wanted, found = sorted(set(message_ids) - {""}), set[str]()
        c = messages.c
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            query = select(c.message_id).where(
                c.message_id.in_(chunk), c.direction == "in", c.error == "", self._mine(messages)
            )
            found.update(self.connection.scalars(query))
        return found

    def find_message_by_hash(self, content_hash: str) -> MessageRow | None:
        query = (
            select(messages)
            .where(messages.c.content_hash == content_hash, self._mine(messages))
            .order_by(messages.c.id)
        )
        return self._message(self._first(query))

    def list_messages(
        self,
        *,
        errors_only: bool = False,
        meeting_id: int | None = None,
        contact_id: int | None = None,
        limit: int | None = None,
    ) -> list[MessageRow]:
        """The message log, oldest first (by Date header, else when seen)."""
        c = messages.c
        query = (
            select(messages).where(self._mine(messages)).order_by(func.coalesce(c.sent_at, c.seen_at), c.id)
        )
        if errors_only:
            query = query.where(c.error != "")
        if meeting_id is not None:
            query = query.where(c.meeting_id == meeting_id)
        if contact_id is not None:
            query = query.where(c.contact_id == contact_id)
        return [MessageRow(**r._mapping) for r in self.connection.execute(query.limit(limit))]

    def link_message(
        self, message_row_id: int, *, meeting_id: int | None, contact_id: int | None = None
    ) -> bool:
        if meeting_id is not None:
            self._require_meeting(meeting_id)
        if contact_id is not None:
            self._require_contact(contact_id)
        return self._set(messages, message_row_id, meeting_id=meeting_id, contact_id=contact_id, stamp=False)

    def delete_message(self, message_row_id: int) -> bool:
        """Drop one log row (a retried message is recorded afresh)."""
        where = and_(messages.c.id == message_row_id, self._mine(messages))
        return bool(self.connection.execute(delete(messages).where(where)).rowcount)

    # -- messages being understood ---------------------------------------
    def bump_attempts(self, source: str, refs: Iterable[MessageRef]) -> dict[tuple[int, int], int]:
        """Count one more attempt at understanding each of ``refs``; returns the counts before this one."""
        keys = sorted({(r.uidvalidity, r.uid) for r in refs})
        before: dict[tuple[int, int], int] = {}
        c = intake_attempts.c
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start : start + _IN_CHUNK]
            uids = [uid for _validity, uid in chunk]
            query = select(c.uidvalidity, c.uid, c.attempts).where(c.source == source, c.uid.in_(uids))
            before.update({(r.uidvalidity, r.uid): r.attempts for r in self.connection.execute(query)})
        now = clock.now()
        for validity, uid in keys:
            count = before.get((validity, uid), 0)
            if (validity, uid) in before:
                where = and_(c.source == source, c.uidvalidity == validity, c.uid == uid)
                self.connection.execute(update(intake_attempts).where(where).values(attempts=count + 1))
            else:
                row = {
                    "source": source,
                    "uidvalidity": validity,
                    "uid": uid,
                    "attempts": 1,
                    "updated_at": now,
                }
                self.connection.execute(intake_attempts.insert().values(**row))
        return {key: before.get(key, 0) for key in keys}

    def clear_attempts(self, source: str, refs: Iterable[MessageRef]) -> None:
        """Forget the attempts at ``refs``: they were recorded, or put back unread in good order."""
        c = intake_attempts.c
        by_validity: dict[int, list[int]] = {}
        for ref in refs:
            by_validity.setdefault(ref.uidvalidity, []).append(ref.uid)
        for validity, uids in by_validity.items():
            for start in range(0, len(uids), _IN_CHUNK):
                where = and_(
                    c.source == source, c.uidvalidity == validity, c.uid.in_(uids[start : start + _IN_CHUNK])
                )
                self.connection.execute(delete(intake_attempts).where(where))

    # -- cursors, daemon state -----------------------------------------
    def get_cursor(self, source: str) -> str | None:
        return self.connection.scalar(select(cursors.c.value).where(cursors.c.source == source))

    def set_cursor(self, source: str, value: str) -> None:
        self._put(cursors, "source", source, value)

    def kv_get(self, key: str) -> str | None:
        return self.connection.scalar(select(daemon_state.c.value).where(daemon_state.c.key == key))

    def kv_set(self, key: str, value: str | None) -> None:
        """Set ``key`` (None deletes it)."""
        if value is None:
            self.connection.execute(delete(daemon_state).where(daemon_state.c.key == key))
        else:
            self._put(daemon_state, "key", key, value)

    def kv_all(self) -> dict[str, str]:
        return {r.key: r.value for r in self.connection.execute(select(daemon_state))}

    def _put(self, table: Table, key_column: str, key: str, value: str) -> None:
        now = clock.now()
        if not self._insert_ignore(table, {key_column: key, "value": value, "updated_at": now}, [key_column]):
            stmt = update(table).where(table.c[key_column] == key).values(value=value, updated_at=now)
            self.connection.execute(stmt)

    # -- notes, attachments ----------------------------------------------
    def add_note(self, meeting_id: int, text: str, *, source: str = "mail", message_id: str = "") -> NoteRow:
        self._require_meeting(meeting_id)
        values = {
            "meeting_id": meeting_id,
            "text": text,
            "source": source,
            "message_id": message_id,
            "created_at": clock.now(),
        }
        new_id = one(self.connection.execute(notes.insert().values(**values)).inserted_primary_key)[0]
        return NoteRow(**self._by_id(notes, new_id)._mapping)

    def list_notes(self, meeting_id: int) -> list[NoteRow]:
        query = (
            select(notes)
            .where(notes.c.meeting_id == meeting_id, notes.c.meeting_id.in_(self._my_meeting_ids()))
            .order_by(notes.c.created_at, notes.c.id)
        )
        return [NoteRow(**r._mapping) for r in self.connection.execute(query)]

    def add_attachment(
        self,
        path: str,
        *,
        meeting_id: int | None = None,
        contact_id: int | None = None,
        filename: str = "",
        content_type: str = "",
        size: int = 0,
        sha256: str = "",
        message_id: str = "",
    ) -> AttachmentRow:
        """Record a saved file; ``path`` is relative to the data folder."""
        if meeting_id is not None:
            self._require_meeting(meeting_id)
        if contact_id is not None:
            self._require_contact(contact_id)
        values = {
            "meeting_id": meeting_id, "contact_id": contact_id, "path": path, "filename": filename,
            "content_type": content_type, "size": size, "sha256": sha256, "message_id": message_id,
            "created_at": clock.now(),
        }  # fmt: skip
        new_id = one(self.connection.execute(attachments.insert().values(**values)).inserted_primary_key)[0]
        return AttachmentRow(**self._by_id(attachments, new_id)._mapping)

    def list_attachments(
        self, *, meeting_id: int | None = None, contact_id: int | None = None
    ) -> list[AttachmentRow]:
        query = (
            select(attachments)
            .where(
                or_(
                    attachments.c.meeting_id.in_(self._my_meeting_ids()),
                    attachments.c.contact_id.in_(self._my_contact_ids()),
                )
            )
            .order_by(attachments.c.created_at, attachments.c.id)
        )
        if meeting_id is not None:
            query = query.where(attachments.c.meeting_id == meeting_id)
        if contact_id is not None:
            query = query.where(attachments.c.contact_id == contact_id)
        return [AttachmentRow(**r._mapping) for r in self.connection.execute(query)]

    def _message(self, row: Any) -> MessageRow | None:
        return None if row is None else MessageRow(**row._mapping)


def _message_values(data: MessageData) -> dict[str, Any]:
    ref = data.ref
    return {
        "account": ref.account if ref else None, "folder": ref.folder if ref else None,
        "uidvalidity": ref.uidvalidity if ref else None, "uid": ref.uid if ref else None,
        "location": ref.location if ref else "", "direction": data.direction, "message_id": data.message_id,
        "content_hash": data.content_hash, "kind": data.kind, "meeting_id": data.meeting_id,
        "contact_id": data.contact_id, "step_id": data.step_id, "sender": normalise_address(data.sender),
        "subject": data.subject, "in_reply_to": data.in_reply_to, "sent_at": data.sent_at, "error": data.error,
        "seen_at": clock.now(),
    }  # fmt: skip
