"""The ``MailSource`` seam: where new mail comes from, read without changing it.

The engine knows only this class.  One sync is::

    items, cursor = source.poll(cursor, limit=500)   # new messages after ``cursor``, looked at cheaply
    for ref, raw in source.fetch_many(refs):         # whole messages, only for what can matter
        ...
    store the records and ``cursor`` in one transaction
    source.mark_done(refs)                           # optional: a keyword or a move, off by default
    source.wait(5.0)                                 # True when new mail may have arrived

The cursor is opaque to the engine; every kind here writes it
``UIDVALIDITY:UID[:MODSEQ]`` (:class:`UidCursor`).  A cursor whose UIDVALIDITY
no longer matches means "start again from the first message": the engine's
unique keys (Message-ID, then content hash) drop what it already recorded.

Kinds are looked up lazily (:func:`source_class`), so imapclient is imported
only when an IMAP mailbox is configured.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from mailflow.errors import ConfigError, UnreadableMessage
from mailflow.model import MessageRef

if TYPE_CHECKING:
    from mailflow.config import Settings

DEFAULT_BATCH = 500


@dataclass(frozen=True)
class Incoming:
    """What a cheap first look at one new message shows; no body is parsed.

    ``calendar``: the structure names calendar data (a ``text/calendar`` or
    ``application/ics`` part, or a file named ``*.ics``).  ``attached_message``:
    it carries a ``message/rfc822`` part (a forward as attachment, or a bounce).
    Addresses are lower case; Message-IDs are written ``<id>``.
    """

    ref: MessageRef
    size: int = 0
    sender: str = ""
    sender_name: str = ""
    message_id: str = ""
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    subject: str = ""
    calendar: bool = False
    attached_message: bool = False


@dataclass(frozen=True)
class UidCursor:
    """``UIDVALIDITY:UID[:MODSEQ]``: every message up to ``uid`` has been handled.

    ``modseq`` (CONDSTORE's HIGHESTMODSEQ) is written only when the cursor has
    caught up with the folder, so "same MODSEQ" means "nothing new at all".
    """

    uidvalidity: int
    uid: int
    modseq: int | None = None

    def __str__(self) -> str:
        tail = f":{self.modseq}" if self.modseq is not None else ""
        return f"{self.uidvalidity}:{self.uid}{tail}"

    @classmethod
    def parse(cls, text: str | None) -> UidCursor | None:
        """The cursor in ``text``; None for no cursor or one this version cannot read (start over)."""
        if not text:
            return None
        parts = text.strip().split(":")
        if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
            return None
        numbers = [int(p) for p in parts]
        return cls(numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else None)


class MailSource(ABC):
    """A folder of mail, read incrementally and never changed unless configured.

    Errors: ``TransientError`` when the server cannot be reached (after the
    source's own reconnect attempts), ``PermanentError``/``AuthError`` when
    retrying will not help, ``ConfigError`` for a wrong setting.
    """

    #: "imap", "maildir" or "memory"
    kind: ClassVar[str] = ""
    #: names the cursor in the store; stable for one account and folder
    key: str = ""

    @abstractmethod
    def poll(self, cursor: str | None, *, limit: int = DEFAULT_BATCH) -> tuple[list[Incoming], str]:
        """Up to ``limit`` messages after ``cursor``, oldest first, and the cursor after them.

        With nothing new the list is empty and the cursor is returned (maybe
        refreshed).  Call again with the new cursor until the list is empty.
        """

    @abstractmethod
    def fetch_many(self, refs: Sequence[MessageRef]) -> Iterator[tuple[MessageRef, bytes]]:
        """The whole messages of ``refs``; a message that vanished meanwhile is left out."""

    def fetch(self, ref: MessageRef) -> bytes:
        """One whole message (``UnreadableMessage`` when it is no longer there)."""
        for _ref, raw in self.fetch_many([ref]):
            return raw
        raise UnreadableMessage(f"the message is no longer at {ref.location}", ref=ref.location)

    @property
    def down_since(self) -> datetime | None:
        """Since when the source has been unreachable (None: it answers, or it cannot be down)."""
        return None

    def cursor_before(self, ref: MessageRef) -> str:
        """The cursor after every message before ``ref``: ``ref`` and what follows are read again."""
        return str(UidCursor(ref.uidvalidity, ref.uid - 1))

    def backlog(self) -> int | None:
        """How many messages the last poll knew to be waiting after what it returned (None: unknown)."""
        return None

    def prefetch(self) -> None:  # noqa: B027  (optional)
        """A hint: the caller is busy for a while before its next poll, so the source may start
        reading the next batch now (a server works on it meanwhile).  Never raises.  Default: nothing."""

    def mark_done(self, refs: Sequence[MessageRef]) -> None:  # noqa: B027  (optional)
        """Tag or move handled messages, when configured; never deletes.  Default: nothing."""

    @abstractmethod
    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True when new mail may have arrived."""

    def close(self) -> None:  # noqa: B027  (optional for sources without resources)
        """Release connections and files."""

    def __enter__(self) -> MailSource:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


_KINDS = {
    "imap": "mailflow.sources.imap:ImapSource",
    "maildir": "mailflow.sources.maildir:MaildirSource",
    "memory": "mailflow.sources.memory:MemorySource",
}


def source_class(kind: str) -> type[MailSource]:
    """The class for ``kind``, imported only now (so imapclient loads only for IMAP)."""
    target = _KINDS.get(kind)
    if target is None:
        raise ConfigError(f'mailbox.kind: expected one of {", ".join(sorted(_KINDS))}, got "{kind}"')
    module, _, name = target.partition(":")
    cls: type[MailSource] = getattr(importlib.import_module(module), name)
    return cls


def open_source(settings: Settings) -> MailSource:
    """The source ``[mailbox]`` describes (not yet connected: the first poll connects)."""
    cls = source_class(settings.mailbox.kind)
    from_settings = getattr(cls, "from_settings", None)
    if from_settings is None:
        raise ConfigError(f'mailbox.kind = "{settings.mailbox.kind}" cannot be configured from a file')
    source: MailSource = from_settings(settings)
    return source
