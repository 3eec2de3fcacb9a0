"""Intake: new mail from the source, understood and recorded, one transaction per batch.

One batch (``batch_size`` messages, 500 by default)::

    poll (cheap first look) -> triage -> drop known Message-IDs -> fetch what is left
    -> understand each (attachments saved) -> ONE write transaction: records + cursor
    -> mark_done (only when a keyword or move is configured)

The cursor commits with the records it produced, so a crash re-reads the
batch and the dedupe (Message-ID, then content hash, then the source's
unique ref) drops what was recorded.  The write transaction never waits on
the network: fetching and parsing happen before it opens.

A message that cannot be understood (or recorded) is logged with the error
and its location, stays untouched in the mailbox, and the next one goes on;
``mailflow messages --errors`` lists them.  Only a broken database
(``StoreError``) or an unreachable source (``TransientError`` after the
source's own retries) ends a sync early, with nothing of that batch written.

Use::

    intake = Intake(store, open_source(settings), settings)
    summary = intake.sync()          # everything new, then returns
    intake.source.wait(5.0)          # IDLE slice; True when new mail may have arrived
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields, replace
from zoneinfo import ZoneInfo

from sqlalchemy.exc import InterfaceError, OperationalError

from mailflow import clock
from mailflow.config import Settings
from mailflow.engine.attachments import AttachmentFolder, SavedFile
from mailflow.engine.records import Prepared, Recorder, Tally, without_attachment_data
from mailflow.engine.triage import Known
from mailflow.errors import BackendError, TransientError
from mailflow.model import MessageRef, Understanding
from mailflow.sources import DEFAULT_BATCH, Incoming, MailSource
from mailflow.store import Store, StoreTx
from mailflow.text import one_line
from mailflow.understand import Context, understand

log = logging.getLogger("mailflow.engine.intake")

#: larger messages are logged as errors without being fetched (understanding refuses them too)
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
#: whole messages held in memory at once while fetching
FETCH_CHUNK_BYTES = 32 * 1024 * 1024
#: kinds that count as "handled" for mark_done
_HANDLED = ("invite", "update", "cancel", "reply", "counter", "request", "contact_reply", "owner_notes")

Understand = Callable[[bytes, Context], Understanding]
Progress = Callable[[int, int | None], None]


class _CursorMoved(Exception):
    """Another sync of the same source committed since this one polled."""

    def __init__(self, cursor: str | None) -> None:
        super().__init__(cursor)
        self.cursor = cursor


class _OneFailed(Exception):
    """A message failed in the optimistic pass: the batch is written again, carefully."""


@dataclass(frozen=True)
class _Batch:
    prepared: list[Prepared]
    polled_from: str | None
    cursor: str
    known: Known
    prechecked: frozenset[str]


@dataclass
class SyncSummary:
    """What one sync did; ``seen`` counts every new message, ``parsed`` those fully read."""

    seen: int = 0
    parsed: int = 0
    skipped: int = 0
    duplicates: int = 0
    vanished: int = 0
    meetings_created: int = 0
    meetings_updated: int = 0
    requests_created: int = 0
    notes_added: int = 0
    contact_replies: int = 0
    attachments_saved: int = 0
    errors: int = 0
    batches: int = 0
    first_sync: bool = False
    cursor: str = ""

    def merge(self, other: SyncSummary) -> None:
        """Add ``other``'s counts (not its flags or cursor)."""
        for f in fields(self):
            if f.type == "int":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def add(self, tally: Tally) -> None:
        for name in (f.name for f in fields(Tally)):
            setattr(self, name, getattr(self, name) + getattr(tally, name))

    def to_json(self) -> dict[str, object]:
        return asdict(self)


class Intake:
    """Syncs one source into the store; keep it for the life of the process."""

    def __init__(
        self,
        store: Store,
        source: MailSource,
        settings: Settings,
        *,
        understand_fn: Understand = understand,
        batch_size: int = DEFAULT_BATCH,
        fetch_chunk_bytes: int = FETCH_CHUNK_BYTES,
    ) -> None:
        self.store, self.source, self.settings = store, source, settings
        self.understand = understand_fn
        self.batch_size, self.fetch_chunk_bytes = max(1, batch_size), fetch_chunk_bytes
        self.files = AttachmentFolder(settings.data_folder(), settings.data.max_attachment_bytes)
        self.zone = settings.owner_zone()

    def wait(self, timeout: float) -> bool:
        """The source's wait: an IDLE slice (or a sleep); True when new mail may have arrived."""
        return self.source.wait(timeout)

    def close(self) -> None:
        """Close the source's connection (the store belongs to the caller)."""
        self.source.close()

    def sync(self, *, progress: Progress | None = None, max_batches: int | None = None) -> SyncSummary:
        """Read everything new (or ``max_batches`` batches) and record it.

        Raises ``TransientError`` when the source stays unreachable (nothing of
        the unfinished batch is written), ``AuthError``/``PermanentError`` for
        a refused login or a missing folder, ``StoreError`` when the database
        fails.  Every other problem is one message's, logged and counted in
        ``errors``.
        """
        summary = SyncSummary()
        with self.store.read() as tx:
            cursor = tx.get_cursor(self.source.key)
            known = Known.load(tx, self.settings.owner.addresses)
        summary.first_sync = cursor is None
        context = Context.from_settings(self.settings, is_our_message_id=known.is_ours)
        while max_batches is None or summary.batches < max_batches:
            items, next_cursor = self.source.poll(cursor, limit=self.batch_size)
            try:
                if items:
                    self._batch(items, cursor, next_cursor, known, context, summary)
                elif next_cursor != cursor:
                    self._save_cursor(cursor, next_cursor)
            except _CursorMoved as moved:  # another sync of this source wrote first: follow it
                log.info(
                    "another sync of %s recorded these messages; going on from its cursor", self.source.key
                )
                cursor = moved.cursor
                continue
            cursor = next_cursor
            backlog = self.source.backlog()
            if progress is not None:
                progress(summary.seen, summary.seen + backlog if backlog is not None else None)
            if not items or backlog == 0:
                break
        summary.cursor = cursor or ""
        return summary

    # -- one batch -------------------------------------------------------------
    def _batch(
        self,
        items: list[Incoming],
        polled_from: str | None,
        cursor: str,
        known: Known,
        context: Context,
        summary: SyncSummary,
    ) -> None:
        counts = SyncSummary(seen=len(items), batches=1)
        picked = [item for item in items if known.why(item)]
        counts.skipped = len(items) - len(picked)
        with self.store.read() as tx:
            fresh = _not_yet_recorded(tx, picked, self.zone)
        counts.duplicates = len(picked) - len(fresh)
        prepared = self._prepare(fresh, context, counts)
        prechecked = frozenset(item.message_id for item in fresh if item.message_id)
        batch = _Batch(prepared, polled_from, cursor, known, prechecked)
        tally, handled = (
            self._write(batch, careful=False) or self._write(batch, careful=True) or (Tally(), [])
        )
        counts.add(tally)
        summary.merge(counts)
        self._mark_done(handled)

    def _write(self, batch: _Batch, *, careful: bool) -> tuple[Tally, list[MessageRef]] | None:
        """The batch's one transaction.  Optimistic first (no savepoints); None asks for the careful way."""
        tally = Tally()
        try:
            with self.store.transaction() as tx:
                current = tx.get_cursor(self.source.key)
                if current != batch.polled_from:
                    raise _CursorMoved(current)
                recorder = Recorder(tx, self.zone, tally, batch.known, batch.prechecked)
                handled = [
                    p.item.ref for p in batch.prepared if _handled(self._record(tx, recorder, p, careful))
                ]
                tx.set_cursor(self.source.key, batch.cursor)
        except _OneFailed:
            return None  # rolled back: again, each message in its own savepoint
        batch.known.contacts |= recorder.new_contacts
        batch.known.meetings |= recorder.new_meetings
        return tally, handled

    def _prepare(self, items: list[Incoming], context: Context, summary: SyncSummary) -> list[Prepared]:
        prepared = [_too_large(item) for item in items if item.size > MAX_MESSAGE_BYTES]
        wanted = [item for item in items if item.size <= MAX_MESSAGE_BYTES]
        by_ref = {item.ref: item for item in wanted}
        for chunk in _chunks(wanted, self.fetch_chunk_bytes):
            for ref, raw in self.source.fetch_many([item.ref for item in chunk]):
                prepared.append(self._understand(by_ref[ref], raw, context))
                summary.parsed += 1
        summary.vanished += len(items) - len(prepared)
        return sorted(prepared, key=lambda p: p.item.ref.uid)

    def _understand(self, item: Incoming, raw: bytes, context: Context) -> Prepared:
        digest = hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()
        try:
            u = self.understand(raw, replace(context, received_at=clock.now()))
        except Exception as exc:  # the facade never raises; a substitute might
            u = Understanding(kind="unreadable", error=f"cannot be understood ({type(exc).__name__}: {exc})")
        return Prepared(item, digest, without_attachment_data(u), self._save_files(u, item))

    def _save_files(self, u: Understanding, item: Incoming) -> list[SavedFile]:
        saved = []
        for attachment in u.attachments:
            try:
                file = self.files.save(attachment)
            except (OSError, ValueError) as exc:
                log.warning("cannot save an attachment of %s: %s", item.ref.location, exc)
                continue
            if file is not None:
                saved.append(file)
        return saved

    def _record(
        self, tx: StoreTx, recorder: Recorder, prepared: Prepared, careful: bool
    ) -> tuple[str, str] | None:
        """Record one message; in careful mode in a savepoint, so a failure costs only its own rows."""
        try:
            if not careful:
                row = recorder.record(prepared)
            else:
                with tx.connection.begin_nested():
                    row = recorder.record(prepared)
        except (OperationalError, InterfaceError):
            raise  # the database itself is in trouble: the whole batch must not commit
        except Exception as exc:
            if not careful:
                raise _OneFailed from exc
            log.debug("recording %s failed", prepared.item.ref.location, exc_info=True)
            reason = f"could not be recorded ({type(exc).__name__}: {one_line(str(exc), 300)})"
            row = recorder.log(prepared, error=reason)
        return None if row is None else (row.kind, row.error)

    def _save_cursor(self, polled_from: str | None, cursor: str) -> None:
        with self.store.transaction() as tx:
            current = tx.get_cursor(self.source.key)
            if current != polled_from:
                raise _CursorMoved(current)
            tx.set_cursor(self.source.key, cursor)

    def _mark_done(self, refs: list[MessageRef]) -> None:
        if not refs:
            return
        try:
            self.source.mark_done(refs)
        except BackendError as exc:  # optional bookkeeping: the records are safe already
            log.warning("could not mark %d processed message(s): %s", len(refs), exc)


def _handled(result: tuple[str, str] | None) -> bool:
    return result is not None and result[0] in _HANDLED and not result[1]


def _not_yet_recorded(tx: StoreTx, items: list[Incoming], zone: ZoneInfo) -> list[Incoming]:
    """``items`` without those whose Message-ID is already recorded (saves fetching them)."""
    probe = Recorder(tx, zone, Tally())
    return [item for item in items if not (item.message_id and probe.already_recorded(item.message_id))]


def _too_large(item: Incoming) -> Prepared:
    error = f"the message is larger than {MAX_MESSAGE_BYTES // (1024 * 1024)} MB ({item.size} bytes)"
    return Prepared(item, "", Understanding(kind="unreadable", error=error, message_id=item.message_id))


def _chunks(items: Sequence[Incoming], limit: int) -> Iterator[list[Incoming]]:
    chunk: list[Incoming] = []
    size = 0
    for item in items:
        if chunk and size + item.size > limit:
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += item.size
    if chunk:
        yield chunk


def sync(
    store: Store,
    source: MailSource,
    settings: Settings,
    *,
    progress: Progress | None = None,
    batch_size: int = DEFAULT_BATCH,
    understand_fn: Understand = understand,
) -> SyncSummary:
    """One sync with a throwaway :class:`Intake`."""
    intake = Intake(store, source, settings, understand_fn=understand_fn, batch_size=batch_size)
    return intake.sync(progress=progress)


def watch(
    intake: Intake,
    *,
    stop: threading.Event,
    slice_seconds: float,
    on_summary: Callable[[SyncSummary], None],
    on_error: Callable[[Exception], None],
) -> None:
    """Sync, then wait in slices for new mail (IDLE), until ``stop`` is set.

    A source that cannot be reached is reported through ``on_error`` and tried
    again after the next slice; every other error ends the loop.  A sync also
    runs every ``[mailbox] poll_interval`` seconds as a safety net.
    """
    interval = float(intake.settings.mailbox.poll_interval)
    while not stop.is_set():
        try:
            on_summary(intake.sync())
        except TransientError as exc:
            on_error(exc)
        last = clock.monotonic()
        while not stop.is_set():
            if intake.source.wait(slice_seconds) or clock.monotonic() - last >= interval:
                break
