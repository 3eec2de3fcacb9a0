"""Saving attachments worth keeping (a résumé, work samples) under the data folder.

Files land in ``<data folder>/attachments/<aa>/<sha256 prefix>-<safe name>``:
content-addressed, so the same file twice is stored once and a file written
by a batch that was then rolled back is simply reused next time.  The name
comes from a stranger, so it is sanitised again here (``safe_filename``) and
the final path is checked to stay inside the folder; sizes are bounded by
``[data] max_attachment_bytes``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from mailflow.model import SavedAttachment
from mailflow.text import one_line, safe_filename

log = logging.getLogger("mailflow.engine.attachments")
SUBFOLDER = "attachments"


@dataclass(frozen=True)
class SavedFile:
    """A stored attachment; ``path`` is relative to the data folder."""

    path: str
    filename: str
    content_type: str
    size: int
    sha256: str


class AttachmentFolder:
    """Where attachments go; ``save`` returns None for a file that is too large."""

    def __init__(self, data_folder: Path, max_bytes: int) -> None:
        self.data_folder = data_folder
        self.root = data_folder / SUBFOLDER
        self.max_bytes = max_bytes

    def save(self, attachment: SavedAttachment) -> SavedFile | None:
        data = attachment.data
        if len(data) > self.max_bytes:
            log.info(
                "attachment %s skipped: %d bytes is over [data] max_attachment_bytes",
                one_line(attachment.filename, 80),
                len(data),
            )
            return None
        digest = hashlib.sha256(data).hexdigest()
        name = safe_filename(attachment.filename)
        target = self.root / digest[:2] / f"{digest[:16]}-{name}"
        if not target.resolve().is_relative_to(self.root.resolve()):
            raise ValueError(
                f"attachment name {name!r} leaves the attachments folder"
            )  # safe_filename prevents it
        if not target.exists():
            _write_atomically(target, data)
        return SavedFile(
            path=target.relative_to(self.data_folder).as_posix(),
            filename=name,
            content_type=one_line(attachment.content_type, 100),
            size=len(data),
            sha256=digest,
        )


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(target)
