"""The outbox rule under SIGKILL: a batch of sends killed at many points, then finished.

Afterwards no Message-ID reached the SMTP server or the Drafts folder twice,
everything marked sent did arrive, and every step is sent, failed or
uncertain: none is left pending or sending without a word.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

from mailflow.store import Store
from tests import delivery_helpers as dh
from tests.rig.dovecot import ImapUser
from tests.rig.smtp import SmtpServer

ROOT = Path(__file__).resolve().parents[2]
SEED = 20250311
RUNS = ["before:1", "after:1", "before:2", "after:3"] + ["kill", "kill", "after:2"] * 4 + [""]


def _config(tmp_path: Path, server: SmtpServer, user: ImapUser) -> Path:
    """Plain JSON settings: SMTP as ``user`` (so its Sent folder holds copies) and its Drafts."""
    imap = {k: str(v) if isinstance(v, Path) else v for k, v in dh.imap_values(user).items()}
    values: dict[str, Any] = {
        "owner": {"name": "Ana Pérez", "addresses": [dh.OWNER]},
        "data": {"folder": str(tmp_path / "data")},
        "smtp": {
            "host": server.host, "port": server.port, "security": server.security,
            "ca_file": str(server.ca_file), "username": user.name, "password": user.password,
            "from_address": dh.OWNER, "timeout": 5,
        },
        "drafts": imap,
    }  # fmt: skip
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(values), encoding="utf-8")
    return path


class Workers:
    """The fork server of ``delivery_crash_worker``: one import, one child per run."""

    def __init__(self, config: Path, url: str) -> None:
        env = {**os.environ, "MAILFLOW_NOW": dh.T0.isoformat()}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.system.delivery_crash_worker", str(config), url],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def run(self, crash: str, rng: random.Random) -> int:
        """One dispatch in a child; "kill" SIGKILLs it at a random moment after it starts."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(("-" if crash == "kill" else crash or "-") + "\n")
        stdin.flush()
        pid = int(self._expect(stdout, "PID "))
        if crash == "kill":
            self._expect(stdout, "READY")
            time.sleep(rng.uniform(0.0, 0.06))
            with contextlib.suppress(ProcessLookupError):  # it may have finished first
                os.kill(pid, signal.SIGKILL)
        return int(self._expect(stdout, "EXIT "))

    def _expect(self, stdout: IO[str], prefix: str) -> str:
        while True:
            line = stdout.readline()
            assert line, f"the worker ended: {self.stop()}"
            if line.startswith(prefix):
                return line[len(prefix) :].strip()

    def stop(self) -> str:
        _out, err = self.process.communicate(timeout=30)
        return err


def test_sigkill_at_many_points_never_sends_twice_and_leaves_nothing_silently_pending(
    tmp_path: Path, smtp_server: SmtpServer, imap_user: ImapUser
) -> None:
    url = f"sqlite:///{tmp_path / 'mailflow.db'}"
    config = _config(tmp_path, smtp_server, imap_user)
    store = Store.open(url)
    try:
        for n in range(10):
            dh.seed_meeting(
                store,
                [("prep_request", "send"), ("thank_you", "draft")],
                uid=f"m{n}@x",
                contact=f"c{n}@example.com",
            )
        smtp_server.fail_next(1, code=554, stage="rcpt", text="5.7.1 not today")
        rng = random.Random(SEED)
        workers = Workers(config, url)
        codes = [workers.run(crash, rng) for crash in RUNS]
        assert "Traceback" not in workers.stop()
        assert codes[-1] == 0 and codes[:4] == [9, 9, 9, 9]
        with store.read() as tx:
            steps = [
                s
                for state in ("pending", "sending", "sent", "failed", "uncertain")
                for s in tx.steps_in_state(state)
            ]
    finally:
        store.close()

    states = Counter(s.state for s in steps)
    assert set(states) <= {"sent", "failed", "uncertain"}, states
    assert states["failed"] == 1 and states["uncertain"] >= 2  # "before:1" and "before:2" left one each

    mailed = Counter(str(m.message()["Message-ID"]) for m in smtp_server.messages)
    drafted = Counter(str(m["Message-ID"]) for m, _ in dh.folder_messages(imap_user, "Drafts"))
    assert max(mailed.values()) == 1 and max(drafted.values()) == 1, (mailed, drafted)
    arrived = set(mailed) | set(drafted)
    sent = {str(s.message_id) for s in steps if s.state == "sent"}
    assert sent <= arrived  # nothing marked sent was lost
    assert arrived <= {str(s.message_id) for s in steps}  # nothing arrived that no step owns
    assert not {str(s.message_id) for s in steps if s.state == "failed"} & arrived
    assert any(s.receipt.startswith("found after a restart") for s in steps)  # the "after:N" crashes
