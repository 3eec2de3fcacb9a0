"""Intake under its budgets: a message over them is kept as unreadable and the cursor moves on,
a daemon's sync stops understanding in time and the next one goes on, a message that was
being read when mailflow died twice is quarantined, and ``messages --retry`` reads it again.

Real worker processes, a real SQLite file, a real Maildir; the crash is a real SIGKILL of a
real process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from mailflow.config import Settings
from mailflow.engine.intake import Intake
from mailflow.model import Understanding
from mailflow.sources import open_source
from mailflow.sources.memory import MemorySource
from mailflow.store import Store
from mailflow.understand import Context, understand
from tests import intake_support as support
from tests.cli_helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]


def _spins_on_cue(raw: bytes, context: Context) -> Understanding:
    """Stands for a message nobody has found yet that hangs the parsers."""
    if b"X-Test-Trouble: spin" in raw:
        while True:
            pass
    return understand(raw, context)


def _slow(raw: bytes, context: Context) -> Understanding:
    time.sleep(0.3)  # wall time, not CPU: under the per-message budget, over the sync's
    return understand(raw, context)


def _trouble(raw: bytes) -> bytes:
    return b"X-Test-Trouble: spin\r\n" + raw


def _invite(number: int) -> bytes:
    raw = support.fixture("fwd_gmail_invite.eml")
    return support.with_message_id(raw, f"<invite-{number}@owner.example>")


def _settings(tmp_path: Path, **intake: object) -> Settings:
    config = support.settings(tmp_path, kind="maildir")
    return config.model_copy(update={"intake": config.intake.model_copy(update=intake)})


def _rows(store: Store) -> list[tuple[str, str]]:
    with store.read() as tx:
        return [(row.kind, row.error) for row in tx.list_messages()]


def test_messages_over_the_cpu_budget_are_kept_unreadable_and_the_rest_is_recorded(tmp_path: Path) -> None:
    config = _settings(tmp_path, message_seconds=0.5)
    store = support.open_store(config)
    mail = [
        _trouble(support.plain(sender=support.OWNER, subject="t1")),
        _invite(1),
        _trouble(support.plain(sender=support.OWNER, subject="t2")),
        support.plain(sender=support.OWNER, subject="a note"),
    ]
    source = MemorySource(mail)
    summary = Intake(store, source, config, understand_fn=_spins_on_cue).sync()
    assert summary.over_budget == 2 and summary.meetings_created == 1 and summary.errors == 2
    rows = _rows(store)
    assert sorted(kind for kind, _error in rows) == ["ignored", "invite", "unreadable", "unreadable"]
    assert all("[intake] message_seconds" in error for kind, error in rows if kind == "unreadable")
    again = Intake(store, source, config, understand_fn=_spins_on_cue).sync()
    assert again.seen == 0, "the cursor moved past the messages over budget"
    store.close()


def test_a_daemon_sync_stops_understanding_in_time_and_the_next_one_goes_on(tmp_path: Path) -> None:
    config = _settings(tmp_path)
    store = support.open_store(config)
    notes = [support.plain(sender=support.OWNER, subject=f"note {n}") for n in range(8)]
    source = MemorySource(notes)
    intake = Intake(store, source, config, understand_fn=_slow, batch_size=5)
    first = intake.sync(seconds=0.5)
    assert first.more and 0 < len(_rows(store)) < 8
    syncs = 1
    while len(_rows(store)) < 8 and syncs < 20:
        intake.sync(seconds=0.5)
        syncs += 1
    subjects = []
    with store.read() as tx:
        subjects = sorted(row.subject for row in tx.list_messages())
    assert subjects == sorted(f"note {n}" for n in range(8)), "each message once, none lost"
    assert intake.sync().seen == 0
    with store.read() as tx:  # nothing left half-counted for the crash rule
        assert tx.bump_attempts(source.key, []) == {}
    store.close()


def test_a_stop_request_ends_a_sync_with_what_is_done_written(tmp_path: Path) -> None:
    config = _settings(tmp_path)
    store = support.open_store(config)
    source = MemorySource([support.plain(sender=support.OWNER, subject=f"n{n}") for n in range(6)])
    intake = Intake(store, source, config, understand_fn=_slow)
    started = time.monotonic()
    summary = intake.sync(should_stop=lambda: time.monotonic() - started > 0.8)  # SIGTERM, 2-3 answers in
    assert summary.more
    recorded = len(_rows(store))
    assert 0 < recorded < 6
    assert intake.sync().seen == 6 - recorded
    assert len(_rows(store)) == 6
    store.close()


_CRASHING_SYNC = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from mailflow.config import Settings
    from mailflow.engine.intake import Intake
    from mailflow.sources import open_source
    from mailflow.store import Store
    from mailflow.understand import understand

    def hang(raw, context):
        if b"Invitation" in raw:  # the invite hangs; the owner's notes after it do not
            Path(sys.argv[2]).write_text("reading")  # the parent kills us now
            time.sleep(600)
        return understand(raw, context)

    config = Settings.model_validate_json(Path(sys.argv[1]).read_text())
    store = Store.open(config.database_url())
    Intake(store, open_source(config), config, understand_fn=hang, workers=1).sync()
    """
)


def _crash_while_understanding(config_json: Path, tmp_path: Path) -> None:
    """A real process syncs; while its worker reads the message it is SIGKILLed (no cleanup runs)."""
    marker = tmp_path / "reading"
    marker.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", _CRASHING_SYNC, str(config_json), str(marker)], env=env, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert process.poll() is None, "the sync ended before it read the message"
            assert time.monotonic() < deadline, "the sync never started reading"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the daemon and its worker, as the OOM killer or a power cut
        process.wait()


def test_a_message_read_during_two_crashes_is_quarantined_then_retried_by_command(tmp_path: Path) -> None:
    """Only the message in the worker when mailflow died counts, not the batch queued behind it."""
    maildir = tmp_path / "Maildir"
    support.write_maildir_message(maildir, support.fixture("fwd_gmail_invite.eml"))
    for number in range(5):
        support.write_maildir_message(maildir, support.plain(sender=support.OWNER, subject=f"note {number}"))
    config = support.settings(tmp_path, kind="maildir", path=str(maildir))
    config_json = tmp_path / "config.json"
    config_json.write_text(config.model_dump_json())
    store = support.open_store(config)
    for _crash in range(2):
        _crash_while_understanding(config_json, tmp_path)
    assert _rows(store) == [], "nothing was recorded by the crashed syncs"

    third = Intake(store, open_source(config), config).sync()
    assert third.quarantined == 1 and third.meetings_created == 0
    rows = _rows(store)
    assert len(rows) == 6, "the five notes are read as usual"
    ((kind, error),) = [row for row in rows if row[1]]
    assert kind == "unreadable" and error.startswith("quarantined: mailflow stopped 2 times")
    assert "mailflow messages --retry" in error

    config_file = tmp_path / "config.toml"
    config_file.write_text(
        f'[owner]\naddresses = ["{support.OWNER}"]\ntimezone = "Europe/Berlin"\n'
        f'[trust]\nauthserv_id = "{support.AUTHSERV}"\n[sending]\nmessage_id_domain = "mailflow.owner.example"\n'
        f'[mailbox]\nkind = "maildir"\npath = "{maildir}"\nusername = "{support.MAILBOX}"\n'
        f'[data]\nfolder = "{tmp_path / "data"}"\n'
    )
    listed = json.loads(run_cli(["--config", str(config_file), "messages", "--errors", "--json"]).output)
    (quarantined,) = listed
    retried = run_cli(["--config", str(config_file), "messages", "--retry", str(quarantined["id"])])
    assert retried.exit_code == 0, retried.output
    assert "is now understood: invite, meeting" in retried.output
    assert [kind for kind, error in _rows(store) if kind == "invite" or error] == ["invite"]
    with store.read() as tx:
        assert len(tx.list_meetings()) == 1
    again = run_cli(["--config", str(config_file), "messages", "--retry", str(quarantined["id"])])
    assert again.exit_code == 2  # the old row is gone; whatever holds its id now is no error to retry
    assert "there is no message" in again.output or "was understood already" in again.output
    store.close()


def test_retry_refuses_a_message_that_was_understood(tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    support.write_maildir_message(maildir, support.fixture("fwd_gmail_invite.eml"))
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        f'[owner]\naddresses = ["{support.OWNER}"]\ntimezone = "Europe/Berlin"\n'
        f'[trust]\nauthserv_id = "{support.AUTHSERV}"\n'
        f'[mailbox]\nkind = "maildir"\npath = "{maildir}"\n[data]\nfolder = "{tmp_path / "data"}"\n'
    )
    assert run_cli(["--config", str(config_file), "sync", "--once"]).exit_code == 0
    (row,) = json.loads(run_cli(["--config", str(config_file), "messages", "--json"]).output)
    refused = run_cli(["--config", str(config_file), "messages", "--retry", str(row["id"])])
    assert refused.exit_code == 2 and "was understood already (as invite)" in refused.output


def _dated_year_one(raw: bytes, context: Context) -> Understanding:
    """Stands for a date that slips through understanding and breaks the store (year 1, east of UTC)."""
    return replace(understand(raw, context), sent_at=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))


def test_a_message_whose_record_and_log_row_both_fail_is_still_logged_and_the_sync_goes_on(
    tmp_path: Path,
) -> None:
    config = _settings(tmp_path)
    store = support.open_store(config)
    source = MemorySource([support.plain(sender=support.OWNER, subject=f"n{n}") for n in range(3)])
    summary = Intake(store, source, config, understand_fn=_dated_year_one).sync()
    assert summary.errors == 3
    rows = _rows(store)
    assert len(rows) == 3 and all(
        kind == "unreadable" and "could not be recorded" in error for kind, error in rows
    )
    assert Intake(store, source, config).sync().seen == 0
    store.close()


def _slow_on_cue(raw: bytes, context: Context) -> Understanding:
    if b"X-Test-Trouble: slow" in raw:
        time.sleep(1.5)  # wall time: under the CPU budget, over the sync's
    return understand(raw, context)


def test_late_mail_cut_by_the_deadline_is_read_by_the_next_sync(tmp_path: Path) -> None:
    """Jordan becomes a contact in batch 1; their mail in batch 2 was passed over by the triage and is
    picked late.  The deadline passes while it is read: it must be read again, never lost."""
    config = _settings(tmp_path)
    store = support.open_store(config)
    jordans = b"X-Test-Trouble: slow\r\n" + support.fixture("reply_contact_resume.eml")
    source = MemorySource([support.fixture("fwd_gmail_invite.eml"), jordans])
    intake = Intake(store, source, config, understand_fn=_slow_on_cue, batch_size=1)
    first = intake.sync(seconds=0.5)
    assert first.vanished == 0
    intake.sync()
    with store.read() as tx:
        senders = sorted(row.sender for row in tx.list_messages())
    assert senders == ["ana@owner.example", "jordan.lee@contact.example"], senders
    store.close()


def test_a_message_slower_than_a_whole_daemon_sync_still_finishes(tmp_path: Path) -> None:
    """The time budget cuts only after a sync understood something, so intake always moves on."""
    config = _settings(tmp_path)
    store = support.open_store(config)
    slow = _trouble(support.plain(sender=support.OWNER, subject="slow")).replace(b"spin", b"slow")
    source = MemorySource([slow, support.plain(sender=support.OWNER, subject="next")])
    intake = Intake(store, source, config, understand_fn=_slow_on_cue)
    intake.sync(seconds=0.2)
    intake.sync(seconds=0.2)
    subjects = {row[0] for row in _subjects(store)}
    assert "slow" in subjects, "the slow message was cut on every sync"
    store.close()


def _subjects(store: Store) -> list[tuple[str]]:
    with store.read() as tx:
        return [(row.subject,) for row in tx.list_messages()]
