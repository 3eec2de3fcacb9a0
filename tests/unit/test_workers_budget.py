"""The understanding budget: real forked workers, real CPU and memory limits, no mocks.

Each understand function below stands for a message nobody has found yet
that hangs, eats memory or crashes the parser: the budget is the safety net
that catches what the root fixes in ``understand/`` do not.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from mailflow.daemon import single_instance
from mailflow.engine.workers import Budget, Workers
from mailflow.model import Understanding
from mailflow.understand import Context

AT = datetime(2026, 12, 1, tzinfo=UTC)


def _trouble(raw: bytes, context: Context) -> Understanding:
    """Spins, grows or dies on cue; otherwise says which process read the message."""
    if raw == b"spin":
        while True:
            pass
    if raw == b"grow":
        hoard = []
        while True:
            hoard.append(bytearray(16 * 1024 * 1024))
    if raw == b"segfault":
        faulthandler.disable()  # pytest's handler would print the crash; the parent reports it
        os.kill(os.getpid(), signal.SIGSEGV)
    if raw == b"raise":
        raise RuntimeError("a parser broke")
    return Understanding(kind="ignored", subject=f"pid {os.getpid()} read {raw.decode()}")


def _workers(seconds: float = 1.0, memory: int = 64 * 1024 * 1024) -> Workers:
    workers = Workers(1, Budget(seconds=seconds, memory=memory))
    workers.start(_trouble, Context())
    return workers


def test_a_message_over_the_cpu_budget_is_unreadable_and_the_next_one_is_read() -> None:
    workers = _workers(seconds=0.5)
    try:
        spin = workers.understand_now(b"spin", AT)
        after = workers.understand_now(b"hello", AT)
    finally:
        workers.stop()
    assert spin.kind == "unreadable"
    assert "more than 0.5 s of CPU" in spin.error and "[intake] message_seconds" in spin.error
    assert after.kind == "ignored" and after.subject.endswith("read hello")
    assert workers.over_budget == 1


def test_a_message_over_the_memory_budget_is_unreadable_and_the_worker_is_replaced() -> None:
    workers = _workers(seconds=30)
    try:
        grow = workers.understand_now(b"grow", AT)
        after = workers.understand_now(b"hello", AT)
    finally:
        workers.stop()
    assert grow.kind == "unreadable"
    assert "needed more than 64 MB" in grow.error and "[intake] message_memory" in grow.error
    assert after.kind == "ignored"


def test_a_worker_that_dies_costs_only_its_own_message() -> None:
    workers = _workers()
    try:
        died = workers.understand_now(b"segfault", AT)
        broke = workers.understand_now(b"raise", AT)
        after = workers.understand_now(b"hello", AT)
    finally:
        workers.stop()
    assert died.kind == "unreadable" and "died (SIGSEGV)" in died.error
    assert broke.kind == "unreadable" and "RuntimeError: a parser broke" in broke.error
    assert after.kind == "ignored"


def test_messages_are_never_understood_in_this_process() -> None:
    workers = _workers()
    try:
        answers = [workers.understand_now(f"m{n}".encode(), AT) for n in range(3)]
    finally:
        workers.stop()
    pids = {a.subject.split()[1] for a in answers}
    assert str(os.getpid()) not in pids and len(pids) == 1  # one worker read all three


def test_answers_come_back_in_any_order_but_each_to_its_message() -> None:
    workers = Workers(2, Budget(seconds=0.5))
    workers.start(_trouble, Context())
    try:
        jobs = [workers.submit(raw, AT) for raw in (b"a", b"spin", b"b", b"c", b"spin", b"d")]
        answers = [workers.result(job) for job in jobs]
    finally:
        workers.stop()
    kinds = [a.kind if a else None for a in answers]
    assert kinds == ["ignored", "unreadable", "ignored", "ignored", "unreadable", "ignored"]
    assert [a.subject.split()[-1] for a in answers if a and a.kind == "ignored"] == ["a", "b", "c", "d"]


def test_a_caller_that_gives_up_gets_no_answer_and_the_job_is_not_lost_to_another() -> None:
    workers = _workers(seconds=30)
    try:
        job = workers.submit(b"spin", AT)
        assert workers.result(job, give_up=lambda: True) is None
        assert job.answer is None
    finally:
        workers.stop()
    assert not workers.running


def test_without_workers_everything_is_understood_here() -> None:
    workers = Workers(0)
    workers.start(_trouble, Context())
    answer = workers.understand_now(b"here", AT)
    assert answer.subject == f"pid {os.getpid()} read here"


def test_a_message_too_large_to_hand_to_a_worker_is_over_the_memory_budget_at_once() -> None:
    workers = _workers(memory=1024 * 1024)
    try:
        answer = workers.understand_now(b"x" * 400_000, AT)
        after = workers.understand_now(b"small", AT)
    finally:
        workers.stop()
    assert answer.kind == "unreadable" and "needed more than 1 MB" in answer.error
    assert after.kind == "ignored"


_ORPHANED = """
import os, signal, sys
from datetime import UTC, datetime
from pathlib import Path
from pathlib import Path
from mailflow.daemon import single_instance
from mailflow.daemon import single_instance
from mailflow.engine.workers import Budget, Workers
from mailflow.model import Understanding
from mailflow.understand import Context

def read(raw, context):
    return Understanding(kind="ignored", subject=str(os.getpid()))

with single_instance(Path(sys.argv[1])):
    workers = Workers(1, Budget())
    workers.start(read, Context())
    answer = workers.understand_now(b"hello", datetime.now(UTC))
    print(answer.subject, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # the daemon dies as the OOM killer would leave it
"""


def test_a_worker_dies_with_its_daemon_and_holds_none_of_its_files(tmp_path: Path) -> None:
    lock = tmp_path / "mailflow.lock"
    done = subprocess.run(
        [sys.executable, "-c", _ORPHANED, str(lock)], capture_output=True, text=True, timeout=60, env=_env()
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    worker = int(done.stdout.strip())
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker), "the worker outlived its daemon"
    with single_instance(lock):  # a restarted daemon is not locked out by an orphan
        pass


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}


def test_without_workers_a_message_that_exhausts_memory_is_unreadable_not_raised() -> None:
    def exhausts(raw: bytes, context: Context) -> Understanding:
        raise MemoryError

    workers = Workers(0)
    workers.start(exhausts, Context())
    answer = workers.understand_now(b"big", AT)
    assert answer.kind == "unreadable" and "[intake] message_memory" in answer.error
