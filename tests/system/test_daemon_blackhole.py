"""The daemon while its IMAP server is a black hole: a real Dovecot behind a loopback fault
proxy, a real SMTP server, `mailflow run` as a subprocess.

Steps due meanwhile that need no IMAP still go out on time, the heartbeat stays fresh, mail
to the owner is not held up by the unread mailbox, and
once the server answers again the daemon reads what arrived meanwhile.  The issue's
10 minutes are compressed to about half a minute; what matters is that nothing waits for the
mailbox at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailflow import clock
from mailflow.demo import samples
from tests.cli_helpers import run_cli
from tests.rig.dovecot import ImapUser
from tests.rig.proxy import FaultProxy
from tests.rig.smtp import SmtpServer
from tests.system.test_run_live import BERLIN, MEETING, MONDAY, received, run_once, write_config

TICK = 1.0
HOMEWORK_DUE = datetime(2030, 1, 9, 8, 0, tzinfo=BERLIN)  # the day before the meeting, 08:00
LEAD = 12.0  # the daemon's clock starts this long before the homework brief is due


@pytest.fixture(autouse=True)
def _real_clock_after() -> Iterator[None]:
    yield
    clock.set_now(None)


@pytest.fixture
def owner_user(imap_user: ImapUser) -> ImapUser:
    return imap_user.server.new_user("owner")


def _through(config: Path, proxy: FaultProxy) -> None:
    """The mailbox's IMAP goes through the proxy, with the short timeouts a daemon should have."""
    text = config.read_text(encoding="utf-8")
    start = text.index("[mailbox]")
    section_end = text.index("[drafts]")
    section = text[start:section_end]
    port_line = next(line for line in section.splitlines() if line.startswith("port = "))
    section = section.replace(port_line, f"port = {proxy.port}") + "timeout = 5\n\n"
    config.write_text(text[:start] + section + text[section_end:], encoding="utf-8")


def test_due_steps_go_out_and_the_heartbeat_stays_fresh_while_imap_is_a_black_hole(
    tmp_path: Path, imap_user: ImapUser, owner_user: ImapUser, smtp_server: SmtpServer
) -> None:
    with FaultProxy(imap_user.imap_port, lifetime=240) as proxy:
        config = write_config(tmp_path, imap_user, owner_user, smtp_server)
        _through(config, proxy)
        imap_user.append(
            "INBOX", samples.google_invite(MEETING, MONDAY, uid="hole-1@google.com", guest=samples.BEN)
        )
        run_once(config, MONDAY + timedelta(minutes=5))  # recorded and planned; the prep request goes
        assert [to for to, _ in received(smtp_server)] == [samples.BEN[1]]

        proxy.mode = "blackhole"
        daemon, log_path = _start_daemon(tmp_path, config, HOMEWORK_DUE - timedelta(seconds=LEAD))
        started = time.monotonic()
        heartbeat = tmp_path / "data" / "heartbeat"
        try:
            ages = _watch_heartbeat(
                heartbeat, until=lambda: len(smtp_server.messages) >= 2, seconds=LEAD + 30
            )
            late = time.monotonic() - started - LEAD
            to, _subject = received(smtp_server)[1]
            assert to == samples.OWNER[1], "the owner's homework brief needs no IMAP: it goes out"
            assert late < 10, f"the homework brief went out {late:.1f} s after its time"
            assert max(ages) <= 2 * TICK + 1, f"the heartbeat grew {max(ages):.1f} s old"
            print(f"homework brief {late:.1f} s after its time; heartbeat at most {max(ages):.1f} s old")

            down = _wait_for_value(lambda: _mailbox_down(config), 60, "status never said the mailbox is down")
            since = datetime.fromisoformat(down["since"])
            daemon_clock = (
                HOMEWORK_DUE - timedelta(seconds=LEAD) + timedelta(seconds=time.monotonic() - started)
            )
            assert since <= daemon_clock and daemon_clock - since < timedelta(seconds=60), down
            assert "did not answer" in down["error"] or "timed out" in down["error"], down
            shown = run_cli(["--config", str(config), "--now", daemon_clock.isoformat(), "status"]).output
            assert "reading the mailbox failing since" in shown and "mail to contacts is held" in shown

            # a reschedule waits in the silent mailbox; when the server answers again it is read
            moved = MEETING + timedelta(days=7)
            imap_user.append(
                "INBOX",
                samples.google_invite(moved, MONDAY, uid="hole-1@google.com", guest=samples.BEN, sequence=1),
            )
            proxy.mode = "pass"
            _wait_for(
                lambda: _meeting_start(config) == moved.astimezone(UTC), 90, "the update was never read"
            )
        finally:
            daemon.terminate()
            daemon.wait(timeout=30)
    text = log_path.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert len(smtp_server.messages) == 2, "nothing else was due, and nothing went twice"


def _start_daemon(tmp_path: Path, config: Path, now: datetime) -> tuple[subprocess.Popen[bytes], Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILFLOW_")}
    log_path = tmp_path / "daemon.log"
    with log_path.open("w") as log:
        daemon = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mailflow",
                "--config",
                str(config),
                "--now",
                now.isoformat(),
                "--log-level",
                "info",
                "run",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    return daemon, log_path


def _watch_heartbeat(heartbeat: Path, *, until: Callable[[], bool], seconds: float) -> list[float]:
    """The heartbeat file's age, sampled every 0.2 s (from its first beat) until ``until`` holds."""
    _wait_for(heartbeat.exists, 20, "the daemon never beat")
    ages, deadline = [], time.monotonic() + seconds
    while not until():
        assert time.monotonic() < deadline, "the step due meanwhile never went out"
        ages.append(time.time() - heartbeat.stat().st_mtime)
        time.sleep(0.2)
    return ages


def _mailbox_down(config: Path) -> dict[str, str] | None:
    status = json.loads(run_cli(["--config", str(config), "status", "--json"]).output)
    return next((d for d in status["down"] if d["side"] == "mailbox"), None)


def _wait_for_value(
    probe: Callable[[], dict[str, str] | None], seconds: float, message: str
) -> dict[str, str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = probe()
        if value is not None:
            return value
        time.sleep(0.5)
    raise AssertionError(message)


def _meeting_start(config: Path) -> datetime | None:
    result = run_cli(["--config", str(config), "records", "--json"])
    if result.exit_code != 0:
        return None
    meetings = json.loads(result.output).get("meetings", [])
    if not meetings:
        return None
    return datetime.fromisoformat(meetings[0]["start"]).astimezone(UTC)


def _wait_for(condition: Callable[[], bool], seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(message)


def test_a_stalled_smtp_server_does_not_hold_up_reading_mail(
    tmp_path: Path, imap_user: ImapUser, owner_user: ImapUser, smtp_server: SmtpServer
) -> None:
    with FaultProxy(smtp_server.port, lifetime=120) as proxy:
        config = write_config(tmp_path, imap_user, owner_user, smtp_server)
        text = config.read_text(encoding="utf-8")
        config.write_text(
            text.replace(f"port = {smtp_server.port}\n", f"port = {proxy.port}\ntimeout = 5\n"),
            encoding="utf-8",
        )
        imap_user.append(
            "INBOX", samples.google_invite(MEETING, MONDAY, uid="stall-1@google.com", guest=samples.BEN)
        )
        proxy.mode = "blackhole"  # the prep request due at once will hang in SMTP
        daemon, log_path = _start_daemon(tmp_path, config, MONDAY + timedelta(minutes=5))
        try:
            _wait_for(lambda: _meeting_count(config) == 1, 30, "the first invite was never read")
            _wait_for(lambda: proxy.connections > 0, 30, "the routine never tried to send")
            time.sleep(1)  # the routine is now waiting on the silent SMTP server
            arrived = time.monotonic()
            imap_user.append(
                "INBOX",
                samples.google_invite(
                    MEETING + timedelta(days=1), MONDAY, uid="stall-2@google.com", guest=samples.BEN
                ),
            )
            _wait_for(lambda: _meeting_count(config) == 2, 20, "a stalled SMTP server held up intake")
            print(f"second invite recorded {time.monotonic() - arrived:.1f} s after it arrived, SMTP silent")
            assert smtp_server.messages == []
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
    assert "Traceback" not in log_path.read_text()


def _meeting_count(config: Path) -> int:
    result = run_cli(["--config", str(config), "records", "--json"])
    return len(json.loads(result.output).get("meetings", [])) if result.exit_code == 0 else -1
