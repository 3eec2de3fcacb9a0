"""The daemon's loops, with a stand-in engine (the loops are the unit here; the real engine and
servers are in tests/system/test_daemon_blackhole.py and test_run_live.py)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from mailflow.daemon import DaemonOptions, Stopper, run_forever
from mailflow.errors import StoreError


class _Engine:
    """Counts what the daemon asks; ``routine`` can be made to hang or to fail."""

    def __init__(self, routine_hangs: threading.Event | None = None, routine_fails: bool = False) -> None:
        self.syncs = 0
        self.routines = 0
        self.hang = routine_hangs
        self.fail = routine_fails
        self.closed = False

    def sync_mail(self, report: None = None, *, seconds: float | None = None) -> object:
        self.syncs += 1
        return None

    def routine(self) -> object:
        self.routines += 1
        if self.fail:
            raise StoreError("the database is gone")
        if self.hang is not None:
            self.hang.wait(30)
        return None

    def wait_for_mail(self, timeout: float) -> bool:
        time.sleep(min(timeout, 0.05))
        return False

    def close(self) -> None:
        self.closed = True


def _options(tmp_path: Path) -> DaemonOptions:
    return DaemonOptions(
        tick_seconds=0.1,
        idle_slice_seconds=0.05,
        heartbeat_file=tmp_path / "heartbeat",
        lock_file=tmp_path / "mailflow.lock",
        poll_seconds=0.2,
        stuck_after=0.6,
        stop_wait=0.5,
    )


def test_a_stuck_loop_stops_the_heartbeat_and_a_stop_does_not_wait_for_it_forever(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()
    engine, stopper, options = _Engine(routine_hangs=release), Stopper(), _options(tmp_path)
    daemon = threading.Thread(target=run_forever, args=(engine, options, stopper))
    with caplog.at_level(logging.ERROR, logger="mailflow.daemon"):
        daemon.start()
        time.sleep(2.0)
        age = time.time() - options.heartbeat_file.stat().st_mtime
        assert age > 1.0, "the heartbeat went on while the routine was stuck"
        assert engine.syncs >= 3, "intake went on meanwhile"
        started = time.monotonic()
        stopper.event.set()
        daemon.join(10)
    release.set()
    assert not daemon.is_alive() and time.monotonic() - started < 3
    assert engine.closed
    assert "the routine loop has made no progress" in caplog.text
    assert "did not finish its step" in caplog.text


def test_the_heartbeat_is_fresh_while_both_loops_go_round(tmp_path: Path) -> None:
    engine, stopper, options = _Engine(), Stopper(), _options(tmp_path)
    daemon = threading.Thread(target=run_forever, args=(engine, options, stopper))
    daemon.start()
    ages = []
    for _sample in range(15):
        time.sleep(0.1)
        if options.heartbeat_file.exists():
            ages.append(time.time() - options.heartbeat_file.stat().st_mtime)
    stopper.event.set()
    daemon.join(10)
    assert ages and max(ages) < 0.5
    assert engine.routines >= 5 and engine.syncs >= 3


def test_a_fatal_error_in_one_loop_stops_the_daemon_and_is_raised(tmp_path: Path) -> None:
    engine, options = _Engine(routine_fails=True), _options(tmp_path)
    with pytest.raises(StoreError, match="the database is gone"):
        run_forever(engine, options, Stopper())
    assert engine.closed
