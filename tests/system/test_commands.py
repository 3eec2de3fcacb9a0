"""The everyday commands against a real SQLite store: records, show, upcoming, and the steering ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailflow.store import Store
from mailflow.store.rows import MeetingData
from tests.cli_helpers import run_cli

START = datetime(2031, 3, 12, 15, 0, tzinfo=UTC)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    data = tmp_path / "data"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[owner]\nname = "Ana"\naddresses = ["ana@example.org"]\ntimezone = "Europe/Berlin"\n'
        f'[data]\nfolder = "{data}"\n',
        encoding="utf-8",
    )
    store = Store.open(f"sqlite:///{data / 'mailflow.db'}")
    with store.transaction() as tx:
        ben = tx.upsert_contact("Ben@Example.net", "Ben Okafor")
        meeting, _ = tx.upsert_meeting(
            MeetingData(
                ical_uid="coffee-1@example.net",
                start_at=START,
                end_at=START + timedelta(minutes=30),
                summary="Coffee with Ben",
                counterpart_id=ben.id,
                trusted=False,
            )
        )
        pending, _ = tx.plan_step(meeting.id, "homework_brief", 0, START - timedelta(hours=8), "send")
        failed, _ = tx.plan_step(meeting.id, "prep_request", 0, START - timedelta(days=2), "send")
        tx.claim_step(failed.id, "<f1@example.org>")
        tx.mark_failed(failed.id, "550 mailbox unavailable")
        (data / "attachments").mkdir(parents=True)
        (data / "attachments" / "cv.pdf").write_bytes(b"%PDF-1.4")
        tx.add_attachment(
            "attachments/cv.pdf", meeting_id=meeting.id, contact_id=ben.id, filename="cv.pdf", size=8
        )
    store.close()
    return {
        "config": str(config),
        "meeting": meeting.id,
        "pending": pending.id,
        "failed": failed.id,
        "data": data,
    }


def cli(world: dict[str, object], *args: str, input: str | None = None) -> tuple[int, str]:
    result = run_cli(["--config", str(world["config"]), "--now", "2031-03-10T09:00:00Z", *args], input=input)
    return result.exit_code, result.output


def test_records_and_show(world: dict[str, object]) -> None:
    code, output = cli(world, "records", "--json")
    assert code == 0, output
    data = json.loads(output)
    assert data["contacts"][0]["address"] == "ben@example.net"
    assert data["meetings"][0]["summary"] == "Coffee with Ben"
    code, output = cli(world, "show", str(world["meeting"]), "--json")
    detail = json.loads(output)
    assert {s["step"]: s["state"] for s in detail["steps"]} == {
        "homework_brief": "pending",
        "prep_request": "failed",
    }
    assert detail["attachments"][0]["filename"] == "cv.pdf"
    code, output = cli(world, "show", "ben@example.net")
    assert code == 0
    assert "Coffee with Ben" in output
    assert "mailflow confirm" in output  # untrusted: it waits for the owner


def test_upcoming_lists_pending_steps(world: dict[str, object]) -> None:
    code, output = cli(world, "upcoming", "--days", "3", "--json")
    assert code == 0, output
    data = json.loads(output)
    assert [s["step"] for s in data["steps"]] == ["homework_brief"]
    assert [m["id"] for m in data["meetings"]] == [world["meeting"]]


def test_skip_retry_and_their_refusals(world: dict[str, object]) -> None:
    code, output = cli(world, "retry", str(world["pending"]))
    assert code == 2 and "only failed or uncertain" in output
    code, _ = cli(world, "retry", str(world["failed"]))
    assert code == 0
    code, _ = cli(world, "skip", str(world["pending"]))
    assert code == 0
    code, output = cli(world, "show", str(world["meeting"]), "--json")
    states = {s["step"]: s["state"] for s in json.loads(output)["steps"]}
    assert states == {"homework_brief": "skipped", "prep_request": "pending"}
    code, output = cli(world, "skip", "999")
    assert code == 2 and "there is no step 999" in output


def test_pause_resume_confirm_note_role_counterpart(world: dict[str, object]) -> None:
    m = str(world["meeting"])
    assert cli(world, "pause")[0] == 0
    assert json.loads(cli(world, "status", "--json")[1])["paused"] is True
    assert cli(world, "resume")[0] == 0
    assert json.loads(cli(world, "status", "--json")[1])["paused"] is False
    assert cli(world, "pause", m)[0] == 0
    assert cli(world, "confirm", m)[0] == 0
    assert cli(world, "note", m, "Read 'Working in Public'; ask Dana about the PM role")[0] == 0
    assert cli(world, "meeting", "role", m, "adviser")[0] == 0
    assert cli(world, "meeting", "counterpart", m, "carla@example.com")[0] == 0
    detail = json.loads(cli(world, "show", m, "--json")[1])
    assert detail["paused"] and detail["confirmed"]
    assert detail["role"] == "adviser"
    assert detail["counterpart"] == "carla@example.com"
    assert detail["notes"][0]["text"].startswith("Read 'Working in Public'")
    code, output = cli(world, "meeting", "role", m, "boss")
    assert code == 2 and 'the role is "seeker" or "adviser"' in output


def test_forget_deletes_records_and_files_after_confirmation(world: dict[str, object]) -> None:
    code, _ = cli(world, "forget", "ben@example.net", input="n\n")
    assert code == 1
    assert (Path(str(world["data"])) / "attachments" / "cv.pdf").exists()
    code, output = cli(world, "forget", "ben@example.net", input="y\n")
    assert code == 0, output
    assert not (Path(str(world["data"])) / "attachments" / "cv.pdf").exists()
    data = json.loads(cli(world, "records", "--json")[1])
    assert data == {"contacts": [], "meetings": []}


def test_status_shows_what_needs_attention(world: dict[str, object]) -> None:
    code, output = cli(world, "status", "--json")
    assert code == 0, output
    data = json.loads(output)
    assert [s["state"] for s in data["needs_attention"]] == ["failed"]
    assert data["next_step"]["step"] == "homework_brief"
    code, output = cli(world, "status")
    assert "mailflow retry" in output
