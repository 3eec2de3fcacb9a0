"""Notes about a contact on the command line: `show` prints them (hostile text made harmless), `forget` removes them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

from mailflow.store import Store
from mailflow.store.rows import MeetingData
from mailflow.store.schema import metadata
from tests.cli_helpers import run_cli

NOTED = datetime(2031, 3, 1, 8, 30, tzinfo=UTC)
START = datetime(2031, 3, 12, 15, 0, tzinfo=UTC)
SECRET = "Ben is moving to Lisbon in May"
HOSTILE = "[bold red]not markup[/] \x1b[31mred\x1b[0m\u202eevil\nsecond line"


@pytest.fixture
def world(tmp_path: Path) -> dict[str, object]:
    data = tmp_path / "data"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[owner]\nname = "Ana"\naddresses = ["ana@example.org"]\ntimezone = "Europe/Berlin"\n'
        f'[data]\nfolder = "{data}"\n',
        encoding="utf-8",
    )
    url = f"sqlite:///{data / 'mailflow.db'}"
    store = Store.open(url)
    with time_machine.travel(NOTED, tick=False), store.transaction() as tx:
        ben = tx.upsert_contact("ben@example.net", "Ben Okafor")
        carla = tx.upsert_contact("carla@example.net", "Carla")
        meeting, _ = tx.upsert_meeting(
            MeetingData(
                ical_uid="coffee-1@example.net", start_at=START, summary="Coffee", counterpart_id=ben.id
            )
        )
        tx.add_contact_note(ben.id, SECRET, message_id="<fwd1@example.org>")
        tx.add_contact_note(carla.id, "Carla's own note")
    with time_machine.travel(NOTED + timedelta(days=1), tick=False), store.transaction() as tx:
        tx.add_contact_note(ben.id, HOSTILE, source="cli")
        tx.queue_owner_mail(
            "acknowledge", "acknowledge:1", due_at=NOTED, meeting_id=meeting.id, contact_id=ben.id
        )
    store.close()
    return {"config": str(config), "url": url, "ben": ben.id, "carla": carla.id}


def cli(world: dict[str, object], *args: str, input: str | None = None) -> tuple[int, str]:
    result = run_cli(["--config", str(world["config"]), "--now", "2031-03-10T09:00:00Z", *args], input=input)
    return result.exit_code, result.output


def test_show_prints_the_contact_notes_oldest_first(world: dict[str, object]) -> None:
    code, output = cli(world, "show", "ben@example.net")
    assert code == 0, output
    assert "Notes about Ben Okafor" in output
    assert f"Sat 2031-03-01 09:30 CET (mail): {SECRET}" in output
    assert output.index(SECRET) < output.index("not markup") < output.index("Coffee")
    assert "Carla's own note" not in output


def test_show_prints_hostile_notes_as_plain_text(world: dict[str, object]) -> None:
    code, output = cli(world, "show", "c" + str(world["ben"]))
    assert code == 0, output
    assert "(cli): [bold red]not markup[/]" in output  # markup shown as written, not applied
    assert "\x1b" not in output and "\u202e" not in output
    assert " [31mred [0m evil" in output  # the control characters made spaces
    assert "\n      second line" in output  # a further line of the note, indented under it


def test_show_json_has_the_contact_notes(world: dict[str, object]) -> None:
    code, output = cli(world, "show", "ben@example.net", "--json")
    assert code == 0, output
    data = json.loads(output)
    assert data["contact_notes"] == [
        {"at": "2031-03-01T08:30:00+00:00", "source": "mail", "text": SECRET},
        {"at": "2031-03-02T08:30:00+00:00", "source": "cli", "text": HOSTILE},
    ]
    assert data["contact"]["address"] == "ben@example.net"
    code, output = cli(world, "show", "carla@example.net", "--json")
    assert [n["text"] for n in json.loads(output)["contact_notes"]] == ["Carla's own note"]


def test_a_contact_without_notes_shows_no_heading(world: dict[str, object]) -> None:
    with Store(str(world["url"])) as store, store.transaction() as tx:
        tx.upsert_contact("dora@example.net", "Dora")
    code, output = cli(world, "show", "dora@example.net")
    assert code == 0, output
    assert "Notes about" not in output
    assert json.loads(cli(world, "show", "dora@example.net", "--json")[1])["contact_notes"] == []


def test_forget_removes_the_contact_notes(world: dict[str, object]) -> None:
    code, output = cli(world, "forget", "ben@example.net", "--yes")
    assert code == 0, output
    assert "forgot Ben Okafor <ben@example.net> (2 note(s) about them and 0 file(s) deleted)" in output
    with Store(str(world["url"])) as store, store.read() as tx:
        assert tx.find_contact("ben@example.net") is None
        assert tx.list_contact_notes(int(str(world["ben"]))) == []
        assert tx.list_owner_mail() == []
        assert [n.text for n in tx.list_contact_notes(int(str(world["carla"])))] == ["Carla's own note"]
        stored = [
            value
            for table in metadata.sorted_tables
            for row in tx.connection.execute(select(table))
            for value in row
            if isinstance(value, str)
        ]
    assert not [value for value in stored if SECRET in value or "not markup" in value]
    code, output = cli(world, "show", "ben@example.net")
    assert code == 2 and 'there is no contact "ben@example.net"' in output


def test_forget_json_counts_the_notes(world: dict[str, object]) -> None:
    code, output = cli(world, "forget", "carla@example.net", "--yes", "--json")
    assert code == 0, output
    data = json.loads(output)
    assert (data["ok"], data["notes_deleted"], data["files_deleted"]) == (True, 1, 0)
