"""`mailflow run` against a real Dovecot and a real SMTP server.

`run --once` at a series of `--now` instants sends and drafts exactly what the
schedule says; the daemon, started as a subprocess, picks up a new invite
through IDLE and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailflow import clock
from mailflow.demo import samples
from tests.cli_helpers import run_cli
from tests.rig.dovecot import ImapUser
from tests.rig.smtp import SmtpServer

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2030, 1, 7, 9, 0, tzinfo=BERLIN)
MEETING = datetime(2030, 1, 10, 15, 0, tzinfo=BERLIN)  # Thursday, 45 minutes


def write_config(
    tmp_path: Path,
    mailbox: ImapUser,
    owner: ImapUser,
    smtp: SmtpServer,
    *,
    window: str = "Mon-Fri 08:00-18:00",
) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[owner]
name = "Ana Lima"
addresses = ["{samples.OWNER[1]}"]
timezone = "Europe/Berlin"

[mailbox]
kind = "imap"
address = "{samples.MAILFLOW[1]}"
host = "{mailbox.host}"
port = {mailbox.imap_port}
security = "starttls"
ca_file = "{mailbox.ca_file}"
username = "{mailbox.name}"
password = "{mailbox.password}"
idle = true

[drafts]
host = "{owner.host}"
port = {owner.imaps_port}
security = "tls"
ca_file = "{owner.ca_file}"
username = "{owner.name}"
password = "{owner.password}"

[smtp]
host = "{smtp.host}"
port = {smtp.port}
security = "starttls"
ca_file = "{smtp.ca_file}"
username = "{mailbox.name}"
password = "{mailbox.password}"
from_address = "{samples.OWNER[1]}"

[data]
folder = "{tmp_path / "data"}"

[sending]
window = "{window}"
message_id_domain = "mailflow.test"

[daemon]
tick_seconds = 1
idle_slice_seconds = 1
""",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def owner_user(imap_user: ImapUser) -> ImapUser:
    return imap_user.server.new_user("owner")


@pytest.fixture(autouse=True)
def _real_clock_after() -> Iterator[None]:
    yield
    clock.set_now(None)


def run_once(config: Path, at: datetime) -> str:
    result = run_cli(["--config", str(config), "--now", at.isoformat(), "run", "--once"])
    assert result.exit_code == 0, result.output
    return result.output


def received(smtp: SmtpServer) -> list[tuple[str, str]]:
    return [(m.message()["To"].addresses[0].addr_spec, str(m.message()["Subject"])) for m in smtp.messages]


def test_run_once_follows_the_schedule(
    tmp_path: Path, imap_user: ImapUser, owner_user: ImapUser, smtp_server: SmtpServer
) -> None:
    config = write_config(tmp_path, imap_user, owner_user, smtp_server)
    imap_user.append(
        "INBOX", samples.google_invite(MEETING, MONDAY, uid="live-1@google.com", guest=samples.BEN)
    )

    run_once(config, MONDAY + timedelta(minutes=5))
    assert [to for to, _ in received(smtp_server)] == [samples.BEN[1]]  # the prep request, at once
    prep = smtp_server.messages[0].message()
    assert prep["Message-ID"].endswith("@mailflow.test>")
    assert prep["In-Reply-To"] == "<live-1-0R@google.com>"  # threads onto the invite
    assert smtp_server.messages[0].auth_user == imap_user.name

    run_once(config, MONDAY + timedelta(hours=3))
    assert len(smtp_server.messages) == 1  # nothing else is due yet

    run_once(config, datetime(2030, 1, 9, 8, 1, tzinfo=BERLIN))  # the day before, 08:00: homework
    run_once(config, MEETING + timedelta(minutes=46))  # the end: summary prompt
    owner_mail = [subject for to, subject in received(smtp_server)[1:]]
    assert len(owner_mail) == 2
    assert all(to == samples.OWNER[1] for to, _ in received(smtp_server)[1:])
    assert smtp_server.messages[1].message()["Auto-Submitted"] == "auto-generated"

    run_once(config, MEETING + timedelta(hours=3, minutes=50))  # end + 3h: the thank-you draft
    with owner_user.connect() as client:
        client.select_folder("Drafts", readonly=True)
        uids = client.search(["ALL"])
        assert len(uids) == 1
        fetched = client.fetch(uids, ["FLAGS", "BODY.PEEK[HEADER.FIELDS (TO IN-REPLY-TO)]"])
    (data,) = fetched.values()
    assert b"\\Draft" in data[b"FLAGS"]
    assert samples.BEN[1].encode() in data[b"BODY[HEADER.FIELDS (TO IN-REPLY-TO)]"]

    run_once(config, datetime(2030, 1, 11, 9, 1, tzinfo=BERLIN))  # next morning: take action
    run_once(config, datetime(2030, 1, 11, 9, 30, tzinfo=BERLIN))  # again: nothing twice
    assert len(smtp_server.messages) == 4
    ids = [m.message()["Message-ID"] for m in smtp_server.messages]
    assert len(set(ids)) == 4


def test_a_cancellation_stops_the_contact_steps(
    tmp_path: Path, imap_user: ImapUser, owner_user: ImapUser, smtp_server: SmtpServer
) -> None:
    config = write_config(tmp_path, imap_user, owner_user, smtp_server)
    invite = samples.google_invite(MEETING, MONDAY, uid="live-2@google.com", guest=samples.BEN)
    cancel = samples.google_invite(
        MEETING, MONDAY, uid="live-2@google.com", guest=samples.BEN, sequence=1, method="CANCEL"
    )
    imap_user.append("INBOX", invite)
    imap_user.append("INBOX", cancel)
    run_once(config, MONDAY + timedelta(minutes=5))
    run_once(config, MEETING + timedelta(days=2))
    assert smtp_server.messages == []
    with owner_user.connect() as client:
        client.select_folder("Drafts", readonly=True)
        assert client.search(["ALL"]) == []


def test_the_daemon_wakes_on_idle_and_stops_on_sigterm(
    tmp_path: Path, imap_user: ImapUser, owner_user: ImapUser, smtp_server: SmtpServer
) -> None:
    config = write_config(tmp_path, imap_user, owner_user, smtp_server, window="Mon-Sun 00:00-23:59")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILFLOW_")}
    log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "mailflow", "--config", str(config), "--log-level", "info", "run"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        heartbeat = tmp_path / "data" / "heartbeat"
        _wait(lambda: heartbeat.exists(), 20, "the daemon never beat")
        start = datetime.now(UTC) + timedelta(days=3)
        imap_user.append(
            "INBOX",
            samples.google_invite(start, datetime.now(UTC), uid="idle-1@google.com", guest=samples.BEN),
        )
        smtp_server.wait_for(1, timeout=30)  # the prep request, soon after the invite arrived
        assert smtp_server.messages[0].message()["To"].addresses[0].addr_spec == samples.BEN[1]
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=20) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
        log.close()
    text = (tmp_path / "daemon.log").read_text()
    assert "finishing the current step, then stopping" in text
    assert "mailflow daemon stopped" in text
    assert "Traceback" not in text


def test_two_daemons_never_share_a_database(
    tmp_path: Path, imap_user: ImapUser, owner_user: ImapUser, smtp_server: SmtpServer
) -> None:
    from mailflow.daemon import single_instance

    config = write_config(tmp_path, imap_user, owner_user, smtp_server)
    with single_instance(tmp_path / "data" / "mailflow.lock"):
        result = run_cli(["--config", str(config), "run", "--once"])
    assert result.exit_code == 2
    assert "another mailflow daemon" in result.output


def _wait(condition: object, seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(message)
