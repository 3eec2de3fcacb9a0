"""The owner's data in their own hands: export json and csv, backup, and [owner] keep_files (README "Your data")."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mailflow import clock
from mailflow.cli.app import configure_for_tests
from mailflow.config import load_settings, parse_keep
from mailflow.engine.attachments import AttachmentFolder
from mailflow.engine.cycle import Engine
from mailflow.engine.exporting import spreadsheet_safe
from mailflow.engine.retention import KIND, LAST_RUN, expire_files
from mailflow.errors import ConfigError
from mailflow.model import MessageRef, SavedAttachment
from mailflow.sinks.factory import Sinks
from mailflow.sinks.memory import MemorySink
from mailflow.sources.memory import MemorySource
from mailflow.store import MeetingData, MessageData, Store
from tests.cli_helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)
START = datetime(2031, 3, 12, 15, 0, tzinfo=UTC)
HOSTILE = "=cmd|' /C calc'!A0"
RESUME = b"%PDF-1.4 Ben's resume"


@dataclass
class World:
    folder: Path
    data: Path
    config: Path
    url: str
    ids: dict[str, int]

    def cli(self, *args: str, now: datetime = START) -> tuple[int, str]:
        result = run_cli(["--config", str(self.config), "--now", now.isoformat(), *args])
        return result.exit_code, result.output

    def store(self) -> Store:
        return Store.open(self.url)


def write_config(folder: Path, extra: str = "") -> Path:
    config = folder / "config.toml"
    config.write_text(
        '[owner]\nname = "Ana"\naddresses = ["ana@example.org"]\ntimezone = "Europe/Berlin"\n'
        f'{extra}[data]\nfolder = "{folder / "data"}"\n[sending]\nwindow = "Mon-Sun 00:00-23:59"\n',
        encoding="utf-8",
    )
    return config


def save(data: Path, filename: str, content: bytes) -> Any:
    saved = AttachmentFolder(data, 10_000_000).save(SavedAttachment(filename, "application/pdf", content))
    assert saved is not None
    return saved


def build(store: Store, data: Path) -> dict[str, int]:
    """Contacts, meetings with steps, notes, contact notes, files and mail, through the store's API."""
    clock.set_now(T0)
    with store.transaction() as tx:
        ben = tx.upsert_contact("Ben@Example.net", "Ben\r\nOkafor")
        evil = tx.upsert_contact("evil@example.com", HOSTILE)
        carla = tx.upsert_contact("carla@example.org", "Carla <b>Mendes</b>")
        tx.set_do_not_contact(carla.id, "asked to stop")
        tx.add_contact_note(ben.id, "met at the meetup\n=1+1 on line two", message_id="<note@example.org>")
        coffee, _ = tx.upsert_meeting(
            MeetingData(
                ical_uid="coffee-1@example.net",
                start_at=START,
                end_at=START + timedelta(minutes=30),
                summary="@SUM(1+1) coffee\r\nwith Ben",
                timezone="Europe/Berlin",
                counterpart_id=ben.id,
                trusted=True,
            )
        )
        odd, _ = tx.upsert_meeting(
            MeetingData(ical_uid="odd@example.com", summary="-2+3", counterpart_id=evil.id, state="scheduled")
        )
        tx.set_doubts(odd.id, ["DTSTART cannot be read"])
        sent, _ = tx.plan_step(coffee.id, "prep_request", 0, T0, "send")
        tx.claim_step(sent.id, "<prep@example.org>")
        tx.mark_sent(sent.id, at=T0 + timedelta(minutes=1))
        tx.plan_step(coffee.id, "homework_brief", 0, START - timedelta(hours=8), "send")
        tx.add_note(coffee.id, "Ben knows everyone in <b>robotics</b>", source="cli")
        resume = save(data, "ben-resume.pdf", RESUME)
        tx.add_attachment(
            resume.path, meeting_id=coffee.id, contact_id=ben.id, filename=resume.filename,
            content_type=resume.content_type, size=resume.size, sha256=resume.sha256,
            message_id="<reply@example.net>",
        )  # fmt: skip
        sample = save(data, "portfolio.pdf", b"carla's work")
        tx.add_attachment(
            sample.path, contact_id=carla.id, filename=sample.filename, size=sample.size, sha256=sample.sha256
        )
        tx.record_message(
            MessageData(
                ref=MessageRef("mailbox", "INBOX", 7, 1), message_id="<reply@example.net>", kind="contact_reply",
                meeting_id=coffee.id, contact_id=ben.id, sender="ben@example.net", subject="Re: coffee",
                sent_at=T0 + timedelta(hours=2),
            )
        )  # fmt: skip
        tx.record_message(
            MessageData(
                ref=None, direction="out", message_id="<prep@example.org>", kind="prep_request",
                meeting_id=coffee.id, contact_id=ben.id, step_id=sent.id, subject="Before our coffee",
            )
        )  # fmt: skip
        tx.record_message(
            MessageData(
                ref=MessageRef("mailbox", "INBOX", 7, 2), kind="contact_note", contact_id=carla.id,
                sender="ana@example.org", subject="Fwd: Carla #note",
            )
        )  # fmt: skip
        tx.record_message(
            MessageData(
                ref=MessageRef("mailbox", "INBOX", 7, 3), kind="unreadable", error="not an e-mail message"
            )
        )
    return {"ben": ben.id, "evil": evil.id, "carla": carla.id, "coffee": coffee.id, "odd": odd.id}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    config = write_config(tmp_path)
    url = f"sqlite:///{tmp_path / 'data' / 'mailflow.db'}"
    store = Store.open(url)
    ids = build(store, tmp_path / "data")
    store.close()
    clock.set_now(None)
    yield World(tmp_path, tmp_path / "data", config, url, ids)


# -- export json ------------------------------------------------------------------


def test_export_json_holds_every_record(world: World) -> None:
    target = world.folder / "export.json"
    code, output = world.cli("export", "json", str(target))
    assert code == 0, output
    assert "wrote 3 contacts and 2 meetings" in output
    assert target.stat().st_mode & 0o777 == 0o600  # personal data: the owner's eyes only
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert (doc["schema"], doc["version"]) == ("mailflow-export", 1)
    assert datetime.fromisoformat(doc["exported_at"]).utcoffset() == timedelta(0)
    assert doc["owner"] == {"name": "Ana", "addresses": ["ana@example.org"], "timezone": "Europe/Berlin"}

    contacts = {c["address"]: c for c in doc["contacts"]}
    assert list(contacts) == ["ben@example.net", "evil@example.com", "carla@example.org"]  # by id
    ben, carla = contacts["ben@example.net"], contacts["carla@example.org"]
    assert (
        ben["name"] == "Ben\r\nOkafor" and ben["id"] == world.ids["ben"]
    )  # exported as stored, JSON-escaped
    assert [n["text"] for n in ben["notes"]] == ["met at the meetup\n=1+1 on line two"]
    assert ben["notes"][0]["message_id"] == "<note@example.org>"
    assert carla["do_not_contact"] is True and carla["do_not_contact_reason"] == "asked to stop"
    assert [a["filename"] for a in carla["attachments"]] == ["portfolio.pdf"]
    assert [m["subject"] for m in carla["messages"]] == ["Fwd: Carla #note"]

    coffee = next(m for m in doc["meetings"] if m["id"] == world.ids["coffee"])
    assert coffee["counterpart"] == "ben@example.net" and coffee["counterpart_id"] == world.ids["ben"]
    assert (coffee["state"], coffee["role"]) == ("scheduled", "seeker")
    assert coffee["start"] == "2031-03-12T15:00:00+00:00" and coffee["end"] == "2031-03-12T15:30:00+00:00"
    steps = {s["step"]: s for s in coffee["steps"]}
    assert steps["prep_request"]["state"] == "sent"
    assert steps["prep_request"]["sent_at"] == "2031-03-01T09:01:00+00:00"
    assert steps["prep_request"]["message_id"] == "<prep@example.org>"
    assert steps["homework_brief"] == {**steps["homework_brief"], "state": "pending", "sent_at": None}
    assert steps["homework_brief"]["due_at"] == "2031-03-12T07:00:00+00:00"
    assert [(n["source"], n["text"]) for n in coffee["notes"]] == [
        ("cli", "Ben knows everyone in <b>robotics</b>")
    ]
    (resume,) = coffee["attachments"]
    assert resume["sha256"] == hashlib.sha256(RESUME).hexdigest() and resume["size"] == len(RESUME)
    assert (world.data / resume["path"]).read_bytes() == RESUME  # named, never included
    assert "resume" not in json.dumps({k: v for k, v in resume.items() if k not in {"path", "filename"}})
    assert [(m["direction"], m["kind"]) for m in coffee["messages"]] == [
        ("out", "prep_request"),
        ("in", "contact_reply"),
    ]
    assert coffee["messages"][1]["sender"] == "ben@example.net"
    odd = next(m for m in doc["meetings"] if m["id"] == world.ids["odd"])
    assert odd["doubts"] == ["DTSTART cannot be read"] and odd["start"] is None
    assert [m["error"] for m in doc["messages"]] == ["not an e-mail message"]


def test_export_json_without_path_prints_the_same_document(world: World) -> None:
    target = world.folder / "export.json"
    assert world.cli("export", "json", str(target))[0] == 0
    code, output = world.cli("export", "json")
    assert code == 0
    printed, written = json.loads(output), json.loads(target.read_text(encoding="utf-8"))
    printed.pop("exported_at"), written.pop("exported_at")
    assert printed == written


def _produced_keys(
    value: Any, path: str = "", found: dict[str, set[str]] | None = None
) -> dict[str, set[str]]:
    """Every object's keys, by path: "" for the document, "meetings[].steps[]" for a step."""
    found = {} if found is None else found
    if isinstance(value, dict):
        found.setdefault(path, set()).update(value)
        for key, item in value.items():
            _produced_keys(item, f"{path}.{key}".lstrip("."), found)
    elif isinstance(value, list):
        for item in value:
            _produced_keys(item, f"{path}[]", found)
    return found


def _documented_keys() -> dict[str, set[str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Your data\n", 1)[1].split("\n## ", 1)[0]
    documented: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in {"object", "---"}:
            continue
        keys = set(re.findall(r"`([a-z_0-9]+)`", cells[1]))
        for where in re.findall(r"`([a-z_.\[\]]+)`", cells[0]) or [""]:
            documented[where] = keys
    return documented


def test_the_readme_documents_exactly_the_keys_the_export_has(world: World) -> None:
    code, output = world.cli("export", "json")
    assert code == 0
    produced = _produced_keys(json.loads(output))
    produced.pop("owner.addresses[]", None)  # strings, not objects
    assert _documented_keys() == {path: keys for path, keys in produced.items() if keys}


# -- export csv -------------------------------------------------------------------


def _read_csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte order mark, for Excel
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_export_csv_neutralises_what_strangers_wrote(world: World) -> None:
    folder = world.folder / "sheets" / "new"
    code, output = world.cli("export", "csv", str(folder))
    assert code == 0, output
    contacts, meetings = _read_csv(folder / "contacts.csv"), _read_csv(folder / "meetings.csv")
    assert len(contacts) == 3 and len(meetings) == 2
    by_address = {row["address"]: row for row in contacts}
    assert by_address["evil@example.com"]["name"] == "'" + HOSTILE
    assert by_address["ben@example.net"]["name"] == "Ben Okafor"  # CR/LF made a space
    assert by_address["carla@example.org"]["name"] == "Carla <b>Mendes</b>"  # markup is only text here
    assert by_address["carla@example.org"]["do_not_contact"] == "yes"
    assert by_address["ben@example.net"]["notes"] == "met at the meetup\n=1+1 on line two"
    coffee = next(row for row in meetings if row["id"] == str(world.ids["coffee"]))
    assert coffee["summary"] == "'@SUM(1+1) coffee with Ben"
    assert coffee["start (Europe/Berlin)"] == "2031-03-12 16:00"
    assert (coffee["counterpart"], coffee["steps_sent"], coffee["steps_pending"]) == (
        "ben@example.net",
        "1",
        "1",
    )
    assert coffee["attachments"] == "ben-resume.pdf"
    odd = next(row for row in meetings if row["id"] == str(world.ids["odd"]))
    assert odd["summary"] == "'-2+3" and odd["counterpart_name"] == "'" + HOSTILE
    for row in contacts + meetings:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
            assert "\r" not in cell


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+49 30 1234", "'+49 30 1234"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Ana = Ben", "Ana = Ben"),
        ("", ""),
    ],
)
def test_spreadsheet_safe(cell: str, safe: str) -> None:
    assert spreadsheet_safe(cell) == safe


# -- backup -----------------------------------------------------------------------


def _check_copy(path: Path) -> sqlite3.Connection:
    copy = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert copy.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] >= 1
    assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
    return copy


def test_backup_while_another_connection_writes(world: World) -> None:
    stop, written = threading.Event(), [0]
    writer = world.store()

    def write() -> None:
        while not stop.is_set():
            with writer.transaction() as tx:
                tx.upsert_contact(f"writer{written[0]}@example.org", "Writer")
            written[0] += 1

    thread = threading.Thread(target=write)
    thread.start()
    try:
        while written[0] < 20:
            stop.wait(0.01)
        target = world.folder / "copy.db"
        code, output = world.cli("backup", str(target))
        during = written[0]
    finally:
        stop.set()
        thread.join()
        writer.close()
    assert code == 0, output
    assert f"copied {world.data / 'mailflow.db'} to {target}" in output and "integrity ok" in output
    assert written[0] >= during >= 20
    with _check_copy(target) as copy:
        found = copy.execute("SELECT count(*) FROM contacts WHERE address LIKE 'writer%'").fetchone()[0]
        assert 20 <= found <= written[0]
        assert copy.execute("SELECT name FROM contacts WHERE address = 'ben@example.net'").fetchone()
    assert sorted(p.name for p in world.folder.iterdir() if p.name.startswith(".copy")) == []  # no temp left
    copy_store = Store.open(f"sqlite:///{target}")  # the copy is a mailflow database
    with copy_store.read() as tx:
        assert tx.find_contact("carla@example.org") is not None
    copy_store.close()


def test_backup_while_a_write_transaction_is_open(world: World) -> None:
    holder = world.store()
    target = world.folder / "copy.db"
    with holder.transaction() as tx:  # the daemon in the middle of a batch
        tx.upsert_contact("uncommitted@example.org")
        code, output = world.cli("backup", str(target), "--json")
    holder.close()
    assert code == 0, output
    report = json.loads(output)
    assert report["integrity"] == "ok" and report["rows"]["contacts"] == 3 and report["size"] > 0
    with _check_copy(target) as copy:
        assert copy.execute("SELECT count(*) FROM contacts").fetchone()[0] == 3  # as it was when it began


def test_backup_never_overwrites_without_force(world: World) -> None:
    target = world.folder / "copy.db"
    target.write_bytes(b"yesterday's copy")
    code, output = world.cli("backup", str(target))
    assert code == 2 and "exists" in output and "--force" in output
    assert target.read_bytes() == b"yesterday's copy"
    code, output = world.cli("backup", str(target), "--force")
    assert code == 0, output
    _check_copy(target).close()
    code, output = world.cli("backup", str(world.data / "mailflow.db"), "--force")
    assert code == 2 and "the database itself" in output
    code, output = world.cli("backup", str(world.folder / "missing" / "copy.db"))
    assert code == 2 and "does not exist" in output


def test_backup_points_postgresql_at_pg_dump(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    with config.open("a", encoding="utf-8") as handle:
        handle.write('[database]\nurl = "postgresql+psycopg://ana:secret@db.example.org/mailflow"\n')
    result = run_cli(["--config", str(config), "backup", str(tmp_path / "copy.db")])
    assert result.exit_code == 2
    assert "pg_dump" in result.output and "secret" not in result.output
    assert not (tmp_path / "copy.db").exists()


# -- [owner] keep_files --------------------------------------------------------------


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def retention_log() -> Iterator[Collect]:
    configure_for_tests()  # no handler left behind by an earlier command, writing to a closed stream
    logger, handler = logging.getLogger("mailflow.retention"), Collect()
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.INFO
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_keep_files_deletes_only_old_files_and_keeps_shared_ones(
    world: World, retention_log: Collect
) -> None:
    store = world.store()
    later = T0 + timedelta(days=200)
    clock.set_now(later)
    with store.transaction() as tx:  # the same résumé sent again: the same file, a newer row
        again = save(world.data, "ben-resume.pdf", RESUME)
        tx.add_attachment(
            again.path, contact_id=world.ids["ben"], filename=again.filename, sha256=again.sha256
        )
        fresh = save(world.data, "new.pdf", b"sent later")
        tx.add_attachment(fresh.path, contact_id=world.ids["evil"], filename=fresh.filename)
    clock.set_now(None)
    with store.read() as tx:
        portfolio = tx.list_attachments(contact_id=world.ids["carla"])[0]

    done = expire_files(store, world.data, timedelta(days=100), T0 + timedelta(days=150))
    assert [d.filenames for d in done] == [("portfolio.pdf",)]  # the résumé's newest copy is not that old
    assert not (world.data / portfolio.path).exists() and (world.data / again.path).exists()
    assert (world.data / fresh.path).exists()

    done = expire_files(store, world.data, timedelta(days=100), later + timedelta(days=101), setting="100d")
    assert sorted(d.filenames for d in done) == [("ben-resume.pdf",), ("new.pdf",)]
    resume = next(d for d in done if d.filenames == ("ben-resume.pdf",))
    assert len(resume.attachment_ids) == 2 and resume.meeting_ids == (world.ids["coffee"],)
    assert not (world.data / again.path).exists()
    assert not any(p.is_file() for p in (world.data / "attachments").rglob("*"))
    assert expire_files(store, world.data, timedelta(days=100), later + timedelta(days=500)) == []  # once

    with store.read() as tx:
        rows = tx.list_attachments()
        assert {r.filename for r in rows} == {"ben-resume.pdf", "portfolio.pdf", "new.pdf"}  # still on record
        assert {r.path for r in rows} == {""}
        logged = [m for m in tx.list_messages() if m.kind == KIND]
    assert len(logged) == 4  # one per attachment row
    assert {m.meeting_id for m in logged} == {world.ids["coffee"], None}
    assert "ben-resume.pdf deleted: [owner] keep_files = 100d" in {m.subject for m in logged}
    store.close()

    assert any("portfolio.pdf (contact c" in line for line in retention_log.lines)
    assert any(f"ben-resume.pdf (meeting {world.ids['coffee']}" in line for line in retention_log.lines)
    assert not any(str(world.folder) in line for line in retention_log.lines)  # names, never paths

    code, output = world.cli("show", str(world.ids["coffee"]))
    assert code == 0 and "file_deleted: ben-resume.pdf deleted" in output
    code, output = world.cli("export", "json")
    coffee = next(m for m in json.loads(output)["meetings"] if m["id"] == world.ids["coffee"])
    assert (
        coffee["attachments"][0]["path"] is None and coffee["attachments"][0]["filename"] == "ben-resume.pdf"
    )


def test_keep_files_runs_once_a_day_from_the_routine(world: World, retention_log: Collect) -> None:
    settings = load_settings(write_config(world.folder, 'keep_files = "1y"\n'))
    store = world.store()
    sink = MemorySink()
    engine = Engine(settings, store, source=MemorySource(), sinks=Sinks(sink, sink, sink))
    dry = Engine(settings, store, source=MemorySource(), sinks=Sinks(sink, sink, sink), dry_run=True)
    year_on = T0 + timedelta(days=366)
    try:
        clock.set_now(year_on)
        dry.routine()  # a dry run deletes nothing
        with store.read() as tx:
            assert all(a.path for a in tx.list_attachments()) and tx.kv_get(LAST_RUN) is None

        report = engine.routine()
        assert not [e for e in report.errors if e.startswith("retention")]
        with store.read() as tx:
            assert {a.path for a in tx.list_attachments()} == {""}
            last = datetime.fromisoformat(tx.kv_get(LAST_RUN) or "")
            assert timedelta(0) <= last - year_on < timedelta(minutes=1)  # the clock moves on from --now

        clock.set_now(T0)  # one more old file appears (a restored row, say)
        with store.transaction() as tx:
            late = save(world.data, "late.pdf", b"late")
            tx.add_attachment(late.path, contact_id=world.ids["ben"], filename=late.filename)
        clock.set_now(year_on + timedelta(hours=23))
        engine.routine()
        assert (world.data / late.path).exists()  # not twice within a day
        clock.set_now(year_on + timedelta(days=1, minutes=1))
        engine.routine()
        assert not (world.data / late.path).exists()
    finally:
        engine.close()
        dry.close()
        store.close()
    assert sum("late.pdf" in line for line in retention_log.lines) == 1


def test_keep_files_default_is_forever(world: World) -> None:
    settings = load_settings(world.config)
    assert settings.owner.keep_files == "" and parse_keep("") is None
    store = world.store()
    sink = MemorySink()
    engine = Engine(settings, store, source=MemorySource(), sinks=Sinks(sink, sink, sink))
    try:
        clock.set_now(T0 + timedelta(days=3650))
        engine.routine()
        with store.read() as tx:
            assert all(a.path for a in tx.list_attachments()) and tx.kv_get(LAST_RUN) is None
    finally:
        engine.close()
        store.close()


@pytest.mark.parametrize(
    ("text", "days"), [("90d", 90), ("12w", 84), ("18mo", 540), ("2y", 730), (" 1y ", 365)]
)
def test_keep_files_takes_days_to_years(text: str, days: int) -> None:
    assert parse_keep(text) == timedelta(days=days)


@pytest.mark.parametrize("text", ["18m", "3h", "0d", "2 years", "-1y"])
def test_keep_files_refuses_what_would_delete_too_soon_or_is_unclear(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config(tmp_path, f'keep_files = "{text}"\n'))
    assert "owner.keep_files" in str(caught.value.problems)
