"""The daemon: one process, three loops that never wait on each other.

- intake: syncs, then waits for new mail with IMAP IDLE in short slices (or
  sleeps when polling), so a new invite is read within a second or so; a sync
  also runs every ``[mailbox] poll_interval`` as a safety net, and one sync
  spends at most ``[intake] sync_seconds`` understanding before it records
  what it has;
- routine: every tick (and as soon as a sync recorded mail) moves recurring
  series on, plans and dispatches; everything due is read from the store
  through the one clock, so nothing is kept in memory that a crash could lose;
- the main thread: the heartbeat every tick, and signals.

The store serialises writers; the intake loop alone uses the mailbox's
connection and the routine alone uses the sinks.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Protocol

import schedule

from mailflow import clock
from mailflow.errors import StoreError, UsageError

log = logging.getLogger("mailflow.daemon")


class Cycle(Protocol):
    """What the daemon drives (the engine)."""

    def sync_mail(self, report: None = None, *, seconds: float | None = None) -> object:
        """One sync, understanding for at most ``seconds``."""

    def routine(self) -> object:
        """Series, plan, dispatch."""

    def wait_for_mail(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True when new mail may have arrived."""

    def close(self) -> None:
        """Close connections."""


@dataclass
class DaemonOptions:
    tick_seconds: float
    idle_slice_seconds: float
    heartbeat_file: Path
    lock_file: Path
    #: a sync (one NOOP when nothing is new) also runs this often without news from IDLE
    poll_seconds: float = 5.0
    #: what one sync of the daemon may spend understanding before the routine gets its turn
    sync_seconds: float | None = None
    #: a loop with no progress for this long is stuck: the heartbeat stops, so a monitor sees it
    stuck_after: float = 900.0
    #: how long a stop waits for each loop to finish its current step
    stop_wait: float = 60.0


class Stopper:
    """Turns SIGTERM/SIGINT into a flag; the current step finishes first."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        log.info("received %s: finishing the current step, then stopping", signal.Signals(signum).name)
        self.event.set()

    @property
    def stopping(self) -> bool:
        return self.event.is_set()


@contextmanager
def single_instance(lock_file: Path) -> Iterator[IO[str]]:
    """Hold an exclusive lock on ``lock_file`` so two daemons never share a database."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    handle = lock_file.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        other = handle.read().strip() or "another process"
        handle.close()
        raise UsageError(
            f"another mailflow daemon (pid {other}) already runs on this database",
            hint=f"stop it first, or point this one at another database; the lock is {lock_file}",
        ) from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield handle
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def beat(heartbeat_file: Path) -> None:
    """Write the time of the last healthy tick; monitors watch the file's age."""
    heartbeat_file.parent.mkdir(parents=True, exist_ok=True)
    temporary = heartbeat_file.with_suffix(".tmp")
    temporary.write_text(clock.now().isoformat() + "\n", encoding="utf-8")
    temporary.replace(heartbeat_file)


def run_forever(engine: Cycle, options: DaemonOptions, stopper: Stopper | None = None) -> None:
    """Three loops until a signal: mail, the routine, and the heartbeat.

    The intake loop syncs and waits for mail (IDLE); the routine loop moves
    series on, plans and dispatches every tick, and at once when mail came;
    this thread writes the heartbeat every tick.  None waits on another's
    server: a mailbox that does not answer holds up neither sending nor the
    heartbeat, and a stalled SMTP server does not hold up reading mail.  A
    fatal error (the database) in any loop stops them all and is raised here.
    """
    stopper = stopper or Stopper()
    mail_came = threading.Event()
    with single_instance(options.lock_file):
        log.info("mailflow daemon started (pid %d)", os.getpid())
        loops = [
            _Loop("intake", lambda done: _intake(engine, options, stopper, mail_came, done), stopper),
            _Loop("routine", lambda done: _routine(engine, options, stopper, mail_came, done), stopper),
        ]
        try:
            for loop in loops:
                loop.start()
            beat(options.heartbeat_file)
            while not stopper.event.wait(options.tick_seconds):
                stuck = [loop for loop in loops if loop.stuck(options.stuck_after)]
                if not stuck:
                    beat(options.heartbeat_file)
                for loop in stuck:
                    loop.report_stuck()
        finally:
            stopper.event.set()
            mail_came.set()
            for loop in loops:
                loop.join(options.stop_wait)
                if loop.is_alive():  # a daemon thread: it ends with the process
                    log.error("the %s loop did not finish its step within %g s; stopping anyway",
                              loop.label, options.stop_wait)  # fmt: skip
            engine.close()
            log.info("mailflow daemon stopped")
        for loop in loops:
            if loop.failure is not None:
                raise loop.failure


class _Loop(threading.Thread):
    """One of the daemon's loops; a fatal error is kept for the main thread and stops the others."""

    def __init__(self, name: str, body: Callable[[Callable[[], None]], None], stopper: Stopper) -> None:
        super().__init__(name=f"mailflow-{name}", daemon=True)
        self.label, self.body, self.stopper = name, body, stopper
        self.failure: BaseException | None = None
        self.progress_at = clock.monotonic()
        self._reported = False

    def progressed(self) -> None:
        """The loop went round once (called by its body)."""
        self.progress_at, self._reported = clock.monotonic(), False

    def stuck(self, after: float) -> bool:
        return self.is_alive() and clock.monotonic() - self.progress_at > after

    def report_stuck(self) -> None:
        if not self._reported:
            self._reported = True
            seconds = clock.monotonic() - self.progress_at
            log.error("the %s loop has made no progress for %.0f s; the heartbeat stops", self.label, seconds)

    def run(self) -> None:
        try:
            self.body(self.progressed)
        except BaseException as exc:  # StoreError, or a bug outside the guarded parts
            log.error("the %s loop stopped: %s", self.label, exc)
            self.failure = exc
            self.stopper.event.set()


def _intake(
    engine: Cycle,
    options: DaemonOptions,
    stopper: Stopper,
    mail_came: threading.Event,
    done: Callable[[], None],
) -> None:
    last = -float("inf")
    while not stopper.stopping:
        done()
        if clock.monotonic() - last >= options.poll_seconds or _guarded(
            lambda: engine.wait_for_mail(options.idle_slice_seconds)
        ):
            if stopper.stopping:
                return
            last = clock.monotonic()
            _guarded(lambda: engine.sync_mail(seconds=options.sync_seconds))
            mail_came.set()  # the routine plans what this sync recorded without waiting for its tick


def _routine(
    engine: Cycle,
    options: DaemonOptions,
    stopper: Stopper,
    mail_came: threading.Event,
    done: Callable[[], None],
) -> None:
    scheduler = schedule.Scheduler()
    scheduler.every(max(1, round(options.tick_seconds))).seconds.do(_guarded, engine.routine)
    _guarded(engine.routine)
    while not stopper.stopping:
        done()
        if mail_came.wait(min(1.0, options.tick_seconds)) and not stopper.stopping:
            mail_came.clear()
            _guarded(engine.routine)  # new mail: do not wait for the next tick
        if not stopper.stopping:
            scheduler.run_pending()


def _guarded(part: Callable[[], object]) -> bool:
    """Run one part; a fatal error (the database) goes up, any other is logged and the loop goes on."""
    try:
        return bool(part())
    except StoreError:
        raise  # fatal: exit so the service manager restarts us
    except Exception:  # one bad part never stops the daemon; the engine records its own errors
        log.exception("a part of the daemon failed; it runs again")
        return False
