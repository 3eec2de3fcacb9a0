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
``mailflow messages --errors`` lists them.  Every message is understood in a
worker process under a CPU and a memory budget (``engine.workers``); one over
it is logged as unreadable with that reason.  Before a batch is read, one
more attempt at each of its messages is committed, and the batch's write
forgets them: a message that was being read when mailflow died twice is kept
aside (quarantined) instead of read a third time.  A daemon's sync stops
understanding after ``[intake] sync_seconds``: what is done is written with a
cursor just before the first message not done, and the next sync goes on.  Only a broken database
(``StoreError``) or an unreachable source (``TransientError`` after the
source's own retries) ends a sync early, with nothing of that batch written.

The understanding, the one expensive step, runs in the worker processes
(forked, one per CPU but one, the same results as the one-process path), and
this process works one batch ahead meanwhile: while the workers
parse batch N+1 it writes batch N, and while they parse N it polls N+1.
The source is asked to ``prefetch`` the batch after N+1 before N is
written, so an IMAP server works on it meanwhile.
Batch N+1 is triaged before N is written, so what N's records change is
caught up before N+1 is written: mail from a contact that N created is
picked late, and N's Message-IDs are looked up again.

Use::

    intake = Intake(store, open_source(settings), settings)
    summary = intake.sync()          # everything new, then returns
    intake.source.wait(5.0)          # IDLE slice; True when new mail may have arrived
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace

from sqlalchemy.exc import InterfaceError, OperationalError

from mailflow import clock
from mailflow.config import Settings
from mailflow.engine.attachments import AttachmentFolder, SavedFile
from mailflow.engine.records import Prepared, Recorder, Tally, without_attachment_data
from mailflow.engine.triage import Known
from mailflow.engine.workers import Budget, Job, Understand, Workers
from mailflow.errors import BackendError, TransientError, UsageError
from mailflow.model import MessageRef, Understanding
from mailflow.sources import DEFAULT_BATCH, Incoming, MailSource
from mailflow.store import MessageRow, Store, StoreTx
from mailflow.text import one_line
from mailflow.understand import Context, mime, understand

log = logging.getLogger("mailflow.engine.intake")

#: larger messages are logged as errors without being fetched (understanding refuses them too)
MAX_MESSAGE_BYTES = mime.MAX_MESSAGE_BYTES  # understanding refuses larger ones: not worth fetching
#: whole messages held in memory at once while fetching
FETCH_CHUNK_BYTES = 32 * 1024 * 1024
#: a message whose understanding was cut short by this many crashes is kept aside (quarantined)
QUARANTINE_AFTER = 2
#: kinds that count as "handled" for mark_done
_HANDLED = (
    "invite", "update", "cancel", "reply", "counter", "request", "contact_reply", "owner_notes", "contact_note"
)  # fmt: skip

Progress = Callable[[int, int | None], None]


class _CursorMoved(Exception):
    """Another sync of the same source committed since this one polled."""

    def __init__(self, cursor: str | None) -> None:
        super().__init__(cursor)
        self.cursor = cursor


class _OneFailed(Exception):
    """A message failed in the optimistic pass: the batch is written again, carefully."""


class _Deadline:
    """When a sync stops understanding: a time budget (the daemon's), a stop request, or never."""

    def __init__(self, seconds: float | None, should_stop: Callable[[], bool] | None) -> None:
        self.at = None if seconds is None else clock.monotonic() + seconds
        self.should_stop = should_stop
        #: messages understood in this sync
        self.answered = 0

    def passed(self) -> bool:
        if self.should_stop is not None and self.should_stop():
            return True
        # the time budget cuts only once this sync understood something: a message slower than a
        # whole sync still finishes under its own budget, so intake always moves on
        return self.at is not None and self.answered > 0 and clock.monotonic() >= self.at


@dataclass
class _Pending:
    """A batch's messages on their way to being understood: done, or in a worker with its raw bytes."""

    context: Context
    done: list[Prepared] = field(default_factory=list)
    waiting: list[tuple[Incoming, bytes, Job]] = field(default_factory=list)
    #: the first message left for the next sync when the deadline passed (None: all understood)
    cut: Incoming | None = None


@dataclass(frozen=True)
class _Batch:
    prepared: list[Prepared]
    polled_from: str | None
    cursor: str
    known: Known
    prechecked: frozenset[str]
    attempted: list[MessageRef] = field(default_factory=list)


@dataclass
class SyncSummary(Tally):
    """What one sync did: the records' tally, and ``seen`` (every new message), ``parsed`` (those read in full)."""

    seen: int = 0
    parsed: int = 0
    skipped: int = 0
    vanished: int = 0
    batches: int = 0
    #: messages over the CPU or memory budget, and those kept aside after crashes
    over_budget: int = 0
    quarantined: int = 0
    first_sync: bool = False
    #: the time budget ran out (or a stop came) with mail left to read: the next sync goes on
    more: bool = False
    cursor: str = ""

    def merge(self, other: SyncSummary) -> None:
        """Add ``other``'s counts (not its flags or cursor)."""
        self.more = self.more or other.more
        for f in fields(self):
            if f.type == "int":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def add(self, tally: Tally) -> None:
        for name in (f.name for f in fields(Tally)):
            setattr(self, name, getattr(self, name) + getattr(tally, name))

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class _Started:
    """A batch between its first half (triage, fetch, understanding started) and its write."""

    fresh: list[Incoming]
    skipped: list[Incoming]
    pending: _Pending
    counts: SyncSummary
    known: Known
    polled_from: str | None
    cursor: str
    #: Message-IDs found unrecorded before the batch was begun (less those recorded since)
    prechecked: frozenset[str] = frozenset()


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
        workers: int | None = None,
    ) -> None:
        self.store, self.source, self.settings = store, source, settings
        self.understand = understand_fn
        #: the budgeted worker processes (None: one fewer than the CPUs, at least one; 0: all here)
        self.workers = Workers(workers, Budget.from_settings(settings), on_hand_off=self._hand_off)
        self._deadline = _Deadline(None, None)
        #: messages handed to a worker and not yet recorded (their attempts are put back if not)
        self._unwritten: set[MessageRef] = set()
        self._quarantined = 0
        self.batch_size, self.fetch_chunk_bytes = max(1, batch_size), fetch_chunk_bytes
        self.files = AttachmentFolder(settings.data_folder(), settings.data.max_attachment_bytes)
        self.zone = settings.owner_zone()

    def wait(self, timeout: float) -> bool:
        """The source's wait: an IDLE slice (or a sleep); True when new mail may have arrived."""
        return self.source.wait(timeout)

    def close(self) -> None:
        """Close the source's connection (the store belongs to the caller)."""
        self.source.close()

    def sync(
        self,
        *,
        progress: Progress | None = None,
        max_batches: int | None = None,
        seconds: float | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> SyncSummary:
        """Read everything new (or ``max_batches`` batches) and record it.

        ``seconds``: stop understanding after this long (the daemon's ``[intake]
        sync_seconds``), record what is done and leave the rest for the next
        sync (``more`` says so); ``should_stop`` likewise, for a daemon asked
        to stop.

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
        self.workers.start(self.understand, context)
        self._deadline = _Deadline(seconds, should_stop)
        self._unwritten = set()
        try:
            return self._sync(cursor, known, context, summary, progress, max_batches)
        finally:
            self.workers.stop()
            self._put_back_unwritten()

    def retry(self, message_row_id: int) -> MessageRow:
        """Read one logged message again (an error row: over a budget, quarantined, unreadable) and
        record it afresh, replacing its old row; returns the new row (which may have an error again).

        It is fetched from the source where the log says it is and understood
        under the budget of the current settings (a larger one may be set for
        this run).  ``UsageError`` when the row is no such message,
        ``UnreadableMessage`` when it is no longer in the mailbox.
        """
        with self.store.read() as tx:
            row = tx.get_message(message_row_id)
            known = Known.load(tx, self.settings.owner.addresses)
        ref = _retry_ref(row, message_row_id)
        raw = self.source.fetch(ref)
        context = Context.from_settings(self.settings, is_our_message_id=known.is_ours)
        self.workers.start(self.understand, context)
        try:
            understanding = self.workers.understand_now(raw, clock.now())
        finally:
            self.workers.stop()
        assert row is not None
        item = Incoming(ref, len(raw), sender=row.sender, message_id=row.message_id, subject=row.subject)
        prepared = self._prepared(item, raw, understanding)
        with self.store.transaction() as tx:
            tx.delete_message(message_row_id)
            tx.clear_attempts(self.source.key, [ref])
            recorder = Recorder(tx, self.zone, Tally(), known, acknowledge=self.settings.intake.acknowledge)
            new_row = recorder.record(prepared)
            if new_row is None:  # recorded meanwhile from another copy: the log keeps that one
                new_row = recorder.already_recorded(
                    understanding.message_id or row.message_id, prepared.content_hash
                )
        if new_row is None:
            raise UsageError(f"message {message_row_id} is recorded already; nothing to retry")
        return new_row

    def _sync(
        self,
        cursor: str | None,
        known: Known,
        context: Context,
        summary: SyncSummary,
        progress: Progress | None,
        max_batches: int | None,
    ) -> SyncSummary:
        begun: _Started | None = None  # read and (in the workers) being understood; not yet written
        polling = max_batches is None or max_batches > 0
        over_budget_before, quarantined_before = self.workers.over_budget, self._quarantined
        while polling or begun is not None:
            items: list[Incoming] = []
            next_cursor, started, backlog = cursor, None, self.source.backlog()
            if polling:
                items, next_cursor, started = self._next(cursor, known, context, begun, summary)
                backlog = self.source.backlog()
                polled = summary.batches + (begun is not None) + (started is not None)
                if items and backlog and (max_batches is None or polled < max_batches):
                    self.source.prefetch()  # the server reads the next batch while this one is written
            try:
                if begun is not None:
                    written = self._end(begun, summary)
                    if (
                        written != begun.cursor
                    ):  # cut short: the rest (and ``started``) waits for the next sync
                        cursor, begun, summary.more = written, None, True
                        break
                    if started is not None:  # what begun recorded is looked up again
                        started.prechecked -= {i.message_id for i in begun.fresh}
                if started is not None and not self.workers.available:  # understood already: write it now
                    written = self._end(started, summary)
                    started = None
                    if written != next_cursor:
                        cursor, summary.more = written, True
                        break
                if not items and next_cursor is not None and next_cursor != cursor:
                    self._save_cursor(cursor, next_cursor)
            except _CursorMoved as moved:  # another sync of this source wrote first: follow it
                log.info(
                    "another sync of %s recorded these messages; going on from its cursor", self.source.key
                )
                cursor, begun = moved.cursor, None
                polling = max_batches is None or summary.batches < max_batches
                continue
            begun, cursor = started, next_cursor
            if polling and progress is not None:
                seen = summary.seen + (begun.counts.seen if begun else 0)
                progress(seen, seen + backlog if backlog is not None else None)
            batches = summary.batches + (begun is not None)
            polling = (
                polling and bool(items) and backlog != 0 and (max_batches is None or batches < max_batches)
            )
            if polling and self._deadline.passed():
                polling, summary.more = False, True
        summary.over_budget += self.workers.over_budget - over_budget_before
        summary.quarantined += self._quarantined - quarantined_before
        summary.cursor = cursor or ""
        return summary

    def _next(
        self, cursor: str | None, known: Known, context: Context, begun: _Started | None, summary: SyncSummary
    ) -> tuple[list[Incoming], str, _Started | None]:
        """Poll the next batch and begin it; a source that fails lets ``begun`` be written first."""
        try:
            items, next_cursor = self.source.poll(cursor, limit=self.batch_size)
            started = self._begin(items, cursor, next_cursor, known, context) if items else None
        except TransientError:
            if begun is not None:  # what was read is recorded before giving up
                with contextlib.suppress(_CursorMoved):
                    self._end(begun, summary)
            raise
        return items, next_cursor, started

    # -- one batch -------------------------------------------------------------
    def _begin(
        self, items: list[Incoming], polled_from: str | None, cursor: str, known: Known, context: Context
    ) -> _Started:
        """Triage, drop what is recorded, fetch the rest and start understanding it."""
        counts = SyncSummary(seen=len(items), batches=1)
        picked = [item for item in items if known.why(item)]
        counts.skipped = len(items) - len(picked)
        with self.store.read() as tx:
            fresh = _not_yet_recorded(tx, picked)
        counts.duplicates = len(picked) - len(fresh)
        pending = self._prepare(fresh, context, counts)
        chosen = {id(item) for item in picked}
        skipped = [item for item in items if id(item) not in chosen]
        if log.isEnabledFor(logging.DEBUG):  # `--log-level debug`: why each message was not read
            for item in skipped:
                log.debug(
                    "passed over %s from %s (%s): no calendar data, not from the owner or a contact, "
                    "not a reply to mailflow", item.ref.location, one_line(item.sender or "?", 120),
                    one_line(item.subject, 120),
                )  # fmt: skip
        prechecked = frozenset(item.message_id for item in fresh if item.message_id)
        return _Started(fresh, skipped, pending, counts, known, polled_from, cursor, prechecked)

    def _end(self, started: _Started, summary: SyncSummary) -> str:
        """The understanding finished (or cut short), then the batch's one write transaction and
        ``mark_done``; returns the cursor written (``started.cursor`` unless cut short)."""
        self._pick_late(started)
        counts, fresh, cursor = started.counts, started.fresh, started.cursor
        prepared = sorted(self._settle(started.pending), key=lambda p: p.item.ref.uid)
        cut = started.pending.cut
        if cut is not None:  # what comes from the cut on is read again by the next sync
            prepared = [p for p in prepared if p.item.ref.uid < cut.ref.uid]
            fresh = [item for item in fresh if item.ref.uid < cut.ref.uid]
            cursor = self.source.cursor_before(cut.ref)
            log.info("understanding paused at %s; the next sync goes on from there", cut.ref.location)
        counts.vanished += len(fresh) - len(prepared)
        recorded = [p.item.ref for p in prepared]
        batch = _Batch(prepared, started.polled_from, cursor, started.known, started.prechecked, recorded)
        tally, handled = (
            self._write(batch, careful=False) or self._write(batch, careful=True) or (Tally(), [])
        )
        counts.add(tally)
        summary.merge(counts)
        self._mark_done(handled)
        return cursor

    def _pick_late(self, started: _Started) -> None:
        """What matters only since the batch was begun (a contact the batch before created)."""
        late = [item for item in started.skipped if started.known.why(item)]
        cut = started.pending.cut
        late = [item for item in late if cut is None or item.ref.uid < cut.ref.uid]  # beyond: read again
        if not late:
            return
        with self.store.read() as tx:
            fresh = _not_yet_recorded(tx, late)
        counts = started.counts
        counts.skipped -= len(late)
        counts.duplicates += len(late) - len(fresh)
        extra = self._prepare(fresh, started.pending.context, counts)
        started.pending.done += self._settle(extra)
        if extra.cut is not None:  # the batch is written only up to the lower of the two cuts
            started.pending.cut = _lower(started.pending.cut, extra.cut)
        started.fresh += fresh
        started.prechecked |= {item.message_id for item in fresh if item.message_id}

    def _write(self, batch: _Batch, *, careful: bool) -> tuple[Tally, list[MessageRef]] | None:
        """The batch's one transaction.  Optimistic first (no savepoints); None asks for the careful way."""
        tally = Tally()
        try:
            with self.store.transaction() as tx:
                current = tx.get_cursor(self.source.key)
                if current != batch.polled_from:
                    raise _CursorMoved(current)
                recorder = Recorder(
                    tx,
                    self.zone,
                    tally,
                    batch.known,
                    batch.prechecked,
                    acknowledge=self.settings.intake.acknowledge,
                )
                handled = [
                    p.item.ref for p in batch.prepared if _handled(self._record(tx, recorder, p, careful))
                ]
                tx.clear_attempts(self.source.key, batch.attempted)
                tx.set_cursor(self.source.key, batch.cursor)
        except _OneFailed:
            return None  # rolled back: again, each message in its own savepoint
        self._unwritten.difference_update(batch.attempted)
        batch.known.contacts |= recorder.new_contacts
        batch.known.meetings |= recorder.new_meetings
        return tally, handled

    def _prepare(self, items: list[Incoming], context: Context, counts: SyncSummary) -> _Pending:
        """Count the attempt, fetch in chunks of bounded size and hand each message to the workers;
        only the last chunk may still be in the workers on return."""
        pending = _Pending(context, done=[_too_large(i) for i in items if i.size > MAX_MESSAGE_BYTES])
        wanted = [item for item in items if item.size <= MAX_MESSAGE_BYTES]
        by_ref = {item.ref: item for item in wanted}
        for chunk in _chunks(wanted, self.fetch_chunk_bytes):
            self._settle(pending)  # one chunk's bytes in memory at a time
            if pending.cut is not None:
                pending.cut = _lower(pending.cut, chunk[0])
                break
            for ref, raw in self.source.fetch_many([item.ref for item in chunk]):
                item = by_ref[ref]
                pending.waiting.append((item, raw, self.workers.submit(raw, clock.now(), tag=item)))
                counts.parsed += 1
        return pending

    def _hand_off(self, job: Job) -> Understanding | None:
        """Just before a message is read: one more attempt at it, committed first, so a crash while it
        is read is counted; one that crashes were cut short at too often is kept aside instead."""
        item = job.tag
        if not isinstance(item, Incoming):
            return None
        with self.store.transaction() as tx:
            before = tx.bump_attempts(self.source.key, [item.ref]).get(
                (item.ref.uidvalidity, item.ref.uid), 0
            )
        if before >= QUARANTINE_AFTER:  # its count stays until it is recorded as quarantined
            self._quarantined += 1
            return _quarantined(item).understanding
        self._unwritten.add(item.ref)
        return None

    def _settle(self, pending: _Pending) -> list[Prepared]:
        """Everything in ``pending`` below its cut understood (the workers' answers), up to the deadline:
        a message still unanswered then becomes the cut, unless a lower one is already."""
        for item, raw, job in pending.waiting:
            if pending.cut is not None and item.ref.uid >= pending.cut.ref.uid:
                continue
            u = self.workers.result(job, give_up=self._deadline.passed)
            if u is None:
                pending.cut = _lower(pending.cut, item)
                continue
            self._deadline.answered += 1
            pending.done.append(self._prepared(item, raw, u))
        pending.waiting = []
        return pending.done

    def _prepared(self, item: Incoming, raw: bytes, u: Understanding) -> Prepared:
        digest = hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()
        if u.kind == "unreadable" and not u.message_id:  # a worker's budget answer knows no headers
            u = replace(u, message_id=item.message_id)
        return Prepared(item, digest, without_attachment_data(u), self._save_files(u, item))

    def _put_back_unwritten(self) -> None:
        """Attempts at messages this sync read but did not record (a stop, a lost connection) do not
        count as crashes: they are forgotten, so only a real crash counts."""
        if not self._unwritten:
            return
        try:
            with self.store.transaction() as tx:
                tx.clear_attempts(self.source.key, self._unwritten)
        except Exception as exc:  # the database is in trouble already; the caller hears of it
            log.warning("could not clear the attempts of %d message(s): %s", len(self._unwritten), exc)
        self._unwritten = set()

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
            try:
                with tx.connection.begin_nested():
                    row = recorder.log(prepared, error=reason)
            except (OperationalError, InterfaceError):
                raise
            except Exception:  # what broke the record breaks its log row too (a date): log the bare facts
                recorder.tally.errors -= 1  # that row was rolled back; the bare one counts instead
                bare = Understanding(kind="unreadable", message_id=prepared.understanding.message_id)
                row = recorder.log(replace(prepared, understanding=bare), error=reason)
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


def _retry_ref(row: MessageRow | None, row_id: int) -> MessageRef:
    """Where the logged message ``row`` is, when it is one that may be read again."""
    hint = "`mailflow messages --errors` lists the messages that can be retried"
    if row is None:
        raise UsageError(f"there is no message {row_id}", hint=hint)
    if row.direction != "in" or row.uid is None or row.uidvalidity is None:
        raise UsageError(f"message {row_id} is mail mailflow sent, not mail it read", hint=hint)
    if not row.error:
        raise UsageError(f"message {row_id} was understood already (as {row.kind or 'nothing'})", hint=hint)
    return MessageRef(row.account or "", row.folder or "", row.uidvalidity, row.uid, row.location)


def _handled(result: tuple[str, str] | None) -> bool:
    return result is not None and result[0] in _HANDLED and not result[1]


def _not_yet_recorded(tx: StoreTx, items: list[Incoming]) -> list[Incoming]:
    """``items`` without those whose Message-ID is already recorded (saves fetching them)."""
    recorded = tx.recorded_message_ids(item.message_id for item in items)
    return [item for item in items if not (item.message_id and item.message_id in recorded)]


def _too_large(item: Incoming) -> Prepared:
    error = f"the message is larger than {MAX_MESSAGE_BYTES // (1024 * 1024)} MB ({item.size} bytes)"
    return Prepared(item, "", Understanding(kind="unreadable", error=error, message_id=item.message_id))


def _lower(cut: Incoming | None, item: Incoming) -> Incoming:
    """The earlier of two cuts (by UID)."""
    return item if cut is None or item.ref.uid < cut.ref.uid else cut


def _quarantined(item: Incoming) -> Prepared:
    error = (
        f"quarantined: mailflow stopped {QUARANTINE_AFTER} times while understanding it (a crash, or it was "
        "killed); `mailflow messages --retry ID` tries again"
    )
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
