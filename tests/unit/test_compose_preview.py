"""`mailflow preview STEP MEETING` and `mailflow export ics`, over a real SQLite store in a temp folder."""

from __future__ import annotations

import email
import email.policy
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar

from mailflow.store import MeetingData, Store
from tests.cli_helpers import run_cli

START = datetime(2031, 3, 12, 15, 0, tzinfo=UTC)
NOW = "2031-03-10T09:00:00Z"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    for key in list(os.environ):
        if key.startswith("MAILFLOW_"):
            monkeypatch.delenv(key)
    data = tmp_path / "data"
    config = tmp_path / "config.toml"
    config.write_text(
        '[owner]\nname = "Ana Lima"\naddresses = ["ana@example.org"]\ntimezone = "Europe/Berlin"\n'
        f'[data]\nfolder = "{data}"\n',
        encoding="utf-8",
    )
    store = Store.open(f"sqlite:///{data / 'mailflow.db'}")
    with store.transaction() as tx:
        ben = tx.upsert_contact("ben@example.net", "Ben Okafor")
        meeting, _ = tx.upsert_meeting(
            MeetingData(
                ical_uid="coffee-1@example.net",
                start_at=START,
                end_at=START + timedelta(minutes=30),
                summary="Coffee with Ben",
                counterpart_id=ben.id,
                role="adviser",
                trusted=True,
            )
        )
        tx.plan_step(meeting.id, "prep_request", 0, START - timedelta(days=2), "send")
        tx.plan_step(meeting.id, "follow_up", 0, START + timedelta(days=60), "draft")
        tx.add_attachment(
            "attachments/cv.pdf", meeting_id=meeting.id, contact_id=ben.id, filename="Ben CV.pdf"
        )
        past, _ = tx.upsert_meeting(
            MeetingData(
                ical_uid="old@example.net",
                start_at=START - timedelta(days=90),
                summary="Old",
                counterpart_id=ben.id,
            )
        )
    store.close()
    return {"config": str(config), "meeting": meeting.id, "past": past.id, "tmp": tmp_path}


def cli(world: dict[str, object], *args: str) -> tuple[int, str]:
    result = run_cli(["--config", str(world["config"]), "--now", NOW, *args])
    return result.exit_code, result.output


def test_preview_prints_headers_text_and_attachments(world: dict[str, object]) -> None:
    code, output = cli(world, "preview", "follow_up", str(world["meeting"]))
    assert code == 0, output
    assert output.startswith(f"# follow_up for meeting {world['meeting']} (pending, due ")
    assert "saved as a draft for you to send" in output
    assert "From: Ana Lima <ana@example.org>" in output
    assert "To: Ben Okafor <ben@example.net>" in output
    assert "What information or advice from our conversation resonated with you?" in output
    assert "--- attachment: invite.ics (application/ics, " in output
    assert "REQUEST Coffee with Ben: " in output and "asks ben@example.net to accept" in output


def test_preview_of_an_owner_step_shows_the_html_as_text(world: dict[str, object]) -> None:
    code, output = cli(world, "preview", "homework_brief", f"m{world['meeting']}")
    assert code == 0, output
    assert "(not planned, due not planned yet)" in output
    assert "Auto-Submitted: auto-generated" in output
    assert "--- HTML, as text ---" in output and "Ben CV.pdf" in output


def test_preview_json_and_raw_agree(world: dict[str, object]) -> None:
    code, output = cli(world, "preview", "prep_request", str(world["meeting"]), "--json")
    assert code == 0, output
    data = json.loads(output)
    headers = dict(data["headers"])
    assert headers["To"] == "Ben Okafor <ben@example.net>" and data["state"] == "pending"
    assert "résumé" in data["text"] and data["attachments"] == []
    code, raw = cli(world, "preview", "prep_request", str(world["meeting"]), "--raw")
    message = email.message_from_string(raw, policy=email.policy.default)
    assert message["To"] == headers["To"] and message["Subject"] == headers["Subject"]


def test_preview_refuses_an_unknown_step_or_meeting(world: dict[str, object]) -> None:
    code, output = cli(world, "preview", "thanks", str(world["meeting"]))
    assert code == 2 and '"thanks" is not a step' in output
    code, output = cli(world, "preview", "thank_you", "999")
    assert code == 2 and "there is no meeting 999" in output


def test_a_broken_template_is_one_sentence_not_a_traceback(world: dict[str, object]) -> None:
    folder = Path(str(world["tmp"])) / "templates"
    folder.mkdir()
    (folder / "thank_you.txt").write_text("Subject: x\n\n{{ contact.nmae }}\n", encoding="utf-8")
    result = run_cli(
        [
            "--config",
            str(world["config"]),
            "--set",
            f'templates.folder="{folder}"',
            "preview",
            "thank_you",
            str(world["meeting"]),
        ]
    )
    assert result.exit_code == 1
    assert "line 3: contact.nmae is not a template variable (did you mean contact.name?)" in result.output
    assert "Traceback" not in result.output


def test_export_ics_writes_upcoming_meetings_and_pending_steps(world: dict[str, object]) -> None:
    path = Path(str(world["tmp"])) / "feed.ics"
    code, output = cli(world, "export", "ics", str(path))
    assert code == 0, output
    assert "wrote 1 meetings and 2 pending steps" in output
    cal = Calendar.from_ical(path.read_bytes())
    summaries = [str(e["SUMMARY"]) for e in cal.walk("VEVENT")]
    assert summaries == ["Coffee with Ben", "Prep request to Ben Okafor", "Follow-up to Ben Okafor"]
    assert cal.walk("VEVENT")[0]["DTSTART"].dt == START
    code, printed = cli(world, "export", "ics")
    assert code == 0 and printed.startswith("BEGIN:VCALENDAR")


def test_export_ics_to_a_missing_folder_is_a_usage_error(world: dict[str, object]) -> None:
    code, output = cli(world, "export", "ics", str(Path(str(world["tmp"])) / "nope" / "feed.ics"))
    assert code == 2 and "does not exist" in output
