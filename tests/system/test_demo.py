"""The quick start's first command: `mailflow demo` runs the real engine over the sample story."""

from __future__ import annotations

import json
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("demo") / "run"
    result = run_cli(["demo", "--folder", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.output)
    return data


def _events(data: dict[str, object], kind: str) -> list[str]:
    return [e["text"] for e in data["events"] if e["kind"] == kind]  # type: ignore[index, union-attr]


def test_every_sample_is_understood(demo_run: dict[str, object]) -> None:
    understood = _events(demo_run, "understood")
    kinds = [text.split()[0] for text in understood]
    assert kinds == ["invite", "invite", "contact_reply", "request", "invite", "owner_notes", "cancel"]
    assert _events(demo_run, "error") == []


def test_the_playbook_fires_in_order(demo_run: dict[str, object]) -> None:
    steps = [text.split()[0] for text in _events(demo_run, "step")]
    ben = [t for t in _events(demo_run, "step") if "ben.okafor" in t or "ana@" in t]
    assert steps.count("prep_request") == 3  # Ben, Carla, and Dana (before her cancellation)
    assert steps.count("summary_prompt") == 2  # Dana's meeting was cancelled: no prompt for it
    assert steps.count("follow_up") == 2
    assert ben[0].startswith("prep_request")
    # the thank-you waits for the notes: it follows Ana's reply to the summary prompt
    texts = [e["text"] for e in demo_run["events"]]  # type: ignore[union-attr, index]
    notes = next(i for i, t in enumerate(texts) if t.startswith("owner_notes"))
    thanks = next(i for i, t in enumerate(texts) if t.startswith("thank_you to ben"))
    assert thanks > notes


def test_each_step_is_a_file_in_the_outbox(demo_run: dict[str, object]) -> None:
    outbox = Path(str(demo_run["outbox"]))
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == len(_events(demo_run, "step")) + len(_events(demo_run, "to_owner"))
    assert _events(demo_run, "to_owner") == ["acknowledge to ana@example.org"]  # Dana's forwarded request
    ids = set()
    for path in files:
        message = message_from_bytes(path.read_bytes(), policy=default)
        ids.add(message["Message-ID"])
        assert message["From"] and message["To"] and message["Subject"]
    assert len(ids) == len(files)  # nothing sent twice
    assert str(outbox).startswith(str(demo_run["folder"]))


def test_the_resume_was_saved_under_the_data_folder(demo_run: dict[str, object]) -> None:
    folder = Path(str(demo_run["folder"]))
    saved = [p for p in (folder / "data").rglob("*.pdf")]
    assert len(saved) == 1
    assert saved[0].read_bytes().startswith(b"%PDF")


def test_demo_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x")
    result = run_cli(["demo", "--folder", str(tmp_path)])
    assert result.exit_code == 2
    assert "not empty" in result.output
