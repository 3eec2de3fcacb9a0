"""Queries of what concerns the owner outside the playbook: notes about a person, mail to the owner.

Part of the query layer (see ``store.py``); a base of
:class:`~mailflow.store.store.StoreTx`, split off only to keep modules short.

Owner mail (an acknowledgement of a forwarded request, say) follows the steps'
outbox rule, one guarded UPDATE per move::

    pending -> sending (Message-ID stored first) -> sent | uncertain | pending (deferred)
    pending | sending -> failed;  pending -> cancelled;  uncertain | failed -> pending (retry)

and a ``key`` is mailed at most once, ever: :meth:`OwnerRecordQueries.queue_owner_mail`
does nothing when a row with that key exists, whatever its state.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.sql import Select

from mailflow import clock
from mailflow.store.migrations import resume_ids
from mailflow.store.queries import StepQueries, one
from mailflow.store.rows import ContactNoteRow, OwnerData, OwnerMailRow, OwnerRow
from mailflow.store.schema import contact_notes, meeting_doubts, owner_mail, owners


class OwnerRecordQueries(StepQueries):
    """The ``owners``, ``contact_notes``, ``owner_mail`` and ``meeting_doubts`` tables."""

    # -- owners ------------------------------------------------------------------
    def owner(self) -> OwnerRow:
        """This transaction's owner (LookupError when that row is missing: a caller's bug)."""
        found = self.get_owner(self.owner_id)
        if found is None:
            raise LookupError(f"there is no owner {self.owner_id}")
        return found

    def get_owner(self, owner_id: int) -> OwnerRow | None:
        row = self._first(select(owners).where(owners.c.id == owner_id))
        return None if row is None else _owner(row)

    def list_owners(self) -> list[OwnerRow]:
        return [_owner(r) for r in self.connection.execute(select(owners).order_by(owners.c.id))]

    def add_owner(self, data: OwnerData) -> OwnerRow:
        """A new owner (the team deployment's way to add one comes with its own command)."""
        now = clock.now()
        values = {**_owner_values(data), "created_at": now, "updated_at": now}
        new_id = one(self.connection.execute(owners.insert().values(**values)).inserted_primary_key)[0]
        return one(self.get_owner(int(new_id)))

    def owner_differs(self, owner_id: int, data: OwnerData) -> bool:
        """Whether the owner's row is missing or says something else than ``data``."""
        current = self.get_owner(owner_id)
        return current is None or _differs(current, data)

    def save_owner(self, owner_id: int, data: OwnerData) -> bool:
        """Write ``data`` into the owner's row (the configuration's ``[owner]`` into owner 1, at every start);
        True when something changed."""
        current = self.get_owner(owner_id)
        if current is not None and not _differs(current, data):
            return False
        values = {**_owner_values(data), "updated_at": clock.now()}
        if current is None:
            self.connection.execute(owners.insert().values(id=owner_id, created_at=clock.now(), **values))
            resume_ids(self.connection, "owners")
        else:
            self.connection.execute(update(owners).where(owners.c.id == owner_id).values(**values))
        return True

    # -- notes about a person ----------------------------------------------
    def add_contact_note(
        self, contact_id: int, text: str, *, source: str = "mail", message_id: str = ""
    ) -> ContactNoteRow:
        self._require_contact(contact_id)
        values = {
            "contact_id": contact_id,
            "text": text,
            "source": source,
            "message_id": message_id,
            "created_at": clock.now(),
        }
        new_id = one(self.connection.execute(contact_notes.insert().values(**values)).inserted_primary_key)[0]
        return ContactNoteRow(**self._by_id(contact_notes, new_id)._mapping)

    def list_contact_notes(self, contact_id: int) -> list[ContactNoteRow]:
        """The contact's notes, oldest first."""
        c = contact_notes.c
        query = (
            select(contact_notes)
            .where(c.contact_id == contact_id, c.contact_id.in_(self._my_contact_ids()))
            .order_by(c.created_at, c.id)
        )
        return [ContactNoteRow(**r._mapping) for r in self.connection.execute(query)]

    # -- why a meeting waits for the owner's confirm -----------------------
    def set_doubts(self, meeting_id: int, reasons: Iterable[str], *, message_id: str = "") -> None:
        """Keep why the meeting cannot be trusted as read (replacing earlier reasons)."""
        self._require_meeting(meeting_id)
        text = "\n".join(r.replace("\n", " ").strip() for r in reasons if r.strip())
        self.connection.execute(delete(meeting_doubts).where(meeting_doubts.c.meeting_id == meeting_id))
        if text:
            self.connection.execute(
                meeting_doubts.insert().values(
                    meeting_id=meeting_id, reasons=text, message_id=message_id, created_at=clock.now()
                )
            )

    def doubts_of(self, meeting_id: int) -> tuple[str, ...]:
        row = self.connection.execute(
            select(meeting_doubts.c.reasons).where(
                meeting_doubts.c.meeting_id == meeting_id,
                meeting_doubts.c.meeting_id.in_(self._my_meeting_ids()),
            )
        ).first()
        return tuple(row[0].splitlines()) if row is not None else ()

    def clear_doubts(self, meeting_id: int) -> None:
        self.set_doubts(meeting_id, ())

    # -- mail to the owner: queueing and reading ---------------------------
    def queue_owner_mail(
        self,
        kind: str,
        key: str,
        *,
        due_at: datetime,
        meeting_id: int | None = None,
        contact_id: int | None = None,
        in_reply_to: str = "",
        reference_ids: Iterable[str] = (),
    ) -> OwnerMailRow | None:
        """A new pending mail for ``key``; None, and nothing changed, when ``key`` was ever queued.

        One ``INSERT ... ON CONFLICT (key) DO NOTHING``: it never fails on a known key,
        so the caller's transaction goes on (SQLite and PostgreSQL alike).  ``key`` is
        cut to its column's 200 characters.  A reference with white space in it cannot
        be written in a References header and is left out.
        """
        if not kind or not key:
            raise ValueError("queue_owner_mail needs a kind and a key")
        if meeting_id is not None:
            self._require_meeting(meeting_id)
        if contact_id is not None:
            self._require_contact(contact_id)
        key = f"{self.owner_id}/{key}"  # keys are unique across owners: each owner's are their own
        now = clock.now()
        values = {
            "kind": kind, "key": key, "meeting_id": meeting_id, "contact_id": contact_id, "state": "pending",
            "due_at": due_at, "in_reply_to": in_reply_to, "reference_ids": _join_ids(reference_ids),
            "message_id": None, "attempts": 0, "last_error": "", "receipt": "", "sent_at": None,
            "created_at": now, "updated_at": now, "owner_id": self.owner_id,
        }  # fmt: skip
        inserted = self._insert_returning(owner_mail, values, ["key"])
        return None if inserted is None else _owner_mail(inserted)

    def get_owner_mail(self, mail_id: int) -> OwnerMailRow | None:
        row = self._first(select(owner_mail).where(owner_mail.c.id == mail_id, self._mine(owner_mail)))
        return None if row is None else _owner_mail(row)

    def due_owner_mail(self, now: datetime) -> list[OwnerMailRow]:
        """Pending mail due by ``now``, earliest due first (the global pause is the caller's to check)."""
        c = owner_mail.c
        return self._owner_mails(
            select(owner_mail)
            .where(c.state == "pending", c.due_at <= now, self._mine(owner_mail))
            .order_by(c.due_at, c.id)
        )

    def owner_mail_in_state(self, *states: str) -> list[OwnerMailRow]:
        c = owner_mail.c
        return self._owner_mails(
            select(owner_mail).where(c.state.in_(states), self._mine(owner_mail)).order_by(c.due_at, c.id)
        )

    def owner_mail_for_message_id(self, message_id: str) -> OwnerMailRow | None:
        """The mail sent with this Message-ID; ``<x>`` and ``x`` match either form stored."""
        bare = message_id.strip().strip("<>").strip()
        if not bare:
            return None
        c = owner_mail.c
        query = (
            select(owner_mail)
            .where(c.message_id.in_([bare, f"<{bare}>"]), self._mine(owner_mail))
            .order_by(c.id)
        )
        row = self._first(query)
        return None if row is None else _owner_mail(row)

    def list_owner_mail(self, meeting_id: int | None = None) -> list[OwnerMailRow]:
        """Every owner mail (of one meeting when given), oldest first."""
        c = owner_mail.c
        query = select(owner_mail).where(self._mine(owner_mail)).order_by(c.created_at, c.id)
        if meeting_id is not None:
            query = query.where(c.meeting_id == meeting_id)
        return self._owner_mails(query)

    # -- mail to the owner: moves --------------------------------------------
    def claim_owner_mail(self, mail_id: int, message_id: str) -> bool:
        """pending -> sending with ``message_id`` stored, before the first byte goes out.

        True for exactly one caller; False when the mail is no longer pending.
        """
        return self._move_owner_mail(mail_id, ("pending",), state="sending", message_id=message_id)

    def mark_owner_mail_sent(self, mail_id: int, *, at: datetime, receipt: str = "") -> bool:
        return self._move_owner_mail(
            mail_id, ("sending",), state="sent", sent_at=at, receipt=receipt, last_error=""
        )

    def mark_owner_mail_uncertain(self, mail_id: int, reason: str) -> bool:
        """sending -> uncertain (found in sending after a crash, no copy anywhere); ``reason`` in last_error."""
        return self._move_owner_mail(mail_id, ("sending",), state="uncertain", last_error=reason)

    def mark_owner_mail_failed(self, mail_id: int, error: str) -> bool:
        return self._move_owner_mail(mail_id, ("pending", "sending"), state="failed", last_error=error)

    def defer_owner_mail(self, mail_id: int, error: str, until: datetime) -> bool:
        """sending -> pending after a transient error, due again at ``until``; the Message-ID stays."""
        return self._move_owner_mail(
            mail_id,
            ("sending",),
            state="pending",
            attempts=owner_mail.c.attempts + 1,
            last_error=error,
            due_at=until,
        )

    def skip_owner_mail(self, mail_id: int, reason: str) -> bool:
        """pending | failed | uncertain -> cancelled: the owner does not want it (``mailflow skip --mail``)."""
        return self._move_owner_mail(
            mail_id, ("pending", "failed", "uncertain"), state="cancelled", last_error=reason
        )

    def cancel_owner_mail(self, mail_id: int, reason: str) -> bool:
        """pending -> cancelled; ``reason`` in last_error.  The key stays taken."""
        return self._move_owner_mail(mail_id, ("pending",), state="cancelled", last_error=reason)

    def retry_owner_mail(self, mail_id: int) -> bool:
        """uncertain | failed -> pending, due now, attempts from 0 again; the Message-ID stays
        (a copy of it found later still counts as sent)."""
        return self._move_owner_mail(
            mail_id, ("uncertain", "failed"), state="pending", due_at=clock.now(), attempts=0
        )

    # -- helpers -------------------------------------------------------------
    def _move_owner_mail(self, mail_id: int, from_states: tuple[str, ...], **values: Any) -> bool:
        where = and_(owner_mail.c.id == mail_id, owner_mail.c.state.in_(from_states), self._mine(owner_mail))
        stmt = update(owner_mail).where(where).values(updated_at=clock.now(), **values)
        return self.connection.execute(stmt).rowcount == 1

    def _owner_mails(self, query: Select[Any]) -> list[OwnerMailRow]:
        return [_owner_mail(r) for r in self.connection.execute(query)]


def _join_ids(ids: Iterable[str]) -> str:
    kept = (i.strip() for i in ids)
    return " ".join(i for i in kept if i and not any(ch.isspace() for ch in i))


def _owner_mail(row: Any) -> OwnerMailRow:
    values = dict(row._mapping)
    values["reference_ids"] = tuple(values["reference_ids"].split())
    return OwnerMailRow(**values)


_OWNER_FIELDS = (
    "name", "addresses", "timezone", "story", "availability", "default_role", "drafts", "templates_folder",
    "playbook",
)  # fmt: skip


def _owner_values(data: OwnerData) -> dict[str, Any]:
    return {
        "name": data.name,
        "addresses": json.dumps([a.lower() for a in data.addresses]),
        "timezone": data.timezone,
        "story": data.story,
        "availability": data.availability,
        "default_role": data.default_role,
        "drafts": json.dumps(data.drafts, sort_keys=True, default=str),
        "templates_folder": data.templates_folder,
        "playbook": json.dumps(data.playbook, sort_keys=True, default=str),
    }


def _differs(row: OwnerRow, data: OwnerData) -> bool:
    return OwnerData(**{name: getattr(row, name) for name in _OWNER_FIELDS}) != data


def _owner(row: Any) -> OwnerRow:
    values = dict(row._mapping)
    values["addresses"] = tuple(json.loads(values["addresses"] or "[]"))
    values["drafts"] = json.loads(values["drafts"] or "{}")
    values["playbook"] = json.loads(values["playbook"] or "{}")
    return OwnerRow(**values)
