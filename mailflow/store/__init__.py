"""The store: schema, migrations and every query (SQLAlchemy Core; SQLite or PostgreSQL).

Import from here: ``from mailflow.store import Store, MeetingData, ...``.
"""

from __future__ import annotations

from mailflow.store.migrations import LATEST, SchemaStatus
from mailflow.store.queries import normalise_address
from mailflow.store.rows import (
    AttachmentRow,
    ContactNoteRow,
    ContactRow,
    MeetingData,
    MeetingRow,
    MessageData,
    MessageRow,
    NoteRow,
    OwnerData,
    OwnerMailRow,
    OwnerRow,
    StepRow,
)
from mailflow.store.store import Store, StoreTx

__all__ = [
    "LATEST",
    "AttachmentRow",
    "ContactNoteRow",
    "ContactRow",
    "MeetingData",
    "MeetingRow",
    "MessageData",
    "MessageRow",
    "NoteRow",
    "OwnerData",
    "OwnerMailRow",
    "OwnerRow",
    "SchemaStatus",
    "StepRow",
    "Store",
    "StoreTx",
    "normalise_address",
]
