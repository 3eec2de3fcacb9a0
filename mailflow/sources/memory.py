"""The in-memory twin of a mail folder, for tests of anything above the seam.

It keeps the IMAP semantics that matter: UIDs only grow, a recreated folder
gets a new UIDVALIDITY and renumbers its messages, and ``wait`` wakes up
when another thread adds a message.  Thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from mailflow.model import MessageRef
from mailflow.sources.base import DEFAULT_BATCH, Incoming, MailSource, UidCursor
from mailflow.sources.peek import look_at


@dataclass
class _Folder:
    uidvalidity: int
    next_uid: int = 1
    messages: dict[int, bytes] = field(default_factory=dict)


class MemorySource(MailSource):
    """Messages held in memory; ``add`` delivers, ``recreate`` changes the UIDVALIDITY."""

    kind = "memory"

    def __init__(self, messages: Iterable[bytes] = (), *, name: str = "memory", uidvalidity: int = 1) -> None:
        self.name = name
        self.key = f"memory:{name}"
        self._folder = _Folder(uidvalidity)
        self._changed = threading.Condition()
        self._version = 0
        self._seen_version = 0
        self._backlog: int | None = None
        #: refs passed to ``mark_done``, in order (tests read it)
        self.marked: list[MessageRef] = []
        self.polls = 0
        for raw in messages:
            self.add(raw)

    def add(self, raw: bytes) -> MessageRef:
        """Deliver one message; returns where it landed."""
        with self._changed:
            uid = self._folder.next_uid
            self._folder.messages[uid] = bytes(raw)
            self._folder.next_uid += 1
            self._version += 1
            self._changed.notify_all()
            return self._ref(uid)

    def remove(self, uid: int) -> None:
        with self._changed:
            self._folder.messages.pop(uid, None)

    def recreate(self) -> int:
        """Delete and recreate the folder with the same messages: new UIDVALIDITY, UIDs from 1."""
        with self._changed:
            old = self._folder
            self._folder = _Folder(old.uidvalidity + 1)
            for raw in (old.messages[uid] for uid in sorted(old.messages)):
                self._folder.messages[self._folder.next_uid] = raw
                self._folder.next_uid += 1
            self._version += 1
            self._changed.notify_all()
            return self._folder.uidvalidity

    @property
    def uidvalidity(self) -> int:
        return self._folder.uidvalidity

    # -- the seam ------------------------------------------------------------
    def poll(self, cursor: str | None, *, limit: int = DEFAULT_BATCH) -> tuple[list[Incoming], str]:
        wanted = UidCursor.parse(cursor)
        with self._changed:
            self.polls += 1
            self._seen_version = self._version
            folder = self._folder
            after = wanted.uid if wanted is not None and wanted.uidvalidity == folder.uidvalidity else 0
            waiting = sorted(uid for uid in folder.messages if uid > after)
            batch = waiting[: max(1, limit)]
            self._backlog = len(waiting) - len(batch)
            items = [look_at(self._ref(uid), folder.messages[uid]) for uid in batch]
            return items, str(UidCursor(folder.uidvalidity, batch[-1] if batch else after))

    def fetch_many(self, refs: Sequence[MessageRef]) -> Iterator[tuple[MessageRef, bytes]]:
        with self._changed:
            folder = self._folder
            found = [
                (ref, folder.messages[ref.uid])
                for ref in refs
                if ref.uidvalidity == folder.uidvalidity and ref.uid in folder.messages
            ]
        yield from found

    def backlog(self) -> int | None:
        return self._backlog

    def mark_done(self, refs: Sequence[MessageRef]) -> None:
        with self._changed:
            self.marked.extend(refs)

    def wait(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._version != self._seen_version, timeout=timeout)

    def _ref(self, uid: int) -> MessageRef:
        validity = self._folder.uidvalidity
        return MessageRef(
            self.key, "INBOX", validity, uid, f"{self.key}/INBOX;UIDVALIDITY={validity}/;UID={uid}"
        )
