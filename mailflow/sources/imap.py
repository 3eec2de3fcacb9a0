"""An IMAP folder as a :class:`MailSource`: one persistent connection, read by UID.

What goes over the wire, and why:

- Login through ``mailflow.net.imap.connect_imap`` (TLS verified, password,
  password command or XOAUTH2 token command re-run at every login).
  ``ENABLE CONDSTORE`` when offered, then EXAMINE (read-only) the folder, or
  SELECT when a processed keyword or move is configured.
- A poll is one ``NOOP`` (Dovecot shows new mail to a selected connection
  only after a syncing command); ``UID SEARCH UID n:*`` follows only when the
  server said EXISTS or EXPUNGE, to any command or in IDLE, since the last
  search.  So a poll without new mail is one round trip, with new mail two.
  ``UID n:*`` always matches the last message (RFC 3501), so UIDs up to the
  cursor are dropped here.  Right after a (re)connect the SELECT answer often
  suffices: the same HIGHESTMODSEQ as the cursor (CONDSTORE), or a UIDNEXT at
  the cursor, means nothing is new.  The folder is selected afresh every
  ``refresh_after`` seconds, which also bounds what a missed EXISTS could
  delay.
- The first look is one ``UID FETCH`` per 500 UIDs of RFC822.SIZE,
  BODYSTRUCTURE and five header fields (``imap_wire``); whole messages are
  fetched (``BODY.PEEK[]``) only for what the engine picks.  Only PEEK:
  ``\\Seen`` is never set.  While more UIDs wait, ``prefetch`` sends the
  look for the next batch ahead, and the next command reads its answer
  first: the server computes BODYSTRUCTURE (its slowest part of a first
  sync) while the engine writes the batch before.
- Waiting is IDLE in short slices (``idle_check(timeout)``), re-issued after
  ``idle_renew`` (well inside RFC 2177's 29 minutes); without IDLE, ``wait``
  sleeps until the next poll is due.
- Liveness: a connection that goes silent is noticed by mailflow itself.
  NOOP, DONE, IDLE's go-ahead and a new connection's greeting must be
  answered within ``LIVENESS_SECONDS`` (or ``[mailbox] timeout`` when
  shorter), other commands within ``[mailbox] timeout``; an IDLE that heard
  nothing for ``QUIET_SECONDS`` is ended with DONE, which a live server
  answers at once (the next poll would end it anyway).  So a wait notices
  within ``QUIET_SECONDS + LIVENESS_SECONDS`` (13 s), a poll within
  ``LIVENESS_SECONDS``.  TCP keepalive is not relied on: a proxy or load
  balancer on the way answers it for a dead server.
- A dropped connection is reopened at once, then with capped exponential
  backoff and jitter, for up to ``retry_for`` seconds; then
  ``TransientError``.  A new connection that gets no greeting is not waited
  for again in the same call (each try would cost ``LIVENESS_SECONDS``).
  From then on the source is down (``down_since``, ``last_error``): each
  later call tries once when its backoff is over (up to ``max_backoff``)
  and otherwise raises ``TransientError`` at once, so a dead server never
  holds up the caller for long; ``wait`` sleeps until the next try.
- Nothing is ever deleted.  ``mark_done`` adds ``processed_keyword`` and/or
  moves to ``move_processed_to`` (MOVE, or COPY when the server lacks MOVE).
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote

from imapclient import IMAPClient

from mailflow import clock
from mailflow.config import MailboxSettings, Settings, parse_duration
from mailflow.errors import AuthError, BackendError, ConfigError, PermanentError, TransientError
from mailflow.model import MessageRef
from mailflow.net.imap import (
    answered_within,
    close_quietly,
    connect_imap,
    imap_endpoint,
    imap_errors,
    liveness_seconds,
    timed_out,
)
from mailflow.sources.base import DEFAULT_BATCH, Incoming, MailSource, UidCursor
from mailflow.sources.imap_wire import (
    UID_BATCH,
    FetchRecord,
    FetchRefused,
    read_fetch,
    send_fetch,
    take_changes,
    uid_fetch,
)
from mailflow.sources.peek import LOOK_FIELDS, incoming_from_header
from mailflow.text import one_line

log = logging.getLogger("mailflow.sources.imap")
T = TypeVar("T")

LOOK_ITEMS = f"(UID RFC822.SIZE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS ({' '.join(LOOK_FIELDS)})])"
BODY_ITEMS = "(UID BODY.PEEK[])"
_KEYWORD = re.compile(r"^[A-Za-z0-9$_.+-]{1,64}$")
Connect = Callable[[MailboxSettings, str], IMAPClient]
#: an IDLE that heard nothing from the server for this long is ended (DONE) to prove the connection
#: alive; with the answer's own LIVENESS_SECONDS, a silent connection is noticed within their sum
QUIET_SECONDS = 5.0


@dataclass
class _Selected:
    """What the SELECT (or EXAMINE) answered; ``fresh`` until the first poll uses it."""

    uidvalidity: int
    uidnext: int | None
    modseq: int | None
    fresh: bool = True


@dataclass
class _Ahead:
    """A look sent ahead: its tag until its answer is read, then its records."""

    uidvalidity: int
    uids: list[int]
    tag: bytes
    records: list[FetchRecord] | None = None


@dataclass(frozen=True)
class _Known:
    """UIDs the last search found after ``after``, sorted: later polls page through them."""

    uidvalidity: int
    after: int
    uids: list[int]


def backoff(attempt: int, *, first: float = 0.25, cap: float = 30.0) -> float:
    """Seconds to wait before reconnect ``attempt`` (0, 1, ...): doubling, capped, jittered."""
    ceiling = min(cap, first * 2 ** min(attempt, 32))
    return random.uniform(ceiling / 2, ceiling)


class ImapSource(MailSource):
    """One folder of an IMAP account (``[mailbox]`` with ``kind = "imap"``)."""

    kind = "imap"

    def __init__(
        self,
        account: MailboxSettings,
        *,
        section: str = "mailbox",
        idle_renew: float = 600.0,
        refresh_after: float | None = None,
        retry_for: float = 120.0,
        max_backoff: float = 30.0,
        connect: Connect = connect_imap,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.account, self.section = account, section
        self.endpoint = imap_endpoint(account, section)
        self.folder = account.folder or "INBOX"
        self.keyword, self.move_to = account.processed_keyword.strip(), account.move_processed_to.strip()
        if self.keyword and not _KEYWORD.match(self.keyword):
            raise ConfigError(
                f'{section}.processed_keyword: "{one_line(self.keyword, 60)}" is not a valid IMAP keyword '
                "(letters, digits and $_.+- only)"
            )
        self.idle_renew, self.retry_for, self.max_backoff = idle_renew, retry_for, max_backoff
        #: the short timeout of NOOP, DONE, IDLE's go-ahead and the greeting
        self.liveness = liveness_seconds(account)
        self.refresh_after = idle_renew if refresh_after is None else refresh_after
        self._connect, self._sleep = connect, sleep
        user = quote(account.username, safe="")
        self.account_id = f"{user}@{self.endpoint.host}"
        self.key = f"imap://{self.account_id}:{self.endpoint.port}/{quote(self.folder, safe='')}"
        self._client: IMAPClient | None = None
        self._selected: _Selected | None = None
        self._selected_at = 0.0
        self._capabilities: frozenset[str] = frozenset()
        self._known: _Known | None = None
        #: the next batch's UIDs (what prefetch would look at) and a look sent ahead
        self._following: list[int] = []
        self._ahead: _Ahead | None = None
        self._backlog: int | None = None
        self._idle_since: float | None = None
        self._last_poll = clock.monotonic()
        self._moved_folder_ready = False
        self._news = False
        #: the server said EXISTS or EXPUNGE since the last search (so the next poll must search)
        self._dirty = False
        #: when the server last answered (monotonic): an IDLE quiet for QUIET_SECONDS is checked
        self._heard_at = 0.0
        #: the outage: since when, why, failed connection attempts in a row, and when to try again
        self._down_since: datetime | None = None
        self._last_error = ""
        self._failures = 0
        self._retry_at = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ImapSource:
        renew = parse_duration(settings.daemon.idle_renew).total_seconds()
        # a refused server is retried within one call for 30 s at most: the daemon's other loops do
        # not wait for it, but a stop does
        return cls(settings.mailbox, idle_renew=min(renew, 25 * 60), retry_for=30.0)

    # -- what `status` shows ---------------------------------------------------
    @property
    def down_since(self) -> datetime | None:
        """When the connection to the server was lost or could not be made (UTC); None while it works."""
        return self._down_since

    @property
    def last_error(self) -> str:
        """The last connection problem, one sentence ("" if none yet); kept after the connection is back."""
        return self._last_error

    @property
    def next_attempt(self) -> datetime | None:
        """While down: when the next connection attempt is due (UTC); None otherwise."""
        if self._down_since is None:
            return None
        return clock.now() + timedelta(seconds=max(0.0, self._retry_at - clock.monotonic()))

    # -- the seam ------------------------------------------------------------
    def poll(self, cursor: str | None, *, limit: int = DEFAULT_BATCH) -> tuple[list[Incoming], str]:
        wanted = UidCursor.parse(cursor)
        self._last_poll = clock.monotonic()
        return self._run("look for new mail in", lambda c, s: self._poll(c, s, wanted, max(1, limit)))

    def fetch_many(self, refs: Sequence[MessageRef]) -> Iterator[tuple[MessageRef, bytes]]:
        if refs:
            yield from self._run("fetch messages from", lambda c, s: self._fetch(c, s, refs))

    def backlog(self) -> int | None:
        return self._backlog

    def prefetch(self) -> None:
        client, selected, uids = self._client, self._selected, self._following
        if client is None or selected is None or self._ahead is not None or not uids:
            return
        try:
            with imap_errors(self.endpoint):
                self._end_idle(client)
                tag = send_fetch(client, uids, LOOK_ITEMS)
        except BackendError as exc:  # a hint only: the next poll reconnects and reports
            log.debug("could not send the next look ahead: %s", exc)
            self._drop()
            return
        self._ahead = _Ahead(selected.uidvalidity, uids, tag)

    def mark_done(self, refs: Sequence[MessageRef]) -> None:
        if refs and (self.keyword or self.move_to):
            self._run("mark processed messages in", lambda c, s: self._mark(c, s, refs))

    def wait(self, timeout: float) -> bool:
        started = clock.monotonic()
        if self._client is None and started < self._retry_at:  # down: nothing to do before the next try
            self._sleep(min(timeout, self._retry_at - started))
            return False
        was_down = self._down_since is not None
        try:
            client, _selected = self._attempt()
            if was_down:  # back after an outage: mail may have come meanwhile
                return True
            if self._news or take_changes(client):  # new mail told with a look that was sent ahead
                self._news = False
                self._dirty = True
                return True
            if not (self.account.idle and "IDLE" in self._capabilities):
                return self._poll_wait(timeout)
            return self._idle_wait(client, timeout)
        except BackendError as exc:
            # a wait never raises: the next poll (or wait) reconnects when the backoff allows, and reports
            log.warning("waiting for mail on %s failed: %s", self.endpoint.address, exc)
            self._lost(exc)
            self._sleep(max(0.0, min(timeout, 5.0) - (clock.monotonic() - started)))
            return False

    def close(self) -> None:
        self._drop(polite=True)

    def location(self, uidvalidity: int, uid: int) -> str:
        """RFC 5092 style: ``imap://user@host:port/INBOX;UIDVALIDITY=7/;UID=42``."""
        return f"{self.key};UIDVALIDITY={uidvalidity}/;UID={uid}"

    # -- connection ------------------------------------------------------------
    def _run(self, what: str, op: Callable[[IMAPClient, _Selected], T]) -> T:
        """``op`` on a ready connection, reconnecting after drops until ``retry_for`` runs out.

        A call that starts while the source is down (``_failures``) tries to
        connect once, when the backoff allows, and otherwise raises at once.
        """
        deadline, attempt, refused = clock.monotonic() + self.retry_for, 0, False
        patient = self._failures == 0
        while True:
            client, selected = self._ready_or_retry(what, deadline, patient=patient)
            try:
                with imap_errors(self.endpoint):
                    result = op(client, selected)
                    self._dirty |= take_changes(client)
                self._heard_at = clock.monotonic()
                return result
            except TransientError as exc:
                self._lost(exc)
                attempt = self._pause(what, exc, attempt, deadline)
            except PermanentError as exc:
                # a NO in mid-session (say, the folder was deleted and recreated): reopen once
                self._drop()
                if refused or isinstance(exc, AuthError):
                    raise
                refused = True
                log.warning("cannot %s %s (%s); reopening the folder", what, self.folder, exc)

    def _ready_or_retry(self, what: str, deadline: float, *, patient: bool) -> tuple[IMAPClient, _Selected]:
        while True:
            delay = self._retry_at - clock.monotonic()
            if self._client is None and delay > 0:
                if not patient:
                    raise self._still_down()
                self._sleep(delay)
            connecting = self._client is None
            try:
                return self._attempt()
            except TransientError as exc:
                # a server that let a new connection go unanswered would cost as much again: not now
                if not patient or (connecting and timed_out(exc)) or self._retry_at > deadline:
                    raise
                delay = max(0.0, self._retry_at - clock.monotonic())
                log.warning("cannot %s %s (%s); trying again in %.1f s", what, self.folder, exc, delay)

    def _attempt(self) -> tuple[IMAPClient, _Selected]:
        """``_ready()`` once; a failure drops the connection, and a failed connect puts off the next."""
        connecting = self._client is None
        try:
            return self._ready()
        except BackendError as exc:
            self._lost(exc)
            if connecting and isinstance(exc, TransientError):
                self._retry_at = clock.monotonic() + backoff(self._failures, cap=self.max_backoff)
                self._failures += 1
            raise

    def _lost(self, exc: BackendError) -> None:
        """The connection failed or could not be made: drop it; the outage starts now, unless it has."""
        self._drop()
        self._last_error = one_line(str(exc), 300)
        if self._down_since is None:
            self._down_since = clock.now()

    def _back(self) -> None:
        """A new connection works: the outage, if any, is over."""
        if self._down_since is not None:
            log.info(
                "the IMAP connection to %s is back (down since %s)",
                self.endpoint.address, self._down_since.isoformat(timespec="seconds"),
            )  # fmt: skip
        self._down_since, self._failures, self._retry_at = None, 0, 0.0
        self._heard_at = clock.monotonic()

    def _still_down(self) -> TransientError:
        since = self._down_since.isoformat(timespec="seconds") if self._down_since else "a moment ago"
        wait = max(0.0, self._retry_at - clock.monotonic())
        return TransientError(
            f"{self._last_error} (down since {since}; the next attempt is in {wait:.0f} s)",
            hint="mailflow keeps trying with backoff; `mailflow check` tests the login now",
            backend=self.section,
        )

    def _pause(self, what: str, exc: TransientError, attempt: int, deadline: float) -> int:
        delay = backoff(attempt, cap=self.max_backoff)
        if clock.monotonic() + delay > deadline:
            raise exc
        log.warning("cannot %s %s (%s); trying again in %.1f s", what, self.folder, exc, delay)
        self._sleep(delay)
        return attempt + 1

    def _ready(self) -> tuple[IMAPClient, _Selected]:
        if self._client is not None and self._selected is not None:
            self._read_ahead(self._client)  # a look sent ahead is answered before anything else
            if clock.monotonic() - self._selected_at < self.refresh_after:
                return self._client, self._selected
            # a long-open session may never notice that its folder was deleted and created
            # again (Dovecot keeps showing the old one): SELECT it afresh now and then
            with imap_errors(self.endpoint):
                self._end_idle(self._client)
                before, self._selected = self._selected, self._select(self._client)
            if (before.uidvalidity, before.uidnext) != (self._selected.uidvalidity, self._selected.uidnext):
                self._news = True  # what IDLE would have said: the next wait reports it
            return self._client, self._selected
        self._drop()
        client = self._connect(self.account, self.section)
        try:
            with imap_errors(self.endpoint):
                self._capabilities = frozenset(
                    bytes(c).decode("ascii", "replace").upper() for c in client.capabilities()
                )
                if "CONDSTORE" in self._capabilities and "ENABLE" in self._capabilities:
                    client.enable("CONDSTORE")  # must come before SELECT
                self._selected = self._select(client)
        except BaseException:
            close_quietly(client)
            raise
        self._client = client
        self._back()
        return client, self._selected

    def _read_ahead(self, client: IMAPClient) -> None:
        ahead = self._ahead
        if ahead is None or ahead.records is not None:
            return
        try:
            with imap_errors(self.endpoint):
                try:
                    ahead.records = read_fetch(client, ahead.tag)
                except FetchRefused as exc:  # a NO: the poll looks again itself and reports what it finds
                    log.debug("the look sent ahead was refused: %s", exc)
                    self._ahead = None
        except PermanentError as exc:  # anything else leaves the connection out of step: a new one
            self._drop()
            raise TransientError(str(exc), hint=getattr(exc, "hint", ""), backend=self.section) from exc

    def _select(self, client: IMAPClient) -> _Selected:
        if not client.folder_exists(self.folder):
            raise PermanentError(
                f'the folder "{one_line(self.folder, 100)}" does not exist on {self.endpoint.address}',
                hint=f"check {self.section}.folder; `mailflow check` lists the folders",
                backend=self.section,
            )
        answer = client.select_folder(self.folder, readonly=not (self.keyword or self.move_to))
        selected = _Selected(
            uidvalidity=int(answer.get(b"UIDVALIDITY", 0)),
            uidnext=_int_or_none(answer.get(b"UIDNEXT")),
            modseq=_int_or_none(answer.get(b"HIGHESTMODSEQ")),
        )
        if self._known is not None and self._known.uidvalidity != selected.uidvalidity:
            self._known = None
        self._selected_at = clock.monotonic()
        take_changes(client)  # the SELECT's own EXISTS: its view is the current one
        self._dirty = False
        return selected

    def _drop(self, *, polite: bool = False) -> None:
        client, idling, ahead = self._client, self._idle_since is not None, self._ahead
        self._client, self._selected, self._idle_since = None, None, None
        self._ahead, self._following = None, []
        if client is None:
            return
        if polite:
            self._log_out(client, idling=idling, ahead=ahead)
        else:
            try:
                client.shutdown()
            except Exception:  # already gone: nothing to release
                log.debug("closing a dropped IMAP connection failed", exc_info=True)

    def _log_out(self, client: IMAPClient, *, idling: bool, ahead: _Ahead | None) -> None:
        """LOGOUT after what is still owed; a silent server holds this up only for the short timeout."""
        try:
            with answered_within(client, self.endpoint, "LOGOUT", self.liveness):
                if ahead is not None and ahead.records is None:  # read it, or LOGOUT would wade through it
                    with contextlib.suppress(FetchRefused):
                        read_fetch(client, ahead.tag)
                if idling:  # a server in IDLE answers nothing but DONE: LOGOUT would wait for the timeout
                    client.idle_done()
                client.logout()
        except Exception:  # going anyway
            log.debug("logging out of %s failed", self.endpoint.address, exc_info=True)
            with contextlib.suppress(Exception):
                client.shutdown()

    # -- polling -----------------------------------------------------------------
    def _poll(
        self, client: IMAPClient, selected: _Selected, wanted: UidCursor | None, limit: int
    ) -> tuple[list[Incoming], str]:
        self._end_idle(client)
        same = wanted is not None and wanted.uidvalidity == selected.uidvalidity
        if wanted is not None and not same:
            log.warning(
                "UIDVALIDITY of %s changed (%d -> %d): reading the folder again; known messages are skipped",
                self.folder, wanted.uidvalidity, selected.uidvalidity,
            )  # fmt: skip
        after = wanted.uid if wanted is not None and same else 0
        uids = self._uids_after(client, selected, after, wanted if same else None)
        batch = uids[:limit]
        self._backlog = len(uids) - len(batch)
        self._following = uids[len(batch) : len(batch) + limit]
        ahead, self._ahead = self._ahead, None
        if (
            ahead
            and ahead.records is not None
            and (ahead.uidvalidity, ahead.uids) == (selected.uidvalidity, batch)
        ):
            records: Iterable[FetchRecord] = ahead.records
        else:
            records = uid_fetch(client, batch, LOOK_ITEMS)
        items = sorted(self._look(selected, batch, records), key=lambda i: i.ref.uid)
        caught_up = self._backlog == 0
        cursor = UidCursor(
            selected.uidvalidity, batch[-1] if batch else after, selected.modseq if caught_up else None
        )
        return items, str(cursor)

    def _uids_after(
        self, client: IMAPClient, selected: _Selected, after: int, wanted: UidCursor | None
    ) -> list[int]:
        known = self._known
        if known is not None and known.uidvalidity == selected.uidvalidity and after >= known.after:
            rest = known.uids[bisect_right(known.uids, after) :]
            if rest:
                return rest  # still paging through the last search: no round trip
        fresh, selected.fresh = selected.fresh, False
        # the SELECT answer is out of date once the server has said EXISTS or EXPUNGE after it
        # (IDLE right after a refreshing SELECT: Cyrus says so at once, Dovecot 0.5 s later)
        if fresh and wanted is not None and not self._dirty and _nothing_new(selected, wanted):
            return []
        if not fresh:
            # Dovecot shows new mail to a selected connection only after a syncing command, and
            # says so (EXISTS); without any such word since the last search, nothing is new
            with answered_within(client, self.endpoint, "NOOP", self.liveness):
                client.noop()
            if not (take_changes(client) or self._dirty):
                return []
        self._dirty = False
        found = client.search(["UID", f"{after + 1}:*"])
        self._dirty = take_changes(client)  # mail that arrived during the search shows at its end
        uids = sorted(uid for uid in found if uid > after)  # `UID n:*` always returns the last message
        self._known = _Known(selected.uidvalidity, after, uids)
        return uids

    def _look(
        self, selected: _Selected, uids: Sequence[int], records: Iterable[FetchRecord]
    ) -> Iterator[Incoming]:
        wanted, validity = set(uids), selected.uidvalidity
        for record in records:
            uid = record.uid
            if uid is None or uid not in wanted:
                continue  # an unsolicited FETCH (another client changed flags)
            ref = MessageRef(self.account_id, self.folder, validity, uid, self.location(validity, uid))
            header = record.section(b"HEADER.FIELDS")
            item = incoming_from_header(ref, header, size=record.size, structure=record.text)
            # a structure too long to keep whole may hide a calendar part: read it in full, judge it then
            yield replace(item, calendar=True) if record.truncated else item

    def _fetch(
        self, client: IMAPClient, selected: _Selected, refs: Sequence[MessageRef]
    ) -> list[tuple[MessageRef, bytes]]:
        self._end_idle(client)
        by_uid = {r.uid: r for r in refs if r.uidvalidity == selected.uidvalidity}
        if len(by_uid) < len(refs):
            log.warning(
                "%d message(s) belong to an older UIDVALIDITY of %s", len(refs) - len(by_uid), self.folder
            )
        records = uid_fetch(client, sorted(by_uid), BODY_ITEMS)
        found = {uid: r.section(b"") for r in records if (uid := r.uid) is not None and uid in by_uid}
        return [(by_uid[uid], raw) for uid, raw in sorted(found.items())]

    # -- marking -------------------------------------------------------------------
    def _mark(self, client: IMAPClient, selected: _Selected, refs: Sequence[MessageRef]) -> None:
        self._end_idle(client)
        uids = sorted({r.uid for r in refs if r.uidvalidity == selected.uidvalidity})
        for start in range(0, len(uids), UID_BATCH):
            batch = uids[start : start + UID_BATCH]
            if self.keyword:
                client.add_flags(batch, [self.keyword], silent=True)
            if self.move_to:
                self._move(client, batch)

    def _move(self, client: IMAPClient, uids: list[int]) -> None:
        if not self._moved_folder_ready:
            if not client.folder_exists(self.move_to):
                client.create_folder(self.move_to)
            self._moved_folder_ready = True
        if "MOVE" in self._capabilities:
            client.move(uids, self.move_to)
        else:  # never delete: without MOVE the original stays where it is
            client.copy(uids, self.move_to)

    # -- waiting -----------------------------------------------------------------
    def _idle_wait(self, client: IMAPClient, timeout: float) -> bool:
        """IDLE until ``timeout``, new mail, or the end of the connection; a quiet spell is checked."""
        deadline = clock.monotonic() + max(0.0, timeout)
        while True:
            with imap_errors(self.endpoint):
                if not self._idling(client, deadline):
                    return False  # a check below ended IDLE: the next wait (or poll) goes on
                span = max(0.0, min(deadline, self._heard_at + QUIET_SECONDS) - clock.monotonic())
                started = clock.monotonic()
                responses = client.idle_check(timeout=span)
            if responses:
                self._heard_at = clock.monotonic()
            self._dirty |= _says_changed(responses)
            if _says_new_mail(responses):
                return True
            # imapclient returns early with nothing when the server closed the connection
            ended = not responses and span >= 0.1 and clock.monotonic() - started < span / 2
            if ended or _says_bye(responses):
                log.info(
                    "the IMAP connection to %s closed while waiting; reconnecting", self.endpoint.address
                )
                self._drop()
                return True
            if clock.monotonic() - self._heard_at >= QUIET_SECONDS:
                # quiet: alive, or silently dead? a live server answers DONE at once
                with imap_errors(self.endpoint):
                    self._end_idle(client)
            if clock.monotonic() >= deadline:
                return False

    def _idling(self, client: IMAPClient, deadline: float) -> bool:
        """In IDLE (renewed after ``idle_renew``, entered when needed), unless ``deadline`` has passed."""
        now = clock.monotonic()
        if self._idle_since is not None and now - self._idle_since >= self.idle_renew:
            self._end_idle(client)  # re-issued well inside the server's 29-minute limit
        if self._idle_since is None:
            if now >= deadline:
                return False
            with answered_within(client, self.endpoint, "IDLE", self.liveness):
                client.idle()
            self._idle_since = self._heard_at = clock.monotonic()
        return True

    def _poll_wait(self, timeout: float) -> bool:
        remaining = self._last_poll + self.account.poll_interval - clock.monotonic()
        if remaining > timeout:
            self._sleep(timeout)
            return False
        self._sleep(max(0.0, remaining))
        return True

    def _end_idle(self, client: IMAPClient) -> None:
        if self._idle_since is not None:
            self._idle_since = None
            with answered_within(client, self.endpoint, "DONE (the end of IDLE)", self.liveness):
                _text, responses = client.idle_done()
            self._heard_at = clock.monotonic()
            self._dirty |= _says_changed(responses) or take_changes(client)


def _int_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None


def _nothing_new(selected: _Selected, wanted: UidCursor) -> bool:
    """Whether the SELECT answer alone shows that nothing arrived after ``wanted``."""
    if wanted.modseq is not None and selected.modseq is not None and wanted.modseq == selected.modseq:
        return True  # CONDSTORE: nothing at all changed since the cursor caught up
    return selected.uidnext is not None and selected.uidnext <= wanted.uid + 1


def _says_new_mail(responses: Sequence[Any]) -> bool:
    return any(isinstance(r, tuple) and len(r) >= 2 and r[1] == b"EXISTS" for r in responses)


def _says_changed(responses: Sequence[Any]) -> bool:
    return any(isinstance(r, tuple) and len(r) >= 2 and r[1] in (b"EXISTS", b"EXPUNGE") for r in responses)


def _says_bye(responses: Sequence[Any]) -> bool:
    return any(isinstance(r, tuple) and r and r[0] == b"BYE" for r in responses)
