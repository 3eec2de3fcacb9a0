"""``[owner] keep_files``: the files contacts sent (résumés, work samples) deleted once they are old.

A file is deleted when every attachment row that points at it was recorded more
than ``keep`` ago: files are stored by content (``attachments.py``), so one file
may stand for two rows, and a newer row keeps it.  What stays is honest about
what was there:

- the attachment row stays, with its name, type, size and SHA-256, and its
  ``path`` emptied: "" means the file is no longer on disk (so nothing points at
  a file that is gone, and ``forget`` has nothing left to delete);
- the message log gets one row per deleted attachment (kind ``file_deleted``,
  linked to its meeting and contact, no Message-ID), so ``mailflow show`` and
  ``mailflow messages`` say when and why it went;
- the log line (logger ``mailflow.retention``) names the file and its meeting
  and contact, never a path outside the data folder.

Keeping the row, rather than deleting it, also keeps the planner's view: a
contact who sent their résumé is not asked for it again.

The routine calls :func:`expire_daily` every tick; it works at most once a day
(the last run is kept in ``daemon_state``) and not at all while ``keep_files`` is
"" (forever).  A file that cannot be deleted is logged and tried again next day.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from mailflow.config import Settings, parse_keep
from mailflow.engine.attachments import SUBFOLDER
from mailflow.store import AttachmentRow, MessageData, Store, StoreTx
from mailflow.store.schema import attachments
from mailflow.text import one_line

log = logging.getLogger("mailflow.retention")

#: ``daemon_state`` key: when :func:`expire_daily` last ran (ISO 8601)
LAST_RUN = "retention_last_run"
#: how often :func:`expire_daily` works
EVERY = timedelta(days=1)
#: the message log's kind for a deleted file
KIND = "file_deleted"


@dataclass(frozen=True)
class ExpiredFile:
    """One file deleted (or found already gone) and the attachment rows marked for it."""

    path: str  # relative to the data folder, as it was stored
    filenames: tuple[str, ...]
    attachment_ids: tuple[int, ...]
    meeting_ids: tuple[int, ...]
    contact_ids: tuple[int, ...]
    removed: bool  # False: the file was not on disk any more; the rows were marked all the same


def is_deleted(row: AttachmentRow) -> bool:
    """The row's file was deleted under ``[owner] keep_files``."""
    return row.path == ""


def expire_daily(
    store: Store, settings: Settings, now: datetime, *, dry_run: bool = False
) -> list[ExpiredFile] | None:
    """:func:`expire_files` with ``[owner] keep_files``, at most once a day; None when it did not run
    (``keep_files`` is "", it ran less than a day ago, or ``dry_run``: a dry run deletes nothing)."""
    keep = parse_keep(settings.owner.keep_files)
    if keep is None or dry_run:
        return None
    with store.transaction() as tx:
        last_run = LAST_RUN if tx.owner_id == 1 else f"{LAST_RUN}/{tx.owner_id}"  # each owner's own day
        last = _instant(tx.kv_get(last_run))
        if last is not None and timedelta(0) <= now - last < EVERY:
            return None
        found = _expire(tx, settings.data_folder(), keep, now, settings.owner.keep_files)
        tx.kv_set(last_run, now.isoformat())
    return found


def expire_files(
    store: Store, data_folder: Path, keep: timedelta, now: datetime, *, setting: str = ""
) -> list[ExpiredFile]:
    """Delete the files under ``data_folder`` whose every attachment row is older than ``keep``."""
    with store.transaction() as tx:
        return _expire(tx, data_folder, keep, now, setting or f"{keep.days}d")


def _expire(
    tx: StoreTx, data_folder: Path, keep: timedelta, now: datetime, setting: str
) -> list[ExpiredFile]:
    cutoff = now - keep
    by_path: dict[str, list[AttachmentRow]] = defaultdict(list)
    for row in tx.list_attachments():
        if not is_deleted(row):
            by_path[row.path].append(row)
    expired = {path: rows for path, rows in by_path.items() if max(r.created_at for r in rows) < cutoff}
    folder = data_folder.resolve() / SUBFOLDER
    if expired and not folder.is_dir():
        # an unmounted disk must not turn every row into "deleted": nothing is marked, tried again tomorrow
        log.warning(
            "the data folder has no %s folder; %d expired file(s) left as they are", SUBFOLDER, len(expired)
        )
        return []
    done: list[ExpiredFile] = []
    for path, rows in sorted(expired.items()):  # a newer row of the same file (sent again) keeps it
        ids = [r.id for r in rows]
        # files are stored by content: another owner's row may hold the same bytes; this owner's rows
        # stop pointing at it, and the file goes when the last owner's rows expire
        shared = tx.connection.execute(
            select(attachments.c.id).where(attachments.c.path == path, attachments.c.id.not_in(ids)).limit(1)
        ).first()
        try:
            removed = False if shared is not None else _remove(folder, path, rows)
        except OSError as exc:
            log.warning(
                "could not delete %s (%s): %s; tried again tomorrow",
                _names(rows),
                _owners(rows),
                exc.strerror or type(exc).__name__,
            )
            continue
        # the path is emptied only after the file is gone: a crash in between leaves a row that
        # points at nothing, which the next run marks (the file counts as already removed)
        tx.connection.execute(update(attachments).where(attachments.c.id.in_(ids)).values(path=""))
        for row in rows:
            subject = f"{one_line(row.filename, 120) or 'a file'} deleted: [owner] keep_files = {setting}"
            tx.record_message(
                MessageData(
                    ref=None,
                    direction="out",
                    kind=KIND,
                    meeting_id=row.meeting_id,
                    contact_id=row.contact_id,
                    subject=subject,
                    sent_at=now,
                )
            )
        log.info(
            "deleted %s (%s), older than [owner] keep_files = %s%s",
            _names(rows),
            _owners(rows),
            setting,
            ""
            if removed
            else ("; the file stays for another owner" if shared else "; the file was already gone"),
        )
        done.append(
            ExpiredFile(
                path=path,
                filenames=tuple(dict.fromkeys(r.filename for r in rows)),
                attachment_ids=tuple(ids),
                meeting_ids=tuple(sorted({r.meeting_id for r in rows if r.meeting_id is not None})),
                contact_ids=tuple(sorted({r.contact_id for r in rows if r.contact_id is not None})),
                removed=removed,
            )
        )
    return done


def _remove(folder: Path, relative: str, rows: list[AttachmentRow]) -> bool:
    """Delete the file at ``relative`` (data-folder relative, under ``folder`` only); False when it was
    not there.  OSError when it is outside ``folder`` (then it is left alone, and its rows too)."""
    target = (folder.parent / relative).resolve()
    if not target.is_relative_to(folder) or target == folder:
        ids = ", ".join(str(r.id) for r in rows)
        raise OSError(0, f"attachment {ids} does not point under the data folder's {SUBFOLDER} folder")
    if not target.exists():
        return False
    target.unlink()
    parent = target.parent
    while parent != folder and parent.is_relative_to(folder) and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent
    return True


def _instant(text: str | None) -> datetime | None:
    try:
        found = None if text is None else datetime.fromisoformat(text)
    except ValueError:
        return None  # not a time: as if it never ran
    return found if found is not None and found.tzinfo is not None else None


def _names(rows: list[AttachmentRow]) -> str:
    return ", ".join(dict.fromkeys(one_line(r.filename, 120) or "a file" for r in rows))


def _owners(rows: list[AttachmentRow]) -> str:
    meetings = sorted({r.meeting_id for r in rows if r.meeting_id is not None})
    contacts = sorted({r.contact_id for r in rows if r.contact_id is not None})
    parts = [f"meeting {m}" for m in meetings] + [f"contact c{c}" for c in contacts]
    return ", ".join(parts) or "no meeting or contact"
