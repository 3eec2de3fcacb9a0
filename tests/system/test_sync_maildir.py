"""Intake from a local Maildir, the way mbsync or offlineimap leave it, and the commands.

The same scenarios as against Dovecot, plus what only a Maildir has: a mail
client renaming files, and the message list kept outside the Maildir.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.config import Settings
from mailflow.engine.intake import Intake, SyncSummary, watch
from mailflow.sources import UidCursor, open_source
from mailflow.sources.maildir import MaildirSource
from mailflow.store import Store
from tests import intake_support as support
from tests.cli_helpers import run_cli


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    directory = tmp_path / "Maildir"
    for name in ("cur", "new", "tmp"):
        (directory / name).mkdir(parents=True)
    return directory


@pytest.fixture
def config(tmp_path: Path, maildir: Path) -> Settings:
    return support.settings(tmp_path, kind="maildir", path=str(maildir))


@pytest.fixture
def store(config: Settings) -> Iterator[Store]:
    opened = support.open_store(config)
    yield opened
    opened.close()


def _deliver(maildir: Path, *messages: bytes) -> list[Path]:
    return [support.write_maildir_message(maildir, raw) for raw in messages]


def _sync(store: Store, config: Settings) -> SyncSummary:
    with open_source(config) as source:
        return Intake(store, source, config).sync()


def test_delivered_mail_becomes_records_and_files_stay_as_they_were(
    maildir: Path, config: Settings, store: Store
) -> None:
    paths = _deliver(
        maildir,
        support.fixture("fwd_gmail_invite.eml"),
        support.fixture("zoom_invite.eml"),
        support.fixture("newsletter.eml"),
    )
    before = {path: path.read_bytes() for path in paths}
    summary = _sync(store, config)
    assert (summary.seen, summary.parsed, summary.skipped, summary.meetings_created) == (3, 2, 1, 2)
    with store.read() as tx:
        states = sorted((m.state, m.trusted) for m in tx.list_meetings())
        logged = tx.list_messages()
    assert states == [("pending", False), ("scheduled", True)]
    assert sorted(m.location for m in logged) == sorted(str(p) for p in paths[:2])
    assert {path: path.read_bytes() for path in paths} == before  # read only: same names, same bytes
    assert not any((maildir / "cur").iterdir())


def test_a_mail_client_renaming_files_does_not_make_them_new(
    maildir: Path, config: Settings, store: Store
) -> None:
    (path,) = _deliver(maildir, support.fixture("fwd_gmail_invite.eml"))
    assert _sync(store, config).parsed == 1
    path.rename(maildir / "cur" / (path.name + ":2,S"))  # read in a mail client: new/ -> cur/, seen
    again = _sync(store, config)
    assert (again.seen, again.parsed) == (0, 0)


def test_the_same_message_twice_and_two_forwards_make_one_meeting(
    maildir: Path, config: Settings, store: Store
) -> None:
    invite = support.fixture("fwd_gmail_invite.eml")
    _deliver(maildir, invite, invite, support.with_message_id(invite, "<second-forward@mail.gmail.com>"))
    summary = _sync(store, config)
    assert (summary.meetings_created, summary.duplicates) == (1, 1)
    with store.read() as tx:
        logged = tx.list_messages()
        (meeting,) = tx.list_meetings()
    assert [m.meeting_id for m in logged] == [meeting.id, meeting.id]


def test_a_lost_message_list_rereads_without_duplicates(
    maildir: Path, config: Settings, store: Store, tmp_path: Path
) -> None:
    owner_note = support.without_message_id(support.fixture("fwd_gmail_request.eml"))
    _deliver(maildir, support.fixture("fwd_gmail_invite.eml"), owner_note)
    assert _sync(store, config).parsed == 2
    with store.read() as tx:
        old = UidCursor.parse(tx.get_cursor(f"maildir:{maildir}"))
    (list_file,) = (tmp_path / "data" / "maildir").glob("*.uids")
    list_file.unlink()  # the list is gone: a new UIDVALIDITY, like a recreated IMAP folder
    _deliver(maildir, support.fixture("zoom_invite.eml"))
    again = _sync(store, config)
    assert (again.seen, again.duplicates, again.meetings_created, again.errors) == (3, 2, 1, 0)
    with store.read() as tx:
        new = UidCursor.parse(tx.get_cursor(f"maildir:{maildir}"))
        assert len(tx.list_messages()) == 3
    assert old is not None and new is not None and new.uidvalidity != old.uidvalidity


def test_a_corrupt_message_among_good_ones_is_logged_and_the_rest_goes_on(
    tmp_path: Path, maildir: Path, config: Settings, store: Store
) -> None:
    paths = _deliver(
        maildir,
        support.fixture("fwd_gmail_invite.eml"),
        support.corrupt(),
        support.fixture("zoom_invite.eml"),
    )
    summary = _sync(store, config)
    assert (summary.seen, summary.meetings_created, summary.errors) == (3, 2, 1)
    with store.read() as tx:
        (error,) = tx.list_messages(errors_only=True)
    assert error.location == str(paths[1]) and "not an e-mail message" in error.error
    assert paths[1].exists()


def test_a_waiting_sync_picks_up_a_new_file(maildir: Path, config: Settings, store: Store) -> None:
    source = MaildirSource(maildir, state_dir=config.data_folder(), poll_every=0.05)
    intake = Intake(store, source, config)
    stop, first = threading.Event(), threading.Event()
    kwargs = {"intake": intake, "stop": stop, "slice_seconds": 0.3, "on_error": print}
    worker = threading.Thread(target=watch, kwargs={**kwargs, "on_summary": lambda s: first.set()})
    worker.start()
    try:
        assert first.wait(10)
        _deliver(maildir, support.fixture("fwd_gmail_invite.eml"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _meeting_count(store):
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join(10)
    assert not worker.is_alive()
    assert _meeting_count(store) == 1


def test_processed_mail_is_moved_when_configured(tmp_path: Path, maildir: Path, store: Store) -> None:
    config = support.settings(tmp_path, kind="maildir", path=str(maildir), move_processed_to="Done")
    paths = _deliver(maildir, support.fixture("fwd_gmail_invite.eml"), support.corrupt())
    _sync(store, config)
    assert not paths[0].exists() and paths[1].exists()  # the error stays where it was
    assert [p.name for p in (maildir / ".Done" / "cur").iterdir()] == [paths[0].name]


def test_sync_once_and_messages_commands(tmp_path: Path, maildir: Path) -> None:
    _deliver(maildir, support.fixture("fwd_gmail_invite.eml"), support.corrupt(), support.plain())
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        f'[owner]\naddresses = ["{support.OWNER}"]\ntimezone = "Europe/Berlin"\n'
        f'[trust]\nauthserv_id = "{support.AUTHSERV}"\n'
        f'[mailbox]\nkind = "maildir"\npath = "{maildir}"\n[data]\nfolder = "{tmp_path / "data"}"\n'
    )
    synced = run_cli(["--config", str(config_file), "sync", "--once"])
    assert synced.exit_code == 0, synced.output
    assert "3 new messages" in synced.output and "1 meeting(s) created" in synced.output
    assert "1 error" in synced.output and "mailflow messages --errors" in synced.output
    again = run_cli(["--config", str(config_file), "sync", "--once", "--json"])
    assert json.loads(again.output)["seen"] == 0
    listed = json.loads(run_cli(["--config", str(config_file), "messages", "--json"]).output)
    assert [m["kind"] for m in listed] == ["invite", "unreadable"]
    errors = run_cli(["--config", str(config_file), "messages", "--errors"])
    assert "not an e-mail message" in errors.output and str(maildir) in errors.output.replace("\n", "")


def test_sync_refuses_to_run_without_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    result = run_cli(["sync", "--once"])
    assert result.exit_code == 2
    assert "no configuration found" in result.output


def test_a_maildir_path_that_is_not_a_maildir_is_a_configuration_error(tmp_path: Path) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'[mailbox]\nkind = "maildir"\npath = "{tmp_path / "nowhere"}"\n')
    result = run_cli(["--config", str(config_file), "sync", "--once"])
    assert result.exit_code == 2
    assert "is not a Maildir" in result.output


def _meeting_count(store: Store) -> int:
    with store.read() as tx:
        return len(tx.list_meetings())
