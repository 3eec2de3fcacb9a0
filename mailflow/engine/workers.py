"""Understanding in worker processes, each message under a CPU and a memory budget.

Understanding is the one step a stranger controls: whatever the parsers
miss, one mail must not hang or exhaust the daemon.  So every message is
understood in a forked worker process (never in this one, when ``fork``
exists), and a message that takes more than ``[intake] message_seconds`` of
CPU, or needs more than ``[intake] message_memory``, gets an "unreadable"
answer saying so; its worker is killed and a new one forked for the next
message.  One message per worker at a time, so a killed worker costs only
its own message.

Workers are forked lazily, the first time a message is submitted, and they
inherit the understand function and the context through the fork (a store
lookup in the context never needs pickling); each message travels as
``(raw bytes, received_at)``.  The answers are the serial path's: the same
function, the same context, the same "unreadable" answer when it raises.

Where ``fork`` does not exist (or ``count`` is 0, for tests that want one
process) messages are understood here, without a budget.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import itertools
import logging
import multiprocessing
import os
import resource
import signal
import sys
import time
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING

from mailflow.model import Understanding
from mailflow.understand import Context

if TYPE_CHECKING:
    from mailflow.config import Settings

log = logging.getLogger("mailflow.engine.intake")

Understand = Callable[[bytes, Context], Understanding]

#: how often the budgets of busy workers are checked while waiting for an answer
_CHECK_SECONDS = 0.2
#: a worker that neither answers nor uses CPU (stopped, swapped out) is given this many times its budget
_WALL_FACTOR = 6.0
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True)
class Budget:
    """What understanding one message may cost: CPU seconds, and the worker's growth in bytes."""

    seconds: float = 10.0
    memory: int = 512 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> Budget:
        return cls(settings.intake.message_seconds, settings.intake.memory_bytes())

    def over_time(self) -> str:
        return (
            f"understanding it took more than {self.seconds:g} s of CPU ([intake] message_seconds); "
            "kept unread in the mailbox"
        )

    def over_memory(self) -> str:
        return (
            f"understanding it needed more than {self.memory // (1024 * 1024)} MB "
            "([intake] message_memory); kept unread in the mailbox"
        )


class Job:
    """One message on its way through a worker; ``answer`` is set once it is understood.

    ``tag`` is the caller's (which message this is); ``handed`` counts the times it was
    sent to a worker that was gone by then.
    """

    __slots__ = ("answer", "handed", "number", "raw", "received_at", "tag")

    def __init__(self, number: int, raw: bytes, received_at: datetime, tag: object = None) -> None:
        self.number, self.raw, self.received_at, self.tag = number, raw, received_at, tag
        self.answer: Understanding | None = None
        self.handed = 0


#: called just before a job is understood (in a worker or here); an answer returned instead
#: means "do not read it" (the caller's quarantine), None means go on
HandOff = Callable[[Job], Understanding | None]


class _Worker:
    """One forked process, its end of the pipe, and the job it is on (None: idle)."""

    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process, self.conn = process, conn
        self.job: Job | None = None
        self.cpu_at_start = 0.0
        self.wall_at_start = 0.0

    def cpu_seconds(self) -> float | None:
        """The process's CPU time so far (user + system), or None where /proc cannot tell."""
        try:
            with open(f"/proc/{self.process.pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _TICKS
        except (OSError, IndexError, ValueError):
            return None

    def kill(self) -> None:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self.process.kill()
        self.process.join(timeout=5)
        with contextlib.suppress(OSError):
            self.conn.close()


class Workers:
    """Budgeted worker processes for one sync (one understand function, one context); ``stop`` ends them.

    ``count`` processes; None: one fewer than the CPUs but at least one, since
    this process meanwhile polls and records (measured on 2 CPUs: one worker
    beat two); 0: none, everything understood here without a budget.
    """

    def __init__(
        self, count: int | None = None, budget: Budget | None = None, *, on_hand_off: HandOff | None = None
    ) -> None:
        self.count = max(1, (os.cpu_count() or 1) - 1) if count is None else max(0, count)
        self.budget = budget or Budget()
        self.on_hand_off = on_hand_off
        self._fn: tuple[Understand, Context] | None = None
        self._workers: list[_Worker] = []
        self._queue: deque[Job] = deque()
        self._numbers = itertools.count()
        #: messages whose worker was killed or died, for the sync's summary
        self.over_budget = 0

    @property
    def available(self) -> bool:
        return self.count > 0 and "fork" in multiprocessing.get_all_start_methods()

    @property
    def running(self) -> bool:
        return bool(self._workers)

    def start(self, understand_fn: Understand, context: Context) -> None:
        """Use ``understand_fn`` with ``context`` from now on (workers fork lazily; a change stops them)."""
        if self._fn is not None and self._fn != (understand_fn, context):
            self.stop()
        self._fn = (understand_fn, context)

    def submit(self, raw: bytes, received_at: datetime, tag: object = None) -> Job:
        """Queue one message; it goes to a worker as soon as one is free."""
        job = Job(next(self._numbers), raw, received_at, tag)
        if not self.available:
            job.answer = self._handed_off(job) or self._here(job)
            return job
        if len(raw) * 3 > self.budget.memory:  # a worker could not even receive and parse it
            job.answer = Understanding(kind="unreadable", error=self.budget.over_memory())
            self.over_budget += 1
            return job
        self._queue.append(job)
        self._pump(timeout=0)
        return job

    def result(self, job: Job, *, give_up: Callable[[], bool] | None = None) -> Understanding | None:
        """``job``'s answer, waiting for it; None when ``give_up`` says so first."""
        while job.answer is None:
            if give_up is not None and give_up():
                return None
            self._pump(timeout=_CHECK_SECONDS)
        return job.answer

    def understand_now(self, raw: bytes, received_at: datetime) -> Understanding:
        """One message, under the budget, waited for."""
        answer = self.result(self.submit(raw, received_at))
        assert answer is not None
        return answer

    def stop(self) -> None:
        """End every worker; queued messages are dropped (the caller re-reads them)."""
        for worker in self._workers:
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send(None)  # "no more work": the worker exits by itself
        for worker in self._workers:
            worker.process.join(timeout=1)
            if worker.process.is_alive():
                worker.kill()
            with contextlib.suppress(OSError):
                worker.conn.close()
        self._workers, self._queue = [], deque()

    # -- the pool --------------------------------------------------------------
    def _here(self, job: Job) -> Understanding:
        assert self._fn is not None, "start() first"
        try:
            return understood(self._fn[0], job.raw, self._fn[1], job.received_at)
        except MemoryError:  # no worker to lose here: the message is over the budget all the same
            return Understanding(kind="unreadable", error=self.budget.over_memory())

    def _pump(self, timeout: float) -> None:
        """Hand queued jobs to free workers, collect answers, and hold busy workers to the budget."""
        self._assign()
        busy = [w for w in self._workers if w.job is not None]
        if not busy:
            return
        ready = wait([w.conn for w in busy], timeout=timeout)
        for worker in busy:
            if worker.conn in ready:
                self._collect(worker)
            else:
                self._check(worker)
        self._assign()

    def _handed_off(self, job: Job) -> Understanding | None:
        return self.on_hand_off(job) if self.on_hand_off is not None else None

    def _assign(self) -> None:
        while self._queue:
            worker = next((w for w in self._workers if w.job is None), None)
            if worker is None:
                if len(self._workers) >= self.count:
                    return
                worker = self._fork()
            job = self._queue.popleft()
            if job.handed == 0 and (instead := self._handed_off(job)) is not None:
                job.answer = instead
                continue
            job.handed += 1
            try:
                worker.conn.send((job.raw, job.received_at))
            except (OSError, ValueError) as exc:  # the worker died while idle: replace it, keep the job once
                log.warning("a worker process was gone (%s); forking another", exc)
                self._retire(worker)
                if job.handed >= 2:  # twice: it is the message that kills them (too large to receive)
                    job.answer = Understanding(kind="unreadable", error=self.budget.over_memory())
                    self.over_budget += 1
                else:
                    self._queue.appendleft(job)
                continue
            worker.job = job
            worker.cpu_at_start = worker.cpu_seconds() or 0.0
            worker.wall_at_start = time.monotonic()

    def _fork(self) -> _Worker:
        assert self._fn is not None, "start() first"
        context = multiprocessing.get_context("fork")
        parent, child = context.Pipe()
        process = context.Process(
            target=_serve,
            args=(child, parent, self._fn[0], self._fn[1], self.budget),
            name="mailflow-understand",
            daemon=True,
        )
        with warnings.catch_warnings():  # Python 3.12+ warns about forking with threads; the child
            warnings.simplefilter("ignore", DeprecationWarning)  # only parses bytes and answers
            process.start()
        child.close()
        worker = _Worker(process, parent)
        self._workers.append(worker)
        return worker

    def _collect(self, worker: _Worker) -> None:
        job = worker.job
        assert job is not None
        try:
            status, answer = worker.conn.recv()
        except (EOFError, OSError) as exc:
            worker.process.join(timeout=5)
            self._fail(worker, _death(worker.process.exitcode, exc, self.budget))
            return
        if status == "memory":
            self._fail(worker, self.budget.over_memory())
            return
        job.answer, worker.job = answer, None

    def _check(self, worker: _Worker) -> None:
        job = worker.job
        assert job is not None
        if not worker.process.is_alive() and not worker.conn.poll():
            self._fail(worker, _death(worker.process.exitcode, None, self.budget))
            return
        used = worker.cpu_seconds()
        wall = time.monotonic() - worker.wall_at_start
        if used is not None and used - worker.cpu_at_start > self.budget.seconds:
            self._fail(worker, self.budget.over_time())
        elif wall > self.budget.seconds * _WALL_FACTOR + 10:
            self._fail(
                worker, f"understanding it did not finish within {wall:.0f} s; kept unread in the mailbox"
            )

    def _fail(self, worker: _Worker, reason: str) -> None:
        """The job's answer is "unreadable" with ``reason``; the worker is replaced by a new one later."""
        job = worker.job
        assert job is not None
        self.over_budget += 1
        log.warning("a message was not understood: %s", reason)
        job.answer = Understanding(kind="unreadable", error=reason)
        self._retire(worker)

    def _retire(self, worker: _Worker) -> None:
        worker.kill()
        self._workers.remove(worker)


def understood(
    understand_fn: Understand, raw: bytes, context: Context, received_at: datetime
) -> Understanding:
    """``understand_fn``'s answer, or "unreadable" with the reason when it raises (a substitute might)."""
    try:
        return understand_fn(raw, replace(context, received_at=received_at))
    except MemoryError:
        raise
    except Exception as exc:
        return Understanding(kind="unreadable", error=f"cannot be understood ({type(exc).__name__}: {exc})")


def _death(exitcode: int | None, exc: BaseException | None, budget: Budget) -> str:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name if -exitcode in signal.valid_signals() else str(-exitcode)
        if -exitcode == getattr(signal, "SIGXCPU", -1):  # the worker's own CPU limit (where /proc is missing)
            return budget.over_time()
        if -exitcode == signal.SIGKILL:  # the kernel's out-of-memory killer, most likely
            return "the process understanding it was killed (most likely out of memory); kept unread in the mailbox"
        return f"the process understanding it died ({name}); kept unread in the mailbox"
    detail = f"exit code {exitcode}" if exitcode is not None else type(exc).__name__ if exc else "no answer"
    return f"the process understanding it stopped ({detail}); kept unread in the mailbox"


def _serve(
    conn: Connection, parent_end: Connection, understand_fn: Understand, context: Context, budget: Budget
) -> None:
    """A worker's life: answer one message at a time until told to stop or the parent is gone."""
    parent_end.close()  # else the pipe never reports the parent's death
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the daemon decides when workers end
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _limit_memory(budget.memory)
    while True:
        try:
            job = conn.recv()
        except MemoryError:  # a message too large to receive under the budget
            with contextlib.suppress(OSError, ValueError, MemoryError):
                conn.send(("memory", None))
            return
        except (EOFError, OSError):
            return
        if job is None:
            return
        raw, received_at = job
        _limit_cpu(budget.seconds)
        try:
            answer = understood(understand_fn, raw, context, received_at)
        except MemoryError:
            answer = None
        del raw, job
        try:
            conn.send(("memory", None) if answer is None else ("ok", answer))
        except (OSError, ValueError, MemoryError):
            return
        if answer is None:
            return  # a heap that ran out is not trusted with the next message


def _die_with_parent() -> None:
    """An orphan must not go on holding the daemon's lock and files: the kernel kills this process
    when the parent (the thread that forked it) dies; where it cannot, the pipe's EOF ends it."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before the line above
        os._exit(0)


def _limit_cpu(seconds: float) -> None:
    """A CPU limit for this job, the kernel's own (SIGXCPU): the safety net where /proc cannot be read."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    limit = int(used.ru_utime + used.ru_stime + seconds) + 2  # the parent's /proc check comes first
    with contextlib.suppress(ValueError, OSError):
        _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        resource.setrlimit(
            resource.RLIMIT_CPU, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard)
        )


def _limit_memory(budget: int) -> None:
    """Let this process's address space grow by ``budget`` bytes at most (where the OS supports it)."""
    try:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = _address_space() + budget
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (OSError, ValueError, AttributeError) as exc:
        log.warning("no memory limit for the worker that understands mail: %s", exc)


def _address_space() -> int:
    """This process's size now: /proc where it exists, else its peak resident size."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak * (1 if sys.platform == "darwin" else 1024)  # bytes on macOS, KB elsewhere
