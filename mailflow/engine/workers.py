"""Understanding in worker processes: the one CPU-bound step of a large sync, spread over the CPUs.

Parsing (icalendar, ``email``) dominates a first sync once the first look has
passed over everything that cannot matter.  :class:`Workers` forks one process
per CPU but one, lazily, the first time a batch is worth it; each inherits the
understand function and the context through the fork (so a store lookup in the
context never needs pickling) and gets only ``(raw bytes, received_at)`` per
message.  The results are the serial path's: the same function, the same
context, the same ``received_at`` (read here, in the parent), the same
"unreadable" answer when the function raises.  A worker that breaks costs
only speed: :func:`result` answers None and the caller understands the
message itself.  Forking needs the ``fork`` start method (Linux, the BSDs,
macOS); elsewhere everything runs in one process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from datetime import datetime

from mailflow.model import Understanding
from mailflow.understand import Context

log = logging.getLogger("mailflow.engine.intake")

Understand = Callable[[bytes, Context], Understanding]

#: what a worker process understands with: set once, when the process starts
_worker: tuple[Understand, Context] | None = None


class Workers:
    """A lazily forked pool for one sync (one understand function, one context); ``stop`` ends it.

    ``count`` worker processes; None: one fewer than the CPUs, since this
    process meanwhile polls and records (measured on 2 CPUs: one worker beat
    two, 4.6-5.2 s against 5.1-5.9 s for 10,000 messages); 0: none, all here.
    """

    def __init__(self, count: int | None = None) -> None:
        self.count = (os.cpu_count() or 1) - 1 if count is None else max(0, count)
        self._pool: ProcessPoolExecutor | None = None

    @property
    def available(self) -> bool:
        return self.count > 0 and "fork" in multiprocessing.get_all_start_methods()

    @property
    def running(self) -> bool:
        return self._pool is not None

    def start(self, understand_fn: Understand, context: Context) -> bool:
        """Fork the workers (once until ``stop``); False when this platform or count allows none."""
        if self._pool is None and self.available:
            self._pool = ProcessPoolExecutor(
                self.count,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_start_worker,
                initargs=(understand_fn, context),
            )
        return self._pool is not None

    def submit(self, raw: bytes, received_at: datetime) -> Future[Understanding] | None:
        """The message handed to a worker; None when there is no pool (or it broke: understand it here)."""
        if self._pool is None:
            return None
        try:
            return self._pool.submit(_understand_in_worker, raw, received_at)
        except Exception as exc:  # a broken pool (a worker killed): the caller does the work
            log.warning("understanding in worker processes failed (%s); going on in one process", exc)
            self.stop()
            return None

    def stop(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def understood(
    understand_fn: Understand, raw: bytes, context: Context, received_at: datetime
) -> Understanding:
    """``understand_fn``'s answer, or "unreadable" with the reason when it raises (a substitute might)."""
    try:
        return understand_fn(raw, replace(context, received_at=received_at))
    except Exception as exc:
        return Understanding(kind="unreadable", error=f"cannot be understood ({type(exc).__name__}: {exc})")


def result(future: Future[Understanding] | None) -> Understanding | None:
    """A worker's answer; None (understand it here) when there is none or the worker broke."""
    if future is None:
        return None
    try:
        return future.result()
    except Exception as exc:
        log.warning(
            "a worker process failed (%s: %s); understanding the message here", type(exc).__name__, exc
        )
        return None


def _start_worker(understand_fn: Understand, context: Context) -> None:
    global _worker
    _worker = (understand_fn, context)


def _understand_in_worker(raw: bytes, received_at: datetime) -> Understanding:
    assert _worker is not None, "a worker process runs _start_worker first"
    return understood(_worker[0], raw, _worker[1], received_at)
