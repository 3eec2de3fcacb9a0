"""The daemon: one process that waits for mail and, between waits, runs cycles.

``schedule`` only ticks: every tick runs one engine cycle (sync, plan,
dispatch), and everything due is read from the store through the one clock,
so nothing is kept in memory that a crash could lose.  Between ticks the
daemon waits for new mail with IMAP IDLE in short slices (or sleeps when
polling), so a new invite is handled within a second or so.
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

    def run_cycle(self) -> object:
        """One sync, one plan, one dispatch."""

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
    """The loop: tick on schedule, wait for mail in between, stop cleanly on a signal."""
    stopper = stopper or Stopper()
    scheduler = schedule.Scheduler()
    tick = _guarded_tick(engine, options)
    scheduler.every(max(1, round(options.tick_seconds))).seconds.do(tick)
    with single_instance(options.lock_file):
        log.info("mailflow daemon started (pid %d)", os.getpid())
        try:
            tick()
            while not stopper.stopping:
                if engine.wait_for_mail(options.idle_slice_seconds) and not stopper.stopping:
                    tick()  # new mail: do not wait for the next tick
                if not stopper.stopping:
                    scheduler.run_pending()
        finally:
            engine.close()
            log.info("mailflow daemon stopped")


def _guarded_tick(engine: Cycle, options: DaemonOptions) -> Callable[[], None]:
    def tick() -> None:
        try:
            engine.run_cycle()
        except StoreError:
            raise  # fatal: exit so the service manager restarts us
        except Exception:  # one bad cycle never stops the daemon; the engine records the error
            log.exception("a cycle failed; the next tick tries again")
        beat(options.heartbeat_file)

    return tick
