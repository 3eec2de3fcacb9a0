"""A local Maildir as a :class:`MailSource` (for mbsync, offlineimap and notmuch users).

Maildir has no UIDs, so this source keeps its own, like Dovecot's
``dovecot-uidlist``: a file in mailflow's data folder (never in the Maildir)
maps each message's unique name (the file name before ``:2,``) to a number,
assigned in arrival order.  The cursor is then ``UIDVALIDITY:UID`` as for
IMAP: a message renamed by a mail client (``new/`` to ``cur/``, flags
changed) keeps its number, and a lost list starts a new UIDVALIDITY, which
the engine's dedupe (Message-ID, then content hash) absorbs.

Files are only read.  The one change, when configured, is
``move_processed_to``: a rename into that Maildir++ folder.  Directories are
rescanned only when the mtime of ``new/`` or ``cur/`` changes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from mailflow import clock
from mailflow.config import Settings
from mailflow.errors import ConfigError, PermanentError
from mailflow.model import MessageRef
from mailflow.sources.base import DEFAULT_BATCH, Incoming, MailSource, UidCursor
from mailflow.sources.peek import look_at

log = logging.getLogger("mailflow.sources.maildir")

LIST_HEADER = "mailflow-maildir-uids 1"
_INFO = re.compile(r"[:!]2,.*$", re.DOTALL)
SUBDIRS = ("new", "cur")
#: a directory changed this recently may change again within its mtime's granularity
SETTLE_SECONDS = 2.0


def unique_name(file_name: str) -> str:
    """The Maildir unique name: the file name without its ``:2,FLAGS`` info."""
    return _INFO.sub("", file_name)


class MaildirSource(MailSource):
    """One Maildir folder (``[mailbox]`` with ``kind = "maildir"`` and ``path``)."""

    kind = "maildir"

    def __init__(
        self,
        path: Path,
        *,
        state_dir: Path,
        folder: str = "INBOX",
        move_processed_to: str = "",
        poll_every: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.root = path.expanduser()
        self.folder = folder or "INBOX"
        self.directory = _folder_dir(self.root, self.folder)
        self.move_to = move_processed_to.strip()
        self.poll_every, self._sleep = poll_every, sleep
        self.key = f"maildir:{self.directory}"
        digest = hashlib.sha256(str(self.directory.resolve()).encode()).hexdigest()[:16]
        self.list_file = state_dir / "maildir" / f"{digest}.uids"
        self._uid_of: dict[str, int] = {}
        self._where: dict[int, tuple[str, str]] = {}
        self._present: list[int] = []
        self._uidvalidity = 0
        self._next_uid = 1
        self._stamp: tuple[int, ...] | None = None
        self._scanned_at = 0.0
        self._backlog: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> MaildirSource:
        box = settings.mailbox
        if box.path is None:
            raise ConfigError(
                "mailbox.path: is empty; set it to your Maildir (the folder with cur/ and new/)"
            )
        if box.processed_keyword.strip():
            raise ConfigError(
                "mailbox.processed_keyword: keywords need IMAP; for a Maildir use move_processed_to"
            )
        return cls(
            box.path,
            state_dir=settings.data_folder(),
            folder=box.folder,
            move_processed_to=box.move_processed_to,
        )

    # -- the seam ------------------------------------------------------------
    def poll(self, cursor: str | None, *, limit: int = DEFAULT_BATCH) -> tuple[list[Incoming], str]:
        wanted = UidCursor.parse(cursor)
        self._scan()
        same = wanted is not None and wanted.uidvalidity == self._uidvalidity
        if wanted is not None and not same:
            log.warning(
                "the message list of %s is new: reading it again; known messages are skipped", self.directory
            )
        after = wanted.uid if wanted is not None and same else 0
        waiting = self._present[bisect_right(self._present, after) :]
        batch = waiting[: max(1, limit)]
        self._backlog = len(waiting) - len(batch)
        items = [look_at(ref, raw) for ref, raw in self._read(batch)]
        return items, str(UidCursor(self._uidvalidity, batch[-1] if batch else after))

    def fetch_many(self, refs: Sequence[MessageRef]) -> Iterator[tuple[MessageRef, bytes]]:
        self._scan()
        current = [r.uid for r in refs if r.uidvalidity == self._uidvalidity]
        by_uid = {r.uid: r for r in refs}
        for ref, raw in self._read(current):
            yield by_uid[ref.uid], raw

    def backlog(self) -> int | None:
        return self._backlog

    def mark_done(self, refs: Sequence[MessageRef]) -> None:
        if not self.move_to:
            return
        target = _folder_dir(self.root, self.move_to, create=True)
        for ref in refs:
            where = self._where.get(ref.uid) if ref.uidvalidity == self._uidvalidity else None
            if where is None:
                continue
            source = self.directory / where[0] / where[1]
            try:
                source.rename(target / "cur" / where[1])
            except FileNotFoundError:
                continue  # a mail client moved it meanwhile
            except OSError as exc:
                raise PermanentError(
                    f"cannot move {source} to {target}: {exc.strerror}", backend="mailbox"
                ) from exc
            self._where.pop(ref.uid, None)

    def wait(self, timeout: float) -> bool:
        deadline = clock.monotonic() + timeout
        while True:
            if self._directory_stamp() != self._stamp:
                return True
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                return False
            self._sleep(min(self.poll_every, remaining))

    # -- reading -----------------------------------------------------------------
    def _ref(self, uid: int, path: Path) -> MessageRef:
        return MessageRef(str(self.root), self.folder, self._uidvalidity, uid, str(path))

    def _read(self, uids: Sequence[int]) -> Iterator[tuple[MessageRef, bytes]]:
        for uid in uids:
            path = self._path(uid)
            raw = _read_file(path) if path is not None else None
            if raw is None:  # renamed by a mail client since the scan: look again once
                self._stamp = None
                self._scan()
                path = self._path(uid)
                raw = _read_file(path) if path is not None else None
            if raw is not None and path is not None:
                yield self._ref(uid, path), raw

    def _path(self, uid: int) -> Path | None:
        where = self._where.get(uid)
        return None if where is None else self.directory / where[0] / where[1]

    # -- the scan and the message list -----------------------------------------------
    def _directory_stamp(self) -> tuple[int, ...]:
        try:
            return tuple(os.stat(self.directory / sub).st_mtime_ns for sub in SUBDIRS)
        except OSError:
            return ()

    def _scan(self) -> None:
        stamp = self._directory_stamp()
        if not stamp:
            raise PermanentError(
                f"the Maildir {self.directory} cannot be read (cur/ or new/ is missing)",
                hint="check mailbox.path and mailbox.folder",
                backend="mailbox",
            )
        settled = self._scanned_at - max(stamp) / 1e9 > SETTLE_SECONDS
        if stamp == self._stamp and settled:
            return
        if not self._uidvalidity:
            self._load_list()
        found = self._list_files()
        self._number(found)
        self._where = {self._uid_of[base]: place for base, place in found.items()}
        self._present = sorted(self._where)
        self._stamp, self._scanned_at = stamp, time.time()

    def _list_files(self) -> dict[str, tuple[str, str]]:
        found: dict[str, tuple[str, str]] = {}
        for sub in SUBDIRS:
            with os.scandir(self.directory / sub) as entries:
                for entry in entries:
                    if not entry.name.startswith(".") and entry.is_file():
                        found[unique_name(entry.name)] = (sub, entry.name)
        return found

    def _number(self, found: dict[str, tuple[str, str]]) -> None:
        """Give each unknown message the next number, oldest file first; write them down first."""
        new = [base for base in found if base not in self._uid_of]
        if not new:
            return
        new.sort(key=lambda base: (_mtime(self.directory / found[base][0] / found[base][1]), base))
        lines = []
        for base in new:
            self._uid_of[base] = self._next_uid
            lines.append(f"{self._next_uid} {base}\n")
            self._next_uid += 1
        with self.list_file.open("a", encoding="utf-8") as handle:
            handle.write("".join(lines))
            handle.flush()
            os.fsync(handle.fileno())

    def _load_list(self) -> None:
        self.list_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            lines = self.list_file.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            lines = []
        header = lines[0].split(" ") if lines else []
        if len(header) >= 3 and " ".join(header[:2]) == LIST_HEADER and header[2].isdigit():
            self._uidvalidity = int(header[2])
            for line in lines[1:]:
                number, _, base = line.partition(" ")
                if number.isdigit() and base:
                    self._uid_of[base] = int(number)
            self._next_uid = max(self._uid_of.values(), default=0) + 1
            return
        self._uidvalidity = time.time_ns() // 1_000_000  # milliseconds: a lost list never reuses one
        self.list_file.write_text(f"{LIST_HEADER} {self._uidvalidity} {self.directory}\n", encoding="utf-8")


def _folder_dir(root: Path, folder: str, *, create: bool = False) -> Path:
    """The directory of ``folder``: the root for INBOX, else ``root/folder`` or Maildir++ ``root/.folder``."""
    if folder.upper() == "INBOX":
        candidates = [root]
    else:
        candidates = [root / folder, root / ("." + folder.replace("/", "."))]
    for candidate in candidates:
        if (candidate / "cur").is_dir() and (candidate / "new").is_dir():
            return candidate
    if create:
        target = candidates[-1]
        for sub in ("cur", "new", "tmp"):
            (target / sub).mkdir(parents=True, exist_ok=True)
        return target
    raise ConfigError(
        f"mailbox.path: {candidates[0]} is not a Maildir (it has no cur/ and new/ folders)"
        + ("" if folder.upper() == "INBOX" else f'; nor is {candidates[-1]} (mailbox.folder = "{folder}")')
    )


def _read_file(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:  # one unreadable file must not stop the others
        log.warning("cannot read %s (%s); it is skipped", path, exc.strerror)
        return None


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0
