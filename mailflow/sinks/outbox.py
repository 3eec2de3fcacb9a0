"""The file outbox: each message an .eml file, written atomically.

The embedded default when no SMTP server is configured: nothing leaves the
machine, and a person (or another program) picks the files up.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from mailflow import clock
from mailflow.errors import PermanentError
from mailflow.model import Receipt
from mailflow.sinks.base import MailSink, message_id_of


def file_key(message_id: str) -> str:
    """A short, file-system-safe key for a Message-ID (which comes from us, but still)."""
    return hashlib.sha256(message_id.encode("utf-8", "replace")).hexdigest()[:20]


class OutboxSink(MailSink):
    """Writes ``<folder>/<UTC time>-<key>.eml``; the rename makes each file appear whole."""

    kind = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def deliver(self, message: EmailMessage) -> Receipt:
        message_id = message_id_of(message)
        existing = self._path_for(message_id)
        if existing is not None:  # delivered before a crash: never two copies
            return Receipt(message_id, str(existing), "already in the outbox")
        stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
        target = self.folder / f"{stamp}-{file_key(message_id)}.eml"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _write_atomically(target, message.as_bytes(policy=SMTP))
        except OSError as exc:
            raise PermanentError(
                f"cannot write to the outbox folder {self.folder}: {exc.strerror}", backend="outbox"
            ) from exc
        return Receipt(message_id, str(target))

    def find(self, message_id: str) -> bool:
        return self._path_for(message_id) is not None

    def _path_for(self, message_id: str) -> Path | None:
        if not self.folder.is_dir():
            return None
        return next(iter(self.folder.glob(f"*-{file_key(message_id)}.eml")), None)


def _write_atomically(target: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".eml")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
