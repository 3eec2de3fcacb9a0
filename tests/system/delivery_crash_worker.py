"""Dispatches in processes that may die on purpose: the subject of test_delivery_crash.py.

    python -m tests.system.delivery_crash_worker SETTINGS.json DATABASE_URL

mailflow takes a second or more to import on a busy machine, so this process
imports it once and then, for each line read from stdin, forks a child that
opens the store and runs one dispatch (a fork server: this process has no
threads, so forking is safe).  It prints ``PID <pid>`` for each child and
``EXIT <code>`` when it ended (-9: killed).  The line is the crash to stage:

``before:N``  the child ends with ``os._exit`` just before the Nth delivery
              (its step is claimed, nothing has gone out);
``after:N``   just after it (delivered, not yet marked sent);
``-``         no staged crash (the test may SIGKILL the child after READY).

The child prints READY when it starts dispatching.  ``MAILFLOW_NOW`` sets the clock.
"""

from __future__ import annotations

import json
import os
import sys
import time
from email.message import EmailMessage
from pathlib import Path

from mailflow import clock
from mailflow.config import Settings
from mailflow.engine.dispatch import Dispatcher
from mailflow.model import Receipt
from mailflow.sinks.base import MailSink
from mailflow.sinks.factory import Sinks, build_sinks
from mailflow.store import Store


class Crashing(MailSink):
    """A sink that counts deliveries across all sinks and dies at the chosen one."""

    count = 0

    def __init__(self, inner: MailSink, when: str, at: int) -> None:
        self.inner, self.when, self.at = inner, when, at
        self.kind = inner.kind

    def deliver(self, message: EmailMessage) -> Receipt:
        Crashing.count += 1
        if self.when == "before" and Crashing.count == self.at:
            os._exit(9)
        receipt = self.inner.deliver(message)
        if self.when == "after" and Crashing.count == self.at:
            os._exit(9)
        return receipt

    def find(self, message_id: str) -> bool | None:
        return self.inner.find(message_id)

    def close(self) -> None:
        self.inner.close()


def dispatch_once(config: Settings, url: str, crash: str) -> int:
    when, _, at = crash.partition(":")
    real = build_sinks(config)
    sinks = Sinks(*(Crashing(s, when, int(at or 0)) for s in (real.send, real.draft, real.notify)))
    store = Store.open(url)
    print("READY", flush=True)
    started = time.monotonic()
    report = Dispatcher(store, sinks, config).dispatch()
    print(json.dumps(report.counts()), f"{time.monotonic() - started:.3f}s", flush=True)
    store.close()
    return 0


def serve(settings_file: str, url: str) -> int:
    clock.set_from_environment()
    config = Settings(**json.loads(Path(settings_file).read_text(encoding="utf-8")))
    for line in sys.stdin:
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            os._exit(dispatch_once(config, url, line.strip().lstrip("-")))
        print(f"PID {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"EXIT {os.waitstatus_to_exitcode(status)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1], sys.argv[2]))
